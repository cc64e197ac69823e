"""The issue-#15 metrics for one scorer, each with a bootstrap CI, in one call.

Ranking metrics use the raw score (any real, higher = more confident);
probability metrics need P(correct) and are None without it. Entries have
the shape of :func:`calib_eval.metrics.summary.summarize`'s:
``{"estimate", "low", "high", "n_valid"}``, with the interval from
:func:`calib_eval.metrics.bootstrap.bootstrap_ci` (whatever method it uses).
Undefined metrics (PRR or AUPRC with one class) are NaN and warn once.
"""
from __future__ import annotations

from typing import Any, Callable

import numpy as np

from calib_eval.metrics._validation import probability_inputs, score_inputs
from calib_eval.metrics.bootstrap import bootstrap_ci
from calib_eval.metrics.calibration import equal_mass_ece, rms_calibration_error
from calib_eval.metrics.likelihood import log_loss
from calib_eval.metrics.precision_recall import average_precision
from calib_eval.metrics.rejection import prediction_rejection_ratio
from calib_eval.metrics.selective import selective_accuracy
from calib_eval.metrics.smooth import smooth_ece

SELECTIVE_COVERAGES = (0.5, 0.8, 0.9)
RANKING_KEYS = ("prr", "auprc_err", "auprc_correct", *(f"sel_acc_{round(c * 100)}" for c in SELECTIVE_COVERAGES))
PROBABILITY_KEYS = ("nll", "ece_em", "rms_ce", "smece")


def _entry(metric_fn: Callable[..., float], arrays: tuple[np.ndarray, ...], bootstrap: int, seed: int) -> dict:
    if bootstrap <= 0:
        return {"estimate": float(metric_fn(*arrays)), "low": None, "high": None, "n_valid": 0}
    res = bootstrap_ci(metric_fn, *arrays, n_resamples=bootstrap, seed=seed)
    return {"estimate": res.estimate, "low": res.low, "high": res.high, "n_valid": res.n_valid}


def _ranking_metrics(n_bins: int) -> dict[str, Callable[[np.ndarray, np.ndarray], float]]:
    fns: dict[str, Callable[[np.ndarray, np.ndarray], float]] = {
        "prr": prediction_rejection_ratio,
        "auprc_err": lambda s, y: average_precision(s, y, positive="error"),
        "auprc_correct": lambda s, y: average_precision(s, y, positive="correct"),
    }
    for c in SELECTIVE_COVERAGES:
        fns[f"sel_acc_{round(c * 100)}"] = lambda s, y, c=c: selective_accuracy(s, y, coverage=c)
    return fns


def _probability_metrics(n_bins: int) -> dict[str, Callable[[np.ndarray, np.ndarray], float]]:
    return {
        "nll": log_loss,
        "ece_em": lambda p, y: equal_mass_ece(p, y, n_bins=n_bins),
        "rms_ce": lambda p, y: rms_calibration_error(p, y, n_bins=n_bins),
        "smece": smooth_ece,
    }


def extended_summary(score: Any, correct: Any, probability: Any = None, n_bins: int = 10,
                     bootstrap: int = 1000, seed: int = 0) -> dict[str, Any]:
    """PRR, AUPRC (errors / correct as positives), selective accuracy at 50/80/90% coverage from
    ``score``; NLL, equal-mass ECE, RMS calibration error and smooth ECE from ``probability``
    (P(correct), e.g. the score itself or a calibration map's output; None -> those are None).
    """
    s, y = score_inputs(score, correct)
    out: dict[str, Any] = {k: _entry(fn, (s, y), bootstrap, seed) for k, fn in _ranking_metrics(n_bins).items()}
    p = None if probability is None else probability_inputs(probability, y, "probability")[0]
    plugins = _plugin_metrics(s, p, y, bootstrap, seed)
    if plugins:  # only with a calib_eval.metrics plugin installed; the fixed keys stay as they are
        out["plugin_metrics"] = plugins
    if p is None:
        return {**out, **dict.fromkeys(PROBABILITY_KEYS)}
    out.update({k: _entry(fn, (p, y), bootstrap, seed) for k, fn in _probability_metrics(n_bins).items()})
    return out


def _plugin_metrics(s: np.ndarray, p: np.ndarray | None, y: np.ndarray, bootstrap: int, seed: int) -> dict:
    """Installed plugin metrics (calib_eval.metrics.registry), each on the input it declares; None without it."""
    from calib_eval.metrics.registry import METRICS

    return {name: (None if (values := s if m.input == "score" else p) is None
                   else _entry(m.fn, (values, y), bootstrap, seed)) for name, m in METRICS.items()}
