"""Rows -> metric values -> results payload and a rich table."""
from __future__ import annotations

import platform
import warnings
from datetime import datetime, timezone

import numpy as np

from calib_eval import __version__
from calib_eval.conformal import abstention_record
from calib_eval.metrics import fit_platt, reliability_curve, summarize
from calib_eval.metrics.extended import extended_summary
from calib_eval.results import KIND, SCHEMA_VERSION
from calib_eval.runner.abstention import abstention_entry


def crossfit_platt(scores: np.ndarray, correct: np.ndarray, seed: int = 0) -> np.ndarray | None:
    """Probabilities for raw scores from a Platt map fitted on the *other* half.

    Two folds, each mapped by a map fitted on the other, so no item's
    probability was fitted on its own label. The folds are stratified by
    label (each class dealt alternately), so both hold both classes whenever
    each class has 2+ items: with 3 right answers in 50, a plain random split
    left one fold all-wrong about a quarter of the time. None otherwise.
    """
    rng = np.random.default_rng(seed)
    dealt: list[list[int]] = [[], []]
    for label in (False, True):
        members = rng.permutation(np.flatnonzero(correct == label))
        dealt[0] += members[0::2].tolist()
        dealt[1] += members[1::2].tolist()
    folds = [np.array(f, dtype=int) for f in dealt]
    probs = np.empty(len(scores))
    for fit_idx, apply_idx in ((folds[0], folds[1]), (folds[1], folds[0])):
        if len(fit_idx) == 0 or len(set(correct[fit_idx].tolist())) < 2:
            return None
        probs[apply_idx] = fit_platt(scores[fit_idx], correct[fit_idx]).apply(scores[apply_idx])
    return probs


def scorer_metrics(scores, correct, is_probability: bool, n_bins: int, bootstrap: int,
                   abstain_alpha: float | None = None, abstain_delta: float = 0.1) -> dict:
    s = np.asarray(scores, dtype=np.float64)
    y = np.asarray(correct, dtype=bool)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")  # one-class AUROC: NaN is recorded with its reason below
        ranking = summarize(s, y, is_probability=False, n_bins=n_bins, bootstrap=bootstrap)
        probs = s if is_probability else crossfit_platt(s, y)
        calibrated = summarize(probs, y, True, n_bins=n_bins, bootstrap=bootstrap) if probs is not None else None
        extended = extended_summary(s, y, probs, n_bins=n_bins, bootstrap=bootstrap)  # PRR, AUPRC, NLL, smECE ...
    entry = {
        "is_probability": is_probability,
        "calibration": "none" if is_probability else ("platt, 2-fold cross-fit" if probs is not None else
                        "unavailable (a class has < 2 items)"),
        "auroc": ranking["auroc"], "aurc": ranking["aurc"],
        "ece": calibrated["ece"] if calibrated else None,
        "brier": calibrated["brier"] if calibrated else None,
        **extended,
        "conformal_abstention": (abstention_record(s, y, is_probability, abstain_alpha, abstain_delta)
                                 if abstain_alpha is not None and len(y) >= 2 else None),
        "reliability": None,
    }
    if len(set(y.tolist())) < 2:
        entry["note"] = f"AUROC undefined: all {len(y)} items are {'correct' if y.all() else 'wrong'}"
    if probs is not None:
        curve = reliability_curve(probs, y, n_bins=n_bins)
        entry["reliability"] = {
            "bin_edges": curve.bin_edges.tolist(), "mean_confidence": _nan_none(curve.mean_confidence),
            "accuracy": _nan_none(curve.accuracy), "count": curve.count.tolist(),
        }
    return entry


def _nan_none(values) -> list:
    return [None if np.isnan(v) else float(v) for v in values]


def hardware() -> str:
    import torch

    if torch.cuda.is_available():
        return f"{torch.cuda.get_device_name(0)} x{torch.cuda.device_count()}"
    import os

    return f"cpu x{os.cpu_count()} ({platform.processor() or platform.machine()})"


def build_payload(task: str, loaded, config: dict, rows: list[dict], scorers: dict, adapters,
                  timings: dict, extra: dict, n_bins: int, bootstrap: int) -> dict:
    correct = [r["correct"] for r in rows]
    acc = summarize(np.asarray(correct, float), np.asarray(correct), True, n_bins, bootstrap)["accuracy"]
    per_scorer = {}
    for name, scorer in scorers.items():
        entry = scorer_metrics([r["scores"][name] for r in rows], correct, scorer.is_probability, n_bins, bootstrap,
                               config.get("abstain_alpha"), config.get("abstain_delta", 0.1))
        entry["adapter"] = _adapter_identity(adapters, name)
        entry["extra"] = extra.get(name, {})
        per_scorer[name] = entry
    return {
        "schema_version": SCHEMA_VERSION, "kind": KIND,
        "created": datetime.now(timezone.utc).isoformat(timespec="seconds"),
        "package_version": __version__, "task": task,
        "model": {"name": loaded.name, "source": loaded.source, "fingerprint": loaded.fingerprint,
                  "device": loaded.device, "dtype": loaded.dtype},
        "hardware": hardware(), "config": config, "n": len(rows), "accuracy": acc,
        # empty answers are graded wrong; the count says how often the model said nothing
        "empty_answers": sum(1 for r in rows if not r["answer"].strip()),
        "scorers": per_scorer, "timings": timings,
        **abstention_entry(rows, scorers, bootstrap),  # SelfAware: abstention beside correctness
    }


def _adapter_identity(adapters, name: str):
    if adapters is None or not adapters.has(name):
        return None
    card = adapters.cards[name]
    return {"path": adapters.folders[name], "method": card.get("method"),
            "base_fingerprint": card.get("base_fingerprint")}


def format_entry(entry) -> str:
    """'0.123 [0.10, 0.15]' for a summary entry (estimate + CI), '-' when absent."""
    if entry is None:
        return "-"
    if entry["low"] is None or entry["estimate"] != entry["estimate"]:
        return f"{entry['estimate']:.3f}"
    return f"{entry['estimate']:.3f} [{entry['low']:.2f}, {entry['high']:.2f}]"


def render_table(payload: dict):
    from rich.table import Table

    acc = payload["accuracy"]
    empty = f" | {payload['empty_answers']} empty" if payload.get("empty_answers") else ""
    table = Table(title=f"{payload['task']} | {payload['model']['name']} | n={payload['n']} | acc {format_entry(acc)}{empty}")
    table.add_column("scorer", no_wrap=True)
    conformal = any(e.get("conformal_abstention") for e in payload["scorers"].values())
    for column in ("ECE", "AUROC", "Brier", "AURC", "PRR", "ECE from", *(("abstain cov / risk",) if conformal else ())):
        table.add_column(column)
    for name, e in payload["scorers"].items():
        cells = [format_entry(e["ece"]), format_entry(e["auroc"]), format_entry(e["brier"]), format_entry(e["aurc"]),
                 format_entry(e.get("prr")), e["calibration"]]
        table.add_row(name, *cells, *((format_conformal(e.get("conformal_abstention")),) if conformal else ()))
    return table


def format_conformal(record) -> str:
    """'0.42 / 0.08' (coverage / realised risk on the test half) for a conformal abstention record."""
    if not record:
        return "-"
    risk = "-" if record["risk"] is None else f"{record['risk']:.2f}"
    return f"{record['coverage']:.2f} / {risk}"
