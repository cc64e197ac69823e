"""BCa bootstrap confidence intervals over items.

Items (not individual arrays) are resampled with replacement, jointly across
all arrays, so a confidence stays paired with its own correctness; a paired
difference uses the same resample for both scorers. Resamples on which a
metric is undefined (NaN, e.g. AUROC on a one-class resample) are dropped and
counted, and their warnings are silenced.

Why BCa and not the percentile interval: ECE is biased upward, so its
bootstrap distribution sits above the estimate and a percentile interval can
exclude its own estimate. BCa (Efron 1987) shifts the quantiles by the bias
``z0`` (share of resamples below the estimate) and skew ``a`` (jackknife), which
corrects that to first order. The jackknife deletes one item (n <= 200) or one
of 200 random groups, so its cost stays bounded. If ``|z0|`` is so large that
BCa's interval would still miss the estimate (resamples almost all on one side,
where no bootstrap interval is trustworthy), the interval is widened to reach
the estimate and ``widened`` says so: an interval always contains its estimate.

``rows_fn`` (optional) computes the metric on many resamples at once: it gets
the resampled arrays with shape (resamples, items) and returns one value per
row. It is the fast path (and how a recalibration map is refitted inside each
resample); without it ``metric_fn`` is called once per resample.
"""
from __future__ import annotations

import warnings
from dataclasses import asdict, dataclass
from typing import Any, Callable

import numpy as np
from scipy.special import ndtr, ndtri

from calib_eval.metrics._validation import UndefinedMetricWarning, as_1d, check_lengths

JACKKNIFE_GROUPS = 200  # delete-group jackknife above this many items
CHUNK_CELLS = 2_000_000  # resampled cells evaluated at once (memory bound for rows_fn)

RowsFn = Callable[..., np.ndarray]


@dataclass(frozen=True)
class BootstrapResult:
    estimate: float  # metric on the full data
    low: float  # lower bound (NaN if no valid resample)
    high: float
    n_resamples: int  # resamples drawn
    n_valid: int  # resamples where the metric was defined (not NaN)
    confidence_level: float = 0.95
    method: str = "bca"
    widened: bool = False  # BCa bound moved to reach the estimate (see module docstring)

    def as_dict(self) -> dict[str, Any]:
        return asdict(self)


def _check_settings(n_resamples: int, confidence_level: float) -> None:
    if isinstance(n_resamples, bool) or not isinstance(n_resamples, (int, np.integer)) or n_resamples < 1:
        raise ValueError(f"n_resamples must be a positive integer, got {n_resamples!r}.")
    if not 0.0 < confidence_level < 1.0:
        raise ValueError(f"confidence_level must be in (0, 1), got {confidence_level!r}.")


