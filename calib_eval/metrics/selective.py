"""Selective prediction: answer only the items the score trusts most.

Items are ranked by score, highest first; at coverage k/n the model answers the
top k and abstains on the rest, and risk is the error rate among the answered.

Ties: items with equal scores cannot be ordered, so the risk at a coverage that
cuts through a tied group is the *expected* risk when the tie is broken
uniformly at random (errors inside the group are spread evenly over its
positions). The result does not depend on input order, and a constant scorer
gets AURC = overall error rate.
"""
from __future__ import annotations

import math
from dataclasses import dataclass
from typing import Any

import numpy as np

from calib_eval.metrics._validation import score_inputs
from calib_eval.metrics.rejection import kept_quality_curve


@dataclass(frozen=True, eq=False)
class RiskCoverageCurve:
    coverage: np.ndarray  # (n,) k/n for k = 1..n
    risk: np.ndarray  # (n,) expected error rate among the top-k
    threshold: np.ndarray  # (n,) score of the k-th ranked item


def _risk_curve(s: np.ndarray, correct: np.ndarray) -> RiskCoverageCurve:
    """Core on validated arrays: the expected error rate among the k best-scored, k = 1..n."""
    n = len(s)
    errors = (~correct).astype(np.float64)
    return RiskCoverageCurve(coverage=np.arange(1, n + 1) / n, risk=kept_quality_curve(s, errors),
                             threshold=s[np.argsort(-s, kind="mergesort")])


def risk_coverage_curve(score: Any, correct: Any) -> RiskCoverageCurve:
    """Risk (error rate of answered items) at every coverage k/n, k = 1..n."""
    return _risk_curve(*score_inputs(score, correct))


def aurc(score: Any, correct: Any) -> float:
    """Area under the risk-coverage curve (mean risk over k = 1..n); lower is better."""
    return float(np.mean(risk_coverage_curve(score, correct).risk))


def selective_accuracy(score: Any, correct: Any, coverage: float = 0.8) -> float:
    """Accuracy on the ``ceil(coverage * n)`` highest-scored items; higher is better."""
    if not 0.0 < coverage <= 1.0:
        raise ValueError(f"coverage must be in (0, 1], got {coverage!r}.")
    curve = risk_coverage_curve(score, correct)
    n = len(curve.risk)
    k = max(1, math.ceil(round(coverage * n, 9)))  # round: 0.7 * 10 must give 7, not 8
    return float(1.0 - curve.risk[k - 1])
