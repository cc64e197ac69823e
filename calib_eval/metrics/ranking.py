"""AUROC: how well a score separates correct from wrong answers.

Computed with the Mann-Whitney rank formula (tied scores get their average rank,
i.e. a tie counts as half a win), which equals the trapezoidal ROC area of
``sklearn.metrics.roc_auc_score`` without building the curve.
"""
from __future__ import annotations

import warnings
from typing import Any

import numpy as np

from calib_eval.metrics._validation import UndefinedMetricWarning, score_inputs


def average_ranks(x: np.ndarray) -> np.ndarray:
    """1-based ranks of ``x`` with ties sharing their mean rank (scipy's ``rankdata``)."""
    order = np.argsort(x, kind="mergesort")
    xs = x[order]
    new_group = np.empty(len(x), dtype=bool)
    new_group[:1] = True
    new_group[1:] = xs[1:] != xs[:-1]
    starts = np.flatnonzero(new_group)
    ends = np.append(starts[1:], len(x))
    group_rank = (starts + 1 + ends) / 2.0  # mean of ranks start+1 .. end
    ranks = np.empty(len(x), dtype=np.float64)
    ranks[order] = group_rank[np.cumsum(new_group) - 1]
    return ranks


def _one_class_nan(n: int, all_correct: bool) -> float:
    which = "correct" if all_correct else "wrong"
    warnings.warn(
        f"AUROC undefined: all {n} items are {which} (one class); returning NaN.",
        UndefinedMetricWarning,
        stacklevel=3,
    )
    return float("nan")


def roc_auc(score: Any, correct: Any) -> float:
    """Area under the ROC curve of ``score`` (higher = more likely correct); higher is better.

    Scores can be any finite reals. With only one class present AUROC is
    undefined: returns NaN and emits an ``UndefinedMetricWarning`` (a
    ``UserWarning``) saying so, rather than raising, so one degenerate subset
    does not abort a whole evaluation.
    """
    s, y = score_inputs(score, correct)
    n_pos = int(y.sum())
    n_neg = len(y) - n_pos
    if n_pos == 0 or n_neg == 0:
        return _one_class_nan(len(y), all_correct=n_neg == 0)
    rank_sum = average_ranks(s)[y].sum()
    return float((rank_sum - n_pos * (n_pos + 1) / 2.0) / (n_pos * n_neg))
