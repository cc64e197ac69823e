"""One call that gives a scorer's leaderboard row: every metric with a bootstrap CI.

Intervals are BCa (:mod:`calib_eval.metrics.bootstrap`) except ECE's, which
target the population binned ECE by test inversion
(:mod:`calib_eval.metrics.ece_interval`: BCa of the upward-biased plug-in
undercovers); every ECE estimate is still the plug-in.

Two kinds of ECE/Brier: :func:`summarize` scores probabilities as given (or a
map fitted elsewhere); :func:`recalibrated_summary` scores them after the shared
cross-fitted recalibration (:mod:`calib_eval.metrics.recalibration`), refitted
inside every bootstrap resample, so every scorer of a task is compared after
the same map.
"""
from __future__ import annotations

from typing import Any, Callable, Protocol

import numpy as np

from calib_eval.metrics._validation import probability_inputs, score_inputs
from calib_eval.metrics.bootstrap import bootstrap_ci
from calib_eval.metrics.calibration import expected_calibration_error
from calib_eval.metrics.ece_interval import ece_interval
from calib_eval.metrics.recalibration import (
    RECALIBRATION, crossfit_folds, crossfit_recalibrate, crossfit_rows, recalibration_inputs,
)
from calib_eval.metrics.rows import auroc_rows, bin_gap_rows, brier_rows
from calib_eval.metrics.ranking import roc_auc
from calib_eval.metrics.scoring import accuracy, brier_score
from calib_eval.metrics.selective import aurc


class CalibrationMap(Protocol):
    """Anything with ``apply(score) -> probabilities`` (PlattMap, TemperatureMap)."""

    def apply(self, score: Any) -> np.ndarray: ...


def _entry(metric_fn: Callable[..., float], arrays: tuple[np.ndarray, ...], bootstrap: int, seed: int,
           rows_fn: Callable[..., np.ndarray] | None = None) -> dict:
    """{"estimate", "low", "high", "n_valid"}; low/high are None without bootstrap."""
    if bootstrap <= 0:
        return {"estimate": float(metric_fn(*arrays)), "low": None, "high": None, "n_valid": 0}
    res = bootstrap_ci(metric_fn, *arrays, n_resamples=bootstrap, seed=seed, rows_fn=rows_fn)
    return {"estimate": res.estimate, "low": res.low, "high": res.high, "n_valid": res.n_valid}


def _ece_entry(estimate: float, gaps_fn: Callable[..., np.ndarray], arrays: tuple[np.ndarray, ...],
               bootstrap: int, seed: int) -> dict:
    """Like :func:`_entry` for ECE: plug-in ``estimate``, interval from the per-bin gaps of each resample."""
    if bootstrap <= 0:
        return {"estimate": float(estimate), "low": None, "high": None, "n_valid": 0}
    res = ece_interval(estimate, lambda idx: gaps_fn(*(a[idx] for a in arrays)), len(arrays[0]),
                       n_resamples=bootstrap, seed=seed)
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
    """Accuracy, ECE, AUROC, Brier and AURC with 95% bootstrap CIs (ECE's: see the module docstring).

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

    out: dict[str, Any] = {"n": int(len(y)), "probability_source": source}
    out["accuracy"] = _entry(accuracy, (y,), bootstrap, seed, lambda rows: rows.mean(axis=1))
    out["auroc"] = _entry(roc_auc, (s, y), bootstrap, seed, auroc_rows)
    out["aurc"] = _entry(aurc, (s, y), bootstrap, seed)
    gaps = lambda p, labels: bin_gap_rows(p, labels, n_bins)  # noqa: E731
    out["ece"] = (_ece_entry(expected_calibration_error(probs, y, n_bins=n_bins), gaps, (probs, y), bootstrap, seed)
                  if probs is not None else None)
    out["brier"] = _entry(brier_score, (probs, y), bootstrap, seed, brier_rows) if probs is not None else None
    return out


def recalibrated_summary(confidence_or_score: Any, correct: Any, is_probability: bool, n_bins: int = 10,
                         bootstrap: int = 1000, seed: int = 0) -> dict[str, Any] | None:
    """ECE and Brier after the shared cross-fitted Platt map, the map refitted in each resample.

    Returns {"probabilities", "ece", "brier", "recalibration"}, or None when a
    class has fewer than 2 items (a fold would hold only one class).
    """
    s, y = (probability_inputs if is_probability else score_inputs)(confidence_or_score, correct, "confidence_or_score")
    probs = crossfit_recalibrate(s, y, is_probability, seed)
    if probs is None:
        return None
    z, fold = recalibration_inputs(s, is_probability), crossfit_folds(y, seed)

    def rows(metric_rows: Callable[..., np.ndarray]) -> Callable[..., np.ndarray]:
        return lambda z_r, y_r, f_r: metric_rows(crossfit_rows(z_r, y_r, f_r), y_r)

    gaps_r = rows(lambda p, labels: bin_gap_rows(p, labels, n_bins))
    brier_r = rows(brier_rows)
    return {
        "probabilities": probs, "recalibration": RECALIBRATION,
        "ece": _ece_entry(expected_calibration_error(probs, y, n_bins=n_bins), gaps_r, (z, y, fold), bootstrap, seed),
        "brier": _entry(lambda *a: float(brier_r(*a)[0]), (z, y, fold), bootstrap, seed, brier_r),
    }
