"""Sampling consistency: the share of k sampled answers that mean the same as the greedy one.

"Mean the same" is the configured equivalence backend (default: the task's
grader, so "Paris" and "paris, France" agree where exact text never would).
The k samples are the family's shared ones (calib_eval.scorers.family):
asking for this and the semantic-entropy scorers costs one sampling run.
"""
from __future__ import annotations

from calib_eval.grading import normalize_answer
from calib_eval.scorers.base import SCORERS, ScorerConfig
from calib_eval.scorers.equivalence import GraderEquivalence
from calib_eval.scorers.family import SampleScorer, SampleView
from calib_eval.types import Example


def agreement(greedy: str, samples: list[str], example: Example | None = None, grade=None) -> float:
    """Share of `samples` the grader finds equivalent to `greedy`, outside a scoring batch.

    Without an example, the answers are compared as open answers to an unknown question.
    """
    if not normalize_answer(greedy) or not samples:
        return 0.0
    example = example or Example("-", "-", "", answer_kind="open")
    eq = GraderEquivalence(grade).relations(example, [*samples, greedy]).equivalent
    return float(eq[-1, :-1].mean())


@SCORERS.register("sampling")
class Sampling(SampleScorer):
    """Share of the k samples equivalent to the greedy answer (0 when that answer is empty)."""

    name = "sampling"
    is_probability = True

    def statistic(self, view: SampleView, cfg: ScorerConfig) -> float:
        return float(view.greedy_matches.mean())