def _evaluate(stat_rows: Callable[[np.ndarray], np.ndarray], index_rows: np.ndarray) -> np.ndarray:
    """stat_rows on chunks of an index matrix, undefined-metric warnings silenced."""
    step = max(1, CHUNK_CELLS // max(1, index_rows.shape[1]))
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", UndefinedMetricWarning)
        warnings.simplefilter("ignore", RuntimeWarning)
        return np.concatenate([np.asarray(stat_rows(index_rows[i:i + step]), dtype=np.float64)
                               for i in range(0, len(index_rows), step)])


def jackknife_indices(n: int, seed: int = 0) -> np.ndarray:
    """Rows of kept item indices: delete-one for n <= JACKKNIFE_GROUPS, else delete one random group."""
    if n <= JACKKNIFE_GROUPS:
        keep = ~np.eye(n, dtype=bool)
        return np.broadcast_to(np.arange(n), (n, n))[keep].reshape(n, n - 1)
    group = np.random.default_rng(seed).permutation(n) % JACKKNIFE_GROUPS
    sizes = np.bincount(group, minlength=JACKKNIFE_GROUPS)
    width = n - sizes.max()  # equal row length: drop one extra item from smaller groups' rows
    return np.stack([np.flatnonzero(group != g)[:width] for g in range(JACKKNIFE_GROUPS)])


def bca_bounds(estimate: float, boot: np.ndarray, jack: np.ndarray,
               confidence_level: float) -> tuple[float, float, bool]:
    """(low, high, widened) from valid bootstrap values and jackknife values."""
    share_below = (np.sum(boot < estimate) + 0.5 * np.sum(boot == estimate)) / len(boot)
    share_below = np.clip(share_below, 0.5 / len(boot), 1.0 - 0.5 / len(boot))
    z0 = ndtri(share_below)
    jack = jack[np.isfinite(jack)]
    dev = jack.mean() - jack if len(jack) else np.zeros(1)
    denom = 6.0 * np.sum(dev ** 2) ** 1.5
    accel = float(np.sum(dev ** 3) / denom) if denom > 0 else 0.0
    z = ndtri(np.array([(1.0 - confidence_level) / 2.0, (1.0 + confidence_level) / 2.0]))
    levels = ndtr(z0 + (z0 + z) / (1.0 - accel * (z0 + z)))
    low, high = np.quantile(boot, np.clip(levels, 0.0, 1.0))
    widened = not low <= estimate <= high
    return float(min(low, estimate)), float(max(high, estimate)), bool(widened)


def bca_from_rows(estimate: float, stat_rows: Callable[[np.ndarray], np.ndarray], n: int,
                  n_resamples: int = 1000, confidence_level: float = 0.95, seed: int = 0) -> BootstrapResult:
    """BCa interval of a statistic given as ``stat_rows(index_matrix) -> values``."""
    _check_settings(n_resamples, confidence_level)
    boot = _evaluate(stat_rows, np.random.default_rng(seed).integers(0, n, size=(n_resamples, n)))
    valid = boot[np.isfinite(boot)]
    if not len(valid) or not np.isfinite(estimate):
        return BootstrapResult(float(estimate), np.nan, np.nan, int(n_resamples), len(valid), confidence_level)
    jack = _evaluate(stat_rows, jackknife_indices(n, seed)) if n > 2 else np.zeros(1)
    low, high, widened = bca_bounds(float(estimate), valid, jack, confidence_level)
    return BootstrapResult(float(estimate), low, high, int(n_resamples), len(valid), confidence_level,
                           "bca", widened)


def _item_arrays(arrays: tuple[Any, ...], names: tuple[str, ...]) -> tuple[list[np.ndarray], int]:
    """Arrays as numpy (dtype kept: labels stay bool) with one common, non-zero length."""
    arrs = [np.asarray(a) for a in arrays]
    for arr, name in zip(arrs, names):
        if arr.ndim != 1:
            as_1d(arr, name)  # raises the standard shape message
    n = check_lengths(**dict(zip(names, arrs)))
    return arrs, n


def _rows(metric_fn: Callable[..., float], rows_fn: RowsFn | None, arrs: list[np.ndarray]):
    """index matrix -> per-row values, batched when a rows_fn is given."""
    if rows_fn is not None:
        return lambda idx: rows_fn(*(a[idx] for a in arrs))
    return lambda idx: np.array([metric_fn(*(a[r] for a in arrs)) for r in idx])


def bootstrap_ci(
    metric_fn: Callable[..., float],
    *arrays: Any,
    n_resamples: int = 1000,
    confidence_level: float = 0.95,
    seed: int = 0,
    rows_fn: RowsFn | None = None,
) -> BootstrapResult:
    """BCa CI of ``metric_fn(*arrays)`` by resampling items; deterministic for a given seed."""
    _check_settings(n_resamples, confidence_level)
    if not arrays:
        raise ValueError("bootstrap_ci needs at least one array to resample.")
    arrs, n = _item_arrays(arrays, tuple(f"arrays[{i}]" for i in range(len(arrays))))
    estimate = metric_fn(*arrs)
    return bca_from_rows(estimate, _rows(metric_fn, rows_fn, arrs), n, n_resamples, confidence_level, seed)


def paired_bootstrap_diff(
    metric_fn: Callable[[Any, Any], float],
    score_a: Any,
    score_b: Any,
    correct: Any,
    n_resamples: int = 1000,
    confidence_level: float = 0.95,
    seed: int = 0,
    rows_fn: RowsFn | None = None,
) -> BootstrapResult:
    """BCa CI of ``metric_fn(score_a, correct) - metric_fn(score_b, correct)`` on the same items.

    Both scorers see the same resample each time, so item difficulty cancels and
    the interval is much tighter than comparing two separate CIs. A CI that
    excludes 0 supports "A differs from B" at that confidence level (mind the
    metric's direction: for ECE/Brier/AURC a negative difference means A is better).
    """
    _check_settings(n_resamples, confidence_level)
    (a, b, y), n = _item_arrays((score_a, score_b, correct), ("score_a", "score_b", "correct"))
    estimate = metric_fn(a, y) - metric_fn(b, y)
    if rows_fn is not None:
        stat = lambda idx: rows_fn(a[idx], y[idx]) - rows_fn(b[idx], y[idx])  # noqa: E731
    else:
        stat = lambda idx: np.array([metric_fn(a[r], y[r]) - metric_fn(b[r], y[r]) for r in idx])  # noqa: E731
    return bca_from_rows(estimate, stat, n, n_resamples, confidence_level, seed)
