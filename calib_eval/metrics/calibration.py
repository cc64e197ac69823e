"""Binned calibration: reliability curve and expected calibration error (ECE).

ECE is computed *from* the reliability curve, so a plotted diagram and the
reported number always describe the same bins.

Two ways to read a confidence ``p`` (the model's probability that its answer is
correct):

- ``mode="p_correct"`` (default): bin ``p`` itself and compare each bin's mean
  ``p`` with its rate of correct answers. This is binary calibration error, what
  ``torchmetrics.functional.classification.binary_calibration_error(p, correct,
  n_bins, norm="l1")`` computes.
- ``mode="top_label"``: treat "is the answer correct?" as a two-class problem.
  Predicted label = ``p >= 0.5`` ("correct"), top-label confidence =
  ``max(p, 1 - p)``, and a prediction counts as accurate when the predicted label
  equals the real correctness. This is the convention of Kapoor et al. (2024)
  (10 equal-width bins on the top-label confidence of the yes/no query).

Bin conventions (``strategy``):

- ``"uniform"``: ``n_bins`` half-open bins ``[k/n, (k+1)/n)`` whose edges are the
  correctly rounded floats ``k / n_bins``, plus one extra point bin holding
  confidences exactly equal to 1.0. This is torchmetrics' convention
  (``torch.bucketize(..., right=True)`` over ``n_bins + 1`` boundaries, whose last
  bucket only 1.0 reaches), so ECE agrees with torchmetrics; 0.0 lands in the
  first bin. The curve therefore has ``n_bins + 1`` entries. Difference: where
  ``torch.linspace`` is one ulp off ``k/n`` (e.g. 3/10 -> 0.30000000000000004 on
  AVX2 CPUs), torchmetrics puts a confidence of exactly 0.3 into ``[0.2, 0.3)``;
  here it goes to ``[0.3, 0.4)``, which keeps verbalised "30%" in its own bin.
- ``"quantile"``: ``n_bins`` bins with (roughly) equal counts; edges are
  ``np.quantile(conf, linspace(0, 1, n_bins + 1))``, bins are ``[e_k, e_k+1)``
  with the last one closed. Tied confidences always share a bin, so with many
  ties some bins are empty.
"""
from __future__ import annotations

from dataclasses import dataclass
from typing import Any

import numpy as np

from calib_eval.metrics._validation import (
    MODES,
    STRATEGIES,
    check_choice,
    check_n_bins,
    probability_inputs,
)

# The ECE results files report: mode="p_correct" on P(correct) (paper claims use top_label); recorded in provenance.
ECE_CONVENTION = "p_correct"


@dataclass(frozen=True, eq=False)
class ReliabilityCurve:
    """Per-bin statistics. Empty bins have ``count == 0`` and NaN means.

    ``bin_lower[i] <= conf < bin_upper[i]`` for bin ``i`` (see the module
    docstring for the closed last bin and the uniform 1.0 point bin).
    """

    bin_edges: np.ndarray  # (n_bins + 1,)
    bin_lower: np.ndarray  # (n_entries,)  n_entries = n_bins + 1 (uniform) or n_bins (quantile)
    bin_upper: np.ndarray  # (n_entries,)
    mean_confidence: np.ndarray  # (n_entries,) mean binned confidence, NaN if empty
    accuracy: np.ndarray  # (n_entries,) rate of correct (p_correct) / of right top-label predictions
    count: np.ndarray  # (n_entries,) int
    strategy: str
    mode: str

    @property
    def n(self) -> int:
        return int(self.count.sum())


def _binned_target(p: np.ndarray, correct: np.ndarray, mode: str) -> tuple[np.ndarray, np.ndarray]:
    """(confidence to bin, outcome it should predict) for the chosen mode."""
    if mode == "p_correct":
        return p, correct.astype(np.float64)
    predicted_correct = p >= 0.5
    return np.maximum(p, 1.0 - p), (predicted_correct == correct).astype(np.float64)


