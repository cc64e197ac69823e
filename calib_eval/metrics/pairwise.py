"""Pairwise confidence comparison (Steyvers et al. 2025): which of two questions is answered correctly?

Every pair holds one correctly and one incorrectly answered item; ``p_first``
is the model's P("Question 1") from a two-way softmax over its replies, and
``first_correct`` says whether question 1 is the correct one. The pick is
the argmax, so a tie (p = 0.5 exactly) is a coin flip and counts half.
"""
from __future__ import annotations

from typing import Any

import numpy as np

from calib_eval.metrics._validation import as_1d, check_lengths, probability_inputs


def pairwise_accuracy(p_first: Any, first_correct: Any) -> float:
    """Share of pairs where the model prefers the correctly answered question; higher is better."""
    p, first_right = probability_inputs(p_first, first_correct, "p_first")
    picked_first = np.where(p > 0.5, 1.0, np.where(p < 0.5, 0.0, 0.5))  # credit for "question 1"
    return float(np.mean(np.where(first_right, picked_first, 1.0 - picked_first)))


def win_rates(first: Any, second: Any, p_first: Any, n_items: int) -> np.ndarray:
    """Per item, the mean probability of being preferred over all its pairs; NaN for unpaired items.

    ``first``/``second`` are item indices (0..n_items-1) of each pair's
    question 1 and 2. As a per-item confidence score its AUROC against
    correctness says how well the pairwise judgements rank the items.
    """
    p = as_1d(p_first, "p_first")
    a, b = as_1d(first, "first"), as_1d(second, "second")
    check_lengths(first=a, second=b, p_first=p)
    a, b = a.astype(np.int64), b.astype(np.int64)
    low, high = min(a.min(), b.min()), max(a.max(), b.max())
    if low < 0 or high >= n_items:
        raise ValueError(f"pair indices must lie in [0, {n_items}); got {low}..{high}.")
    won = np.zeros(n_items)
    seen = np.zeros(n_items)
    np.add.at(won, a, p)
    np.add.at(won, b, 1.0 - p)
    np.add.at(seen, a, 1.0)
    np.add.at(seen, b, 1.0)
    return np.divide(won, seen, out=np.full(n_items, np.nan), where=seen > 0)
