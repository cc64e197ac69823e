"""Max softmax over multiple-choice options (MC baseline, a probability)."""
from __future__ import annotations

import math

from calib_eval.scorers.base import SCORERS, ScoringBatch


def softmax_max(logprobs: tuple[float, ...]) -> float:
    top = max(logprobs)
    return 1.0 / sum(math.exp(lp - top) for lp in logprobs)


@SCORERS.register("max_softmax")
class MaxSoftmax:
    name = "max_softmax"
    is_probability = True
    needs_adapter = False
    task_modes = ("choice",)

    def score(self, batch: ScoringBatch) -> list[float]:
        missing = [g.generation.example.id for g in batch.items if not g.generation.choice_logprobs]
        if missing:
            raise ValueError(f"max_softmax needs option log-likelihoods; missing for {missing[:3]}")
        return [softmax_max(g.generation.choice_logprobs) for g in batch.items]
