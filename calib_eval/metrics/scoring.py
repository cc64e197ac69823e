"""Per-item proper scores: accuracy and the Brier score."""
from __future__ import annotations

from typing import Any

import numpy as np

from calib_eval.metrics._validation import as_1d, as_binary_labels, check_lengths, probability_inputs


def accuracy(correct: Any) -> float:
    """Fraction of answers graded correct; higher is better."""
    y = as_1d(correct, "correct")
    check_lengths(correct=y)
    return float(as_binary_labels(y).mean())


def brier_score(confidence: Any, correct: Any) -> float:
    """Mean squared error between P(correct) and correctness; **lower is better**.

    Equals ``sklearn.metrics.brier_score_loss(correct, confidence)``. The issue
    asks for the name ``brier_score``; ``brier_score_loss`` is the same function
    under scikit-learn's ``*_loss`` naming.
    """
    p, y = probability_inputs(confidence, correct)
    return float(np.mean((p - y) ** 2))


brier_score_loss = brier_score
