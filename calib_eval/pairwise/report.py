"""Pairwise numbers -> result payload and a rich table (computation apart from display)."""
from __future__ import annotations

import warnings
from typing import Any, Callable, Sequence

import numpy as np

from calib_eval.metrics import UndefinedMetricWarning, bootstrap_ci, pairwise_accuracy, roc_auc, summarize, win_rates
from calib_eval.pairwise.pairs import Pair
from calib_eval.runner.report import format_entry

KIND = "calib-eval-pairwise"
SCHEMA_VERSION = 2  # 2: a "provenance" block (calib_eval.provenance), no absolute paths


def _with_ci(metric: Callable[..., float], arrays: tuple, bootstrap: int, seed: int) -> dict:
    """{"estimate", "low", "high", "n_valid"} like the results files; no CI when bootstrap is 0."""
    if bootstrap <= 0:
        return {"estimate": float(metric(*arrays)), "low": None, "high": None, "n_valid": 0}
    res = bootstrap_ci(metric, *arrays, n_resamples=bootstrap, seed=seed)
    return {"estimate": res.estimate, "low": res.low, "high": res.high, "n_valid": res.n_valid}


def pairwise_summary(pairs: Sequence[Pair], p_first: Sequence[float], correct: Sequence[bool],
                     bootstrap: int = 1000, seed: int = 0) -> dict[str, Any]:
    """Pairwise accuracy (CI over pairs) and the AUROC of per-item win rates (CI over items)."""
    p = np.asarray(p_first, dtype=np.float64)
    first_correct = np.array([pair.first_correct for pair in pairs])
    wins = win_rates([pair.first for pair in pairs], [pair.second for pair in pairs], p, len(correct))
    paired = ~np.isnan(wins)
    y = np.asarray(correct, dtype=bool)
    return {
        "n_pairs": len(pairs),
        "pairwise_accuracy": _with_ci(pairwise_accuracy, (p, first_correct), bootstrap, seed),
        # position bias: an untrained model often replies "1" whatever the questions
        "picks_first": float(np.mean(p > 0.5)),
        "n_items_paired": int(paired.sum()),
        "win_rate_auroc": _with_ci(roc_auc, (wins[paired], y[paired]), bootstrap, seed),
    }


def verbalized_summary(rows: Sequence[dict], n_bins: int = 10, bootstrap: int = 1000,
                       seed: int = 0) -> dict[str, Any] | None:
    """ECE/AUROC of the items' single-question `verbalized` score; None when the items have none."""
    scored = [r for r in rows if isinstance((r.get("scores") or {}).get("verbalized"), (int, float))]
    if not scored:
        return None
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", UndefinedMetricWarning)  # one-class subset: NaN, shown as such
        out = summarize([r["scores"]["verbalized"] for r in scored], [bool(r["correct"]) for r in scored],
                        is_probability=True, n_bins=n_bins, bootstrap=bootstrap, seed=seed)
    return {"n": out["n"], "ece": out["ece"], "auroc": out["auroc"]}


def render_table(payload: dict):
    from rich.table import Table

    adapter = payload["adapter"]["path"] if payload.get("adapter") else "base model"
    table = Table(title=f"pairwise | {payload['task']} | {payload['model']['name']} ({adapter})")
    table.add_column("metric", no_wrap=True)
    table.add_column("value (95% CI)")
    table.add_row("pairs (correct vs incorrect)", f"{payload['n_pairs']} from {payload['n_items']} items "
                  f"({payload['n_correct']} correct)")
    table.add_row("pairwise accuracy", format_entry(payload["pairwise_accuracy"]))
    table.add_row("replies '1'", f"{payload['picks_first']:.3f} (question 1 is correct in half the pairs)")
    table.add_row("win-rate AUROC", format_entry(payload["win_rate_auroc"]))
    verbalized = payload["verbalized"]
    if verbalized is None:
        table.add_row("verbalized ECE / AUROC", "absent: the items have no `verbalized` score")
    else:
        table.add_row(f"verbalized ECE (n={verbalized['n']})", format_entry(verbalized["ece"]))
        table.add_row(f"verbalized AUROC (n={verbalized['n']})", format_entry(verbalized["auroc"]))
    return table