def _bin_layout(conf: np.ndarray, n_bins: int, strategy: str) -> tuple[np.ndarray, np.ndarray, np.ndarray, np.ndarray]:
    """(edges, per-item bin index, bin_lower, bin_upper) for either strategy."""
    if strategy == "uniform":
        edges = np.arange(n_bins + 1, dtype=np.float64) / n_bins  # exactly-rounded k/n
        idx = np.searchsorted(edges, conf, side="right") - 1  # 0..n_bins; n_bins only for conf == 1.0
        lower = np.append(edges[:-1], 1.0)
        upper = np.append(edges[1:], 1.0)
        return edges, idx, lower, upper
    edges = np.quantile(conf, np.linspace(0.0, 1.0, n_bins + 1))
    idx = np.minimum(np.searchsorted(edges, conf, side="right") - 1, n_bins - 1)
    return edges, idx, edges[:-1].copy(), edges[1:].copy()


def _reliability(p: np.ndarray, correct: np.ndarray, n_bins: int, strategy: str, mode: str) -> ReliabilityCurve:
    """Core on validated arrays; shared by the curve and ECE."""
    conf, outcome = _binned_target(p, correct, mode)
    edges, idx, lower, upper = _bin_layout(conf, n_bins, strategy)
    n_entries = len(lower)
    count = np.bincount(idx, minlength=n_entries)
    with np.errstate(invalid="ignore", divide="ignore"):
        mean_conf = np.bincount(idx, weights=conf, minlength=n_entries) / count
        acc = np.bincount(idx, weights=outcome, minlength=n_entries) / count
    return ReliabilityCurve(edges, lower, upper, mean_conf, acc, count, strategy, mode)


def _check_args(n_bins: int, strategy: str, mode: str) -> None:
    check_n_bins(n_bins)
    check_choice(strategy, STRATEGIES, "strategy")
    check_choice(mode, MODES, "mode")


def reliability_curve(
    confidence: Any, correct: Any, n_bins: int = 10, strategy: str = "uniform", mode: str = "p_correct"
) -> ReliabilityCurve:
    """Per-bin mean confidence vs. observed accuracy, for a reliability diagram."""
    _check_args(n_bins, strategy, mode)
    p, y = probability_inputs(confidence, correct)
    return _reliability(p, y, int(n_bins), strategy, mode)


def ece_from_curve(curve: ReliabilityCurve) -> float:
    """Count-weighted mean |accuracy - confidence| over non-empty bins."""
    filled = curve.count > 0
    gaps = np.abs(curve.accuracy[filled] - curve.mean_confidence[filled])
    return float(np.sum(gaps * curve.count[filled]) / curve.n)


def expected_calibration_error(
    confidence: Any, correct: Any, n_bins: int = 10, strategy: str = "uniform", mode: str = "p_correct"
) -> float:
    """ECE (weighted L1 gap between confidence and accuracy over bins); lower is better.

    ``confidence`` is P(answer is correct), ``correct`` is bool/0-1 per item. See
    the module docstring for ``mode`` and ``strategy``. Defaults (10 uniform
    bins, ``p_correct``) equal torchmetrics ``binary_calibration_error``.
    """
    return ece_from_curve(reliability_curve(confidence, correct, n_bins, strategy, mode))


def rms_from_curve(curve: ReliabilityCurve) -> float:
    """Count-weighted root-mean-square gap over non-empty bins."""
    filled = curve.count > 0
    gaps = curve.accuracy[filled] - curve.mean_confidence[filled]
    return float(np.sqrt(np.sum(gaps**2 * curve.count[filled]) / curve.n))


def rms_calibration_error(
    confidence: Any, correct: Any, n_bins: int = 10, strategy: str = "uniform", mode: str = "p_correct"
) -> float:
    """RMS calibration error (weighted L2 gap over bins); lower is better.

    Same bins as :func:`expected_calibration_error`; equals torchmetrics
    ``binary_calibration_error(p, correct, n_bins, norm="l2")``. Squaring
    weights large gaps more than ECE does (Hendrycks et al. 2019 report it
    with equal-mass bins: ``strategy="quantile"``).
    """
    return rms_from_curve(reliability_curve(confidence, correct, n_bins, strategy, mode))


def equal_mass_ece(confidence: Any, correct: Any, n_bins: int = 10, mode: str = "p_correct") -> float:
    """ECE over equal-count (adaptive) bins; lower is better.

    The "equal-mass" ECE of Nixon et al. (2019, "adaptive calibration error")
    and Roelofs et al. (2022): bins hold (roughly) the same number of items,
    so sparse high-confidence regions are not averaged over a few items while
    dense ones are cut coarsely. It is ``strategy="quantile"`` (see the module
    docstring for edges and ties).
    """
    return expected_calibration_error(confidence, correct, n_bins, strategy="quantile", mode=mode)
