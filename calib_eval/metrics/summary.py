"""One call that gives a scorer's leaderboard row: every metric with a bootstrap CI."""
from __future__ import annotations

from typing import Any, Callable, Protocol

import numpy as np

from calib_eval.metrics._validation import probability_inputs, score_inputs
from calib_eval.metrics.bootstrap import bootstrap_ci
from calib_eval.metrics.calibration import expected_calibration_error
from calib_eval.metrics.ranking import roc_auc
from calib_eval.metrics.scoring import accuracy, brier_score
from calib_eval.metrics.selective import aurc


class CalibrationMap(Protocol):
    """Anything with ``apply(score) -> probabilities`` (PlattMap, TemperatureMap)."""

    def apply(self, score: Any) -> np.ndarray: ...


def _entry(metric_fn: Callable[..., float], arrays: tuple[np.ndarray, ...], bootstrap: int, seed: int) -> dict:
    """{"estimate", "low", "high", "n_valid"}; low/high are None without bootstrap."""
    if bootstrap <= 0:
        return {"estimate": float(metric_fn(*arrays)), "low": None, "high": None, "n_valid": 0}
    res = bootstrap_ci(metric_fn, *arrays, n_resamples=bootstrap, seed=seed)
    return {"estimate": res.estimate, "low": res.low, "high": res.high, "n_valid": res.n_valid}


def summarize(
    confidence_or_score: Any,
    correct: Any,
    is_probability: bool,
    n_bins: int = 10,
    bootstrap: int = 1000,
    seed: int = 0,
    calibration_map: CalibrationMap | None = None,
) -> dict[str, Any]:
    """Accuracy, ECE, AUROC, Brier and AURC with 95% percentile-bootstrap CIs.

    ECE/Brier need probabilities: they use the input when ``is_probability``,
    else ``calibration_map.apply(score)`` (fit it on a *different* split), else
    they are None. ``probability_source`` ("input", "calibration_map" or None)
    says which, so a leaderboard can label it. ECE is 10-bin uniform p_correct.
    AUROC/AURC always use the input as a ranking score.
    """
    s, y = (probability_inputs if is_probability else score_inputs)(confidence_or_score, correct, "confidence_or_score")
    probs, source = (s, "input") if is_probability else (None, None)
    if probs is None and calibration_map is not None:
        probs, source = np.asarray(calibration_map.apply(s), dtype=np.float64), "calibration_map"

    def ece(p: np.ndarray, labels: np.ndarray) -> float:
        return expected_calibration_error(p, labels, n_bins=n_bins)

    out: dict[str, Any] = {"n": int(len(y)), "probability_source": source}
    out["accuracy"] = _entry(accuracy, (y,), bootstrap, seed)
    out["auroc"] = _entry(roc_auc, (s, y), bootstrap, seed)
    out["aurc"] = _entry(aurc, (s, y), bootstrap, seed)
    out["ece"] = _entry(ece, (probs, y), bootstrap, seed) if probs is not None else None
    out["brier"] = _entry(brier_score, (probs, y), bootstrap, seed) if probs is not None else None
    return out
