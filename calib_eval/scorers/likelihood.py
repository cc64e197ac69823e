"""Sequence likelihood of the answer, length-normalised (perplexity baseline).

Score = exp(mean token log-prob) = 1 / perplexity, in (0, 1]. It is not a
calibrated probability, so ECE/Brier use it only after a calibration map.
Free when the generation recorded its token log-probs.
"""
from __future__ import annotations

import math

import torch

from calib_eval.inference.state import answer_step_logits
from calib_eval.scorers.base import SCORERS, ScoringBatch


def answer_logprobs(batch: ScoringBatch) -> list[list[float]]:
    """Token log-probs of each answer: from the generation, else one forward."""
    recorded = [g.generation.token_logprobs for g in batch.items]
    if all(len(r) == len(a) for r, a in zip(recorded, batch.answer_ids)):
        return [list(r) for r in recorded]
    steps = answer_step_logits(batch.prompt_state(), batch.answer_ids)
    return [torch.log_softmax(step, dim=-1).gather(1, torch.tensor(answer)[:, None]).squeeze(1).tolist()
            if answer else [] for step, answer in zip(steps, batch.answer_ids)]


@SCORERS.register("perplexity")
class Perplexity:
    name = "perplexity"
    is_probability = False
    needs_adapter = False
    task_modes = ("generate",)

    def score(self, batch: ScoringBatch) -> list[float]:
        # an empty answer has no likelihood to speak of: lowest score
        return [math.exp(sum(lp) / len(lp)) if lp else 0.0 for lp in answer_logprobs(batch)]
