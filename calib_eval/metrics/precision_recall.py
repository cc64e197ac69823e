"""Area under the precision-recall curve as average precision (AP).

AP = sum over thresholds of (R_k - R_{k-1}) * P_k, the step-wise (not
trapezoidal) area that ``sklearn.metrics.average_precision_score`` computes;
tied scores form one threshold. Two readings, because which class is
"positive" changes the number:

- ``positive="error"``: can the score find the *wrong* answers? The detector's
  score is ``-score`` (low confidence = flagged). The usual hallucination-
  detection AUPRC.
- ``positive="correct"``: can it find the right ones, ranked by ``score``.

With no positive item AP is undefined: NaN with an ``UndefinedMetricWarning``
(scikit-learn warns and returns 0). With no negative item every threshold has
precision 1, so AP = 1, as in scikit-learn.
"""
from __future__ import annotations

import warnings
from typing import Any

import numpy as np

from calib_eval.metrics._validation import UndefinedMetricWarning, check_choice, score_inputs

POSITIVES = ("error", "correct")


def _average_precision(detector: np.ndarray, positive: np.ndarray) -> float:
    """AP of ``detector`` (higher = more likely positive) on validated arrays with >= 1 positive."""
    order = np.argsort(-detector, kind="mergesort")
    d, pos = detector[order], positive[order].astype(np.float64)
    group_end = np.append(d[1:] != d[:-1], True)  # last index of each tied group
    tp = np.cumsum(pos)[group_end]
    kept = (np.flatnonzero(group_end) + 1).astype(np.float64)
    recall_gain = np.diff(np.concatenate(([0.0], tp))) / tp[-1]
    return float(np.sum(recall_gain * tp / kept))


def average_precision(score: Any, correct: Any, positive: str = "error") -> float:
    """AUPRC (average precision) of ``score`` (higher = more likely correct); higher is better.

    ``positive`` picks the class to retrieve: ``"error"`` (wrong answers,
    ranked by ``-score``) or ``"correct"`` (right answers, ranked by ``score``).
    The no-skill baseline is the positive class's share of items.
    """
    check_choice(positive, POSITIVES, "positive")
    s, y = score_inputs(score, correct)
    is_pos = ~y if positive == "error" else y
    if not is_pos.any():
        warnings.warn(
            f"AUPRC undefined: no item of {len(y)} is {'wrong' if positive == 'error' else 'correct'} "
            f"(the positive class, positive={positive!r}); returning NaN.",
            UndefinedMetricWarning,
            stacklevel=2,
        )
        return float("nan")
    return _average_precision(-s if positive == "error" else s, is_pos)
