"""Metrics on many resamples at once: arrays of shape (resamples, items) -> one value per row.

The bootstrap's fast path (``rows_fn`` in :mod:`calib_eval.metrics.bootstrap`).
Each function equals its one-sample counterpart row by row (tested): same bins,
same tie rule. Undefined rows (AUROC with one class) are NaN.
"""
from __future__ import annotations

import numpy as np
from scipy.stats import rankdata

from calib_eval.metrics.calibration import _binned_target


def bin_gap_rows(p: np.ndarray, y: np.ndarray, n_bins: int = 10, mode: str = "p_correct") -> np.ndarray:
    """Signed per-bin gap sum(conf - outcome) / n per row, shape (rows, n_bins + 1): uniform bins + the 1.0 bin.

    ECE is the row sum of its absolute values; :mod:`calib_eval.metrics.ece_interval`
    needs the bins one by one.
    """
    p, y = np.atleast_2d(p), np.atleast_2d(y)
    conf, outcome = _binned_target(p, y, mode)
    edges = np.arange(n_bins + 1, dtype=np.float64) / n_bins
    width = n_bins + 1  # the 1.0 point bin, as in calibration.py
    flat = (np.searchsorted(edges, conf, side="right") - 1) + width * np.arange(len(p))[:, None]
    size = width * len(p)
    gap = (np.bincount(flat.ravel(), weights=conf.ravel(), minlength=size)
           - np.bincount(flat.ravel(), weights=outcome.ravel(), minlength=size))
    return gap.reshape(len(p), width) / p.shape[1]


def ece_rows(p: np.ndarray, y: np.ndarray, n_bins: int = 10, mode: str = "p_correct") -> np.ndarray:
    """Uniform-bin ECE per row (``expected_calibration_error`` with strategy="uniform")."""
    return np.abs(bin_gap_rows(p, y, n_bins, mode)).sum(axis=1)


def brier_rows(p: np.ndarray, y: np.ndarray) -> np.ndarray:
    """Brier score per row."""
    return np.mean((np.atleast_2d(p) - np.atleast_2d(y)) ** 2, axis=1)


def auroc_rows(score: np.ndarray, y: np.ndarray) -> np.ndarray:
    """Mann-Whitney AUROC per row (ties count half); NaN for one-class rows."""
    s, yb = np.atleast_2d(score), np.atleast_2d(y).astype(bool)
    n_pos = yb.sum(axis=1)
    n_neg = yb.shape[1] - n_pos
    rank_sum = np.where(yb, rankdata(s, axis=1), 0.0).sum(axis=1)
    with np.errstate(invalid="ignore", divide="ignore"):
        auc = (rank_sum - n_pos * (n_pos + 1) / 2.0) / (n_pos * n_neg)
    return np.where((n_pos > 0) & (n_neg > 0), auc, np.nan)
