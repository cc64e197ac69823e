"""The shared recalibration that makes ECE comparable across scorers.

Every scorer of a task, raw score or probability, gets the same map before its
"recalibrated" ECE/Brier: Platt scaling (``sigmoid(a * z + b)``) on
``z = score`` for raw scores and ``z = logit(p)`` for probabilities (Platt on
the logit contains temperature scaling, a = 1/T, b = 0), cross-fitted on two
label-stratified folds so no item's probability was fitted on its own label.

The fit is vectorised over rows (resamples): a bootstrap interval refits the
map inside every resample (a map fitted once outside the resampling would hide
its own fitting noise). Folds belong to items, so a resampled item keeps its
fold and duplicates never straddle the fit/apply split.
"""
from __future__ import annotations

import numpy as np

from calib_eval.metrics.calibration_map import sigmoid, to_logits

RECALIBRATION = "platt, 2-fold cross-fit"
RIDGE = 1e-9  # on the slope, as fit_platt
MAX_STEP = 4.0  # Newton step cap (standardised units): keeps near-separable rows from overshooting
MAX_ITER = 50


def crossfit_folds(correct: np.ndarray, seed: int = 0) -> np.ndarray:
    """Fold (0/1) per item, each class dealt alternately after a seeded shuffle."""
    y = np.asarray(correct, dtype=bool)
    rng = np.random.default_rng(seed)
    fold = np.zeros(len(y), dtype=np.int8)
    for label in (False, True):
        members = rng.permutation(np.flatnonzero(y == label))
        fold[members[1::2]] = 1
    return fold


def fit_platt_rows(z: np.ndarray, y: np.ndarray, use: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """Platt (a, b) per row, fitted on the items where ``use`` is True (Platt's smoothed targets)."""
    w = use.astype(np.float64)
    nw = np.maximum(w.sum(axis=1), 1.0)
    n_pos = (w * y).sum(axis=1)
    t = np.where(y, ((n_pos + 1.0) / (n_pos + 2.0))[:, None], (1.0 / (nw - n_pos + 2.0))[:, None])
    mu = (w * z).sum(axis=1) / nw
    sd = np.sqrt((w * (z - mu[:, None]) ** 2).sum(axis=1) / nw)
    sd = np.where(sd > 0, sd, 1.0)
    x = (z - mu[:, None]) / sd[:, None]
    a, b = np.zeros(len(z)), np.zeros(len(z))
    for _ in range(MAX_ITER):
        p = sigmoid(a[:, None] * x + b[:, None])
        r, h = w * (p - t), w * p * (1.0 - p)
        g0, g1 = (r * x).sum(axis=1) / nw + RIDGE * a, r.sum(axis=1) / nw
        h00, h01 = (h * x * x).sum(axis=1) / nw + RIDGE, (h * x).sum(axis=1) / nw
        h11 = h.sum(axis=1) / nw + 1e-12
        det = h00 * h11 - h01 ** 2
        da, db = (h11 * g0 - h01 * g1) / det, (h00 * g1 - h01 * g0) / det
        size = np.maximum(np.abs(da), np.abs(db))
        scale = np.minimum(1.0, MAX_STEP / np.maximum(size, 1e-300))
        a, b = a - scale * da, b - scale * db
        if np.max(size) < 1e-10:
            break
    return a / sd, b - a * mu / sd


def crossfit_rows(z: np.ndarray, y: np.ndarray, fold: np.ndarray) -> np.ndarray:
    """Cross-fitted probabilities per row: fold k's items mapped by the fit on the other fold."""
    z, y, fold = np.atleast_2d(z), np.atleast_2d(y).astype(bool), np.atleast_2d(fold)
    probs = np.empty(z.shape)
    for k in (0, 1):
        a, b = fit_platt_rows(z, y, fold != k)
        mapped = sigmoid(a[:, None] * z + b[:, None])
        probs = np.where(fold == k, mapped, probs)
    return probs


def recalibration_inputs(values: np.ndarray, is_probability: bool) -> np.ndarray:
    """What the map is fitted on: the score, or logit(p) for a probability."""
    return to_logits(values, is_probability, "confidence_or_score")


def crossfit_recalibrate(values: np.ndarray, correct: np.ndarray, is_probability: bool,
                         seed: int = 0) -> np.ndarray | None:
    """Cross-fitted probabilities for one scorer; None when a class has < 2 items (a fold would miss it)."""
    y = np.asarray(correct, dtype=bool)
    if min(int(y.sum()), int((~y).sum())) < 2:
        return None
    z = recalibration_inputs(values, is_probability)
    return crossfit_rows(z, y, crossfit_folds(y, seed))[0]
