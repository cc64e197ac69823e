"""Percentile bootstrap confidence intervals over items.

Items (not individual arrays) are resampled with replacement, jointly across
all arrays, so a confidence stays paired with its own correctness. Resamples
on which a metric is undefined (NaN, e.g. AUROC on a one-class resample) are
dropped and counted, and their warnings are silenced: the point estimate
already warns once if the full data is degenerate.
"""
from __future__ import annotations

import warnings
from dataclasses import asdict, dataclass
from typing import Any, Callable

import numpy as np

from calib_eval.metrics._validation import UndefinedMetricWarning, as_1d, check_lengths


@dataclass(frozen=True)
class BootstrapResult:
    estimate: float  # metric on the full data
    low: float  # lower percentile bound (NaN if no valid resample)
    high: float
    n_resamples: int  # resamples drawn
    n_valid: int  # resamples where the metric was defined (not NaN)
    confidence_level: float = 0.95

    def as_dict(self) -> dict[str, float | int]:
        return asdict(self)


def _check_settings(n_resamples: int, confidence_level: float) -> None:
    if isinstance(n_resamples, bool) or not isinstance(n_resamples, (int, np.integer)) or n_resamples < 1:
        raise ValueError(f"n_resamples must be a positive integer, got {n_resamples!r}.")
    if not 0.0 < confidence_level < 1.0:
        raise ValueError(f"confidence_level must be in (0, 1), got {confidence_level!r}.")


def _percentile_interval(
    estimate: float, stat: Callable[[np.ndarray], float], n: int, n_resamples: int, confidence_level: float, seed: int
) -> BootstrapResult:
    """Evaluate ``stat(indices)`` on resamples and take the central percentile interval."""
    rng = np.random.default_rng(seed)
    values = np.empty(n_resamples, dtype=np.float64)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", UndefinedMetricWarning)
        for r in range(n_resamples):
            values[r] = stat(rng.integers(0, n, size=n))
    valid = values[~np.isnan(values)]
    alpha = (1.0 - confidence_level) / 2.0
    low, high = np.quantile(valid, [alpha, 1.0 - alpha]) if len(valid) else (np.nan, np.nan)
    return BootstrapResult(float(estimate), float(low), float(high), int(n_resamples), len(valid), confidence_level)


def _item_arrays(arrays: tuple[Any, ...], names: tuple[str, ...]) -> tuple[list[np.ndarray], int]:
    """Arrays as numpy (dtype kept: labels stay bool) with one common, non-zero length."""
    arrs = [np.asarray(a) for a in arrays]
    for arr, name in zip(arrs, names):
        if arr.ndim != 1:
            as_1d(arr, name)  # raises the standard shape message
    n = check_lengths(**dict(zip(names, arrs)))
    return arrs, n


def bootstrap_ci(
    metric_fn: Callable[..., float],
    *arrays: Any,
    n_resamples: int = 1000,
    confidence_level: float = 0.95,
    seed: int = 0,
) -> BootstrapResult:
    """CI of ``metric_fn(*arrays)`` by resampling items; deterministic for a given seed."""
    _check_settings(n_resamples, confidence_level)
    if not arrays:
        raise ValueError("bootstrap_ci needs at least one array to resample.")
    arrs, n = _item_arrays(arrays, tuple(f"arrays[{i}]" for i in range(len(arrays))))
    estimate = metric_fn(*arrs)
    return _percentile_interval(
        estimate, lambda idx: metric_fn(*(a[idx] for a in arrs)), n, n_resamples, confidence_level, seed
    )


def paired_bootstrap_diff(
    metric_fn: Callable[[Any, Any], float],
    score_a: Any,
    score_b: Any,
    correct: Any,
    n_resamples: int = 1000,
    confidence_level: float = 0.95,
    seed: int = 0,
) -> BootstrapResult:
    """CI of ``metric_fn(score_a, correct) - metric_fn(score_b, correct)`` on the same items.

    Both scorers see the same resample each time, so item difficulty cancels and
    the interval is much tighter than comparing two separate CIs. A CI that
    excludes 0 supports "A differs from B" at that confidence level (mind the
    metric's direction: for ECE/Brier/AURC a negative difference means A is better).
    """
    _check_settings(n_resamples, confidence_level)
    (a, b, y), n = _item_arrays((score_a, score_b, correct), ("score_a", "score_b", "correct"))
    estimate = metric_fn(a, y) - metric_fn(b, y)
    return _percentile_interval(
        estimate, lambda idx: metric_fn(a[idx], y[idx]) - metric_fn(b[idx], y[idx]),
        n, n_resamples, confidence_level, seed,
    )
