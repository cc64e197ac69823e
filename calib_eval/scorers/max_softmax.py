"""Max softmax over multiple-choice options (MC baseline, a probability)."""
from __future__ import annotations

import math

from calib_eval.errors import DataError
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
            # saved answers without them (e.g. `calib-eval score` of an items.jsonl) cannot get them back:
            # they are the answering model's own option scores, recorded when it answered
            raise DataError(f"max_softmax needs the options' log-likelihoods, recorded when the model answers a "
                            f"choice task; {len(missing)} item(s) lack them (e.g. {', '.join(missing[:3])}). Run "
                            f"`calib-eval run` with max_softmax, or drop it from --scorers")
        return [softmax_max(g.generation.choice_logprobs) for g in batch.items]
