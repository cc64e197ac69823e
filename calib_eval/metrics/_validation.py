"""Up-front input checks shared by every metric.

Metrics fail loudly on bad input instead of returning a plausible number: a
silently broadcast length mismatch or a NaN confidence would otherwise end up
on the leaderboard. Each message names the argument and the problem.
"""
from __future__ import annotations

from typing import Any

import numpy as np

STRATEGIES = ("uniform", "quantile")
MODES = ("p_correct", "top_label")


class UndefinedMetricWarning(UserWarning):
    """A metric is undefined for this input (e.g. AUROC with one class) and is NaN."""


def as_1d(values: Any, name: str) -> np.ndarray:
    """Numeric 1-D float64 copy of ``values``; rejects strings, objects and 2-D input."""
    arr = np.asarray(values)
    if arr.ndim != 1:
        raise ValueError(f"{name} must be 1-D, got an array of shape {arr.shape}.")
    if arr.dtype.kind not in "biuf":
        raise ValueError(f"{name} must be numeric, got dtype {arr.dtype}.")
    return arr.astype(np.float64)


def check_lengths(**named: np.ndarray) -> int:
    """Common length of the named arrays; refuses mismatched or empty input."""
    lengths = {name: len(arr) for name, arr in named.items()}
    if len(set(lengths.values())) > 1:
        detail = ", ".join(f"{name} has {n}" for name, n in lengths.items())
        raise ValueError(f"Input lengths differ: {detail}.")
    n = next(iter(lengths.values()))
    if n == 0:
        raise ValueError(f"Empty input: {', '.join(lengths)} have no items.")
    return n


def check_no_nan(arr: np.ndarray, name: str) -> None:
    nan = np.isnan(arr)
    if nan.any():
        first = int(np.flatnonzero(nan)[0])
        raise ValueError(f"{name} contains NaN at {int(nan.sum())} position(s), first at index {first}.")


def check_probabilities(arr: np.ndarray, name: str) -> None:
    """Confidences are probabilities: finite and inside [0, 1]."""
    check_no_nan(arr, name)
    bad = (arr < 0.0) | (arr > 1.0)
    if bad.any():
        first = int(np.flatnonzero(bad)[0])
        raise ValueError(
            f"{name} must be probabilities in [0, 1]; {int(bad.sum())} value(s) outside, "
            f"e.g. {arr[first]!r} at index {first}. Raw scores need a calibration map "
            "(fit_platt / fit_temperature) first."
        )


def check_finite(arr: np.ndarray, name: str) -> None:
    """Scores may be any real number, but NaN/inf would make rankings meaningless."""
    check_no_nan(arr, name)
    if np.isinf(arr).any():
        raise ValueError(f"{name} contains inf at {int(np.isinf(arr).sum())} position(s).")


def as_binary_labels(values: Any, name: str = "correct") -> np.ndarray:
    """Correctness labels as a bool array; accepts bool, {0, 1} ints or {0.0, 1.0} floats."""
    arr = as_1d(values, name)
    check_no_nan(arr, name)
    bad = (arr != 0.0) & (arr != 1.0)
    if bad.any():
        found = np.unique(arr[bad])[:5].tolist()
        raise ValueError(f"{name} must be binary (bool or 0/1); found non-binary values {found}.")
    return arr == 1.0


def probability_inputs(confidence: Any, correct: Any, name: str = "confidence") -> tuple[np.ndarray, np.ndarray]:
    """Validated (probabilities float64, correct bool) pair."""
    p, y = as_1d(confidence, name), as_1d(correct, "correct")
    check_lengths(**{name: p, "correct": y})
    check_probabilities(p, name)
    return p, as_binary_labels(y)


def score_inputs(score: Any, correct: Any, name: str = "score") -> tuple[np.ndarray, np.ndarray]:
    """Validated (finite scores float64, correct bool) pair; scores need not be in [0, 1]."""
    s, y = as_1d(score, name), as_1d(correct, "correct")
    check_lengths(**{name: s, "correct": y})
    check_finite(s, name)
    return s, as_binary_labels(y)


def check_choice(value: str, allowed: tuple[str, ...], name: str) -> None:
    if value not in allowed:
        raise ValueError(f"{name} must be one of {', '.join(map(repr, allowed))}; got {value!r}.")


def check_n_bins(n_bins: Any) -> None:
    if isinstance(n_bins, bool) or not isinstance(n_bins, (int, np.integer)) or n_bins < 1:
        raise ValueError(f"n_bins must be a positive integer, got {n_bins!r}.")
