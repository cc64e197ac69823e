"""Negative log-likelihood (log loss) of P(correct) against correctness."""
from __future__ import annotations

from typing import Any

import numpy as np

from calib_eval.metrics._validation import probability_inputs

# Probabilities are clipped to [EPS, 1 - EPS] so a confident miss costs a large
# but finite loss; this is scikit-learn's default (eps="auto" = float64 eps).
EPS = float(np.finfo(np.float64).eps)


def log_loss(confidence: Any, correct: Any) -> float:
    """Mean ``-log P(observed outcome)`` in nats; **lower is better**.

    Equals ``sklearn.metrics.log_loss(correct, confidence, labels=[0, 1])``.
    A proper scoring rule like Brier, but unbounded: one answer given with
    confidence 1.0 that is wrong costs ``-log(EPS)`` ~ 36 nats.
    """
    p, y = probability_inputs(confidence, correct)
    p = np.clip(p, EPS, 1.0 - EPS)
    return float(-np.mean(np.where(y, np.log(p), np.log1p(-p))))


nll = log_loss
