"""Abstention beside correctness, for tasks that mix answerable and unanswerable questions (SelfAware).

SimpleQA's idea: an answer is correct, incorrect, or not attempted, and a
model that says "I don't know" on what it cannot answer is better than one
that guesses. Reported per results file:

- how often the model abstains on unanswerable and on answerable questions
  (abstention: the grader's keyword matcher, ``grading.match_abstention``);
- on answerable questions, the correct / incorrect / not-attempted shares
  and accuracy among the attempted ones;
- per scorer, the AUROC of confidence for answerable (positive) vs
  unanswerable: does the model know what it cannot know? The lm-eval path's
  ``calib_answerable_auroc`` is the same number for P(True).
"""
from __future__ import annotations

import warnings

import numpy as np

from calib_eval.grading import match_abstention
from calib_eval.metrics import bootstrap_ci, roc_auc

MATCHER = "calib_eval.grading.match_abstention (keyword heuristic)"


def _rate(mask: np.ndarray, within: np.ndarray) -> float | None:
    return float(mask[within].mean()) if within.any() else None


def _auroc_entry(scores: np.ndarray, answerable: np.ndarray, bootstrap: int) -> dict:
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")  # one class: NaN, said below
        if bootstrap > 0:
            res = bootstrap_ci(roc_auc, scores, answerable, n_resamples=bootstrap)
            return {"estimate": res.estimate, "low": res.low, "high": res.high}
        return {"estimate": roc_auc(scores, answerable), "low": None, "high": None}


def abstention_report(rows: list[dict], scorer_names, bootstrap: int = 0) -> dict | None:
    """The abstention block for rows of one task; None unless it has both answerable and unanswerable items."""
    if not rows or any("answer_kind" not in r for r in rows):
        return None
    answerable = np.array([r["answer_kind"] != "unanswerable" for r in rows])
    if answerable.all() or not answerable.any():
        return None
    abstained = np.array([match_abstention(r["answer"])[0] for r in rows])
    correct = np.array([bool(r["correct"]) for r in rows])
    not_attempted = abstained & ~correct  # a correct answer that also hedges still counts as correct
    attempted = answerable & ~not_attempted
    return {
        "matcher": MATCHER,
        "n_answerable": int(answerable.sum()), "n_unanswerable": int((~answerable).sum()),
        "abstain_rate_unanswerable": _rate(abstained, ~answerable),
        "abstain_rate_answerable": _rate(abstained, answerable),
        "answerable": {"correct": _rate(correct, answerable), "incorrect": _rate(~correct & ~not_attempted, answerable),
                       "not_attempted": _rate(not_attempted, answerable),
                       "correct_given_attempted": _rate(correct, attempted)},
        "answerable_auroc": {name: _auroc_entry(np.array([r["scores"][name] for r in rows], dtype=np.float64),
                                                answerable, bootstrap) for name in scorer_names},
    }


def abstention_entry(rows: list[dict], scorer_names, bootstrap: int = 0) -> dict:
    """{"abstention": block} to merge into a results payload, or {} where it does not apply."""
    block = abstention_report(rows, scorer_names, bootstrap)
    return {} if block is None else {"abstention": block}
