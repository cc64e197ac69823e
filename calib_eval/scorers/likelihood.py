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
    return [token_logprobs(step, answer).tolist() for step, answer in zip(steps, batch.answer_ids)]


def token_logprobs(step_logits: torch.Tensor, answer: list[int]) -> torch.Tensor:
    """Log-prob of each answer token under the logits that predicted it, (len(answer),); empty for no answer."""
    if not answer:
        return step_logits.new_zeros(0)
    index = torch.tensor(answer, device=step_logits.device)[:, None]  # on the logits' device: CUDA too
    return torch.log_softmax(step_logits, dim=-1).gather(1, index).squeeze(1)


@SCORERS.register("perplexity")
class Perplexity:
    name = "perplexity"
    is_probability = False
    needs_adapter = False
    task_modes = ("generate",)

    def score(self, batch: ScoringBatch) -> list[float]:
        # an empty answer has no likelihood to speak of: lowest score
        return [math.exp(sum(lp) / len(lp)) if lp else 0.0 for lp in answer_logprobs(batch)]
