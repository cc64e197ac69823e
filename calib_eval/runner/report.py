"""Rows -> metric values -> results payload and a rich table."""
from __future__ import annotations

import platform
import warnings
from datetime import datetime, timezone

import numpy as np

from calib_eval import __version__
from calib_eval.conformal import abstention_record
from calib_eval.metrics import recalibrated_summary, reliability_curve, summarize
from calib_eval.metrics.calibration import ECE_CONVENTION  # results-file ECE; paper claims use top_label
from calib_eval.metrics.recalibration import RECALIBRATION
from calib_eval.metrics.extended import extended_summary
from calib_eval.provenance import portable, portable_name, record
from calib_eval.results import KIND, SCHEMA_VERSION
from calib_eval.runner.abstention import abstention_entry

def scorer_metrics(scores, correct, is_probability: bool, n_bins: int, bootstrap: int,
                   abstain_alpha: float | None = None, abstain_delta: float = 0.1) -> dict:
    """One scorer's results entry.

    Two ECE/Brier pairs: ``ece_raw``/``brier_raw`` score probabilities as
    produced (None for raw scores); ``ece``/``brier`` score every scorer after
    the same recalibration (Platt on the score, or on logit(p), 2-fold
    cross-fit, refitted inside each bootstrap resample), the comparable column.
    """
    s = np.asarray(scores, dtype=np.float64)
    y = np.asarray(correct, dtype=bool)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")  # one-class AUROC: NaN is recorded with its reason below
        ranking = summarize(s, y, is_probability=False, n_bins=n_bins, bootstrap=bootstrap)
        raw = summarize(s, y, True, n_bins=n_bins, bootstrap=bootstrap) if is_probability else None
        recal = recalibrated_summary(s, y, is_probability, n_bins=n_bins, bootstrap=bootstrap)
        recal_probs = recal["probabilities"] if recal else None
        probs = s if is_probability else recal_probs  # extended metrics: as produced where there is one
        extended = extended_summary(s, y, probs, n_bins=n_bins, bootstrap=bootstrap)  # PRR, AUPRC, NLL, smECE ...
    recalibration = RECALIBRATION + (" on logit(p)" if is_probability else " on the score")
    entry = {
        "is_probability": is_probability,
        "recalibration": recalibration if recal else "unavailable (a class has < 2 items)",
        "calibration": recalibration if recal else "unavailable (a class has < 2 items)",  # pre-v2 key
        "ece_convention": ECE_CONVENTION,
        "auroc": ranking["auroc"], "aurc": ranking["aurc"],
        "ece": recal["ece"] if recal else None, "brier": recal["brier"] if recal else None,
        "ece_raw": raw["ece"] if raw else None, "brier_raw": raw["brier"] if raw else None,
        **extended,
        "conformal_abstention": (abstention_record(s, y, is_probability, abstain_alpha, abstain_delta)
                                 if abstain_alpha is not None and len(y) >= 2 else None),
        "reliability": _reliability(recal_probs, y, n_bins),
        "reliability_raw": _reliability(s, y, n_bins) if is_probability else None,
    }
    if len(set(y.tolist())) < 2:
        entry["note"] = f"AUROC undefined: all {len(y)} items are {'correct' if y.all() else 'wrong'}"
    return entry


def _reliability(probs, y: np.ndarray, n_bins: int) -> dict | None:
    if probs is None:
        return None
    curve = reliability_curve(probs, y, n_bins=n_bins)
    return {"bin_edges": curve.bin_edges.tolist(), "mean_confidence": _nan_none(curve.mean_confidence),
            "accuracy": _nan_none(curve.accuracy), "count": curve.count.tolist()}


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
        "package_version": __version__, "provenance": record(), "task": task,
        # no absolute local paths: a hub id stays, a folder becomes ~/..., cwd-relative or its name
        "model": {"name": portable_name(loaded.name), "source": portable(loaded.source),
                  "fingerprint": loaded.fingerprint, "device": loaded.device, "dtype": loaded.dtype},
        "hardware": hardware(), "config": portable(config), "n": len(rows), "accuracy": acc,
        # empty answers are graded wrong; the count says how often the model said nothing
        "empty_answers": sum(1 for r in rows if not r["answer"].strip()),
        "scorers": per_scorer, "timings": timings,
        **abstention_entry(rows, scorers, bootstrap),  # SelfAware: abstention beside correctness
    }


def _adapter_identity(adapters, name: str):
    if adapters is None or not adapters.has(name):
        return None
    card = adapters.cards[name]
    return {"path": portable(adapters.folders[name]), "method": card.get("method"),
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
    table = Table(title=f"{payload['task']} | {payload['model']['name']} | n={payload['n']} | acc {format_entry(acc)}{empty}",
                  caption=_recalibration_caption(payload))
    table.add_column("scorer", no_wrap=True)
    conformal = any(e.get("conformal_abstention") for e in payload["scorers"].values())
    # "ECE recal." is the comparable column (same map for every scorer); "ECE raw" only exists for probabilities
    for column in ("ECE recal.", "ECE raw", "AUROC", "Brier recal.", "AURC", "PRR",
                   *(("abstain cov / risk",) if conformal else ())):
        table.add_column(column)
    for name, e in payload["scorers"].items():
        cells = [format_entry(e["ece"]), format_entry(e.get("ece_raw")), format_entry(e["auroc"]),
                 format_entry(e["brier"]), format_entry(e["aurc"]), format_entry(e.get("prr"))]
        table.add_row(name, *cells, *((format_conformal(e.get("conformal_abstention")),) if conformal else ()))
    return table


def _recalibration_caption(payload: dict) -> str:
    """Says which ECE is comparable: older results (no 'recalibration' key) scored probabilities as given."""
    entry = next(iter(payload["scorers"].values()), {})
    if "recalibration" not in entry:
        return "ECE: probabilities as produced, raw scores Platt-mapped (pre-v2 results: not comparable)"
    return (f"ECE recal.: every scorer after {RECALIBRATION} (rank on this); ECE raw: as produced; "
            f"{entry.get('ece_convention', 'p_correct')} convention")


def format_conformal(record) -> str:
    """'0.42 / 0.08' (coverage / realised risk on the test half) for a conformal abstention record."""
    if not record:
        return "-"
    risk = "-" if record["risk"] is None else f"{record['risk']:.2f}"
    return f"{record['coverage']:.2f} / {risk}"
