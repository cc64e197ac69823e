"""Sequence likelihood of the answer, length-normalised (perplexity baseline).

Score = exp(mean token log-prob) = 1 / perplexity, in (0, 1]. It is not a
calibrated probability, so ECE/Brier use it only after a calibration map.
Free when the generation recorded its token log-probs.
"""
from __future__ import annotations

import math

import torch

from calib_eval.scorers.base import SCORERS, ScoringBatch


def answer_logprobs(batch: ScoringBatch) -> list[list[float]]:
    """Token log-probs of each answer: from the generation, else one forward."""
    recorded = [g.generation.token_logprobs for g in batch.items]
    if all(len(r) == len(a) for r, a in zip(recorded, batch.answer_ids)):
        return [list(r) for r in recorded]
    state = batch.prompt_state()
    last_prompt = state.last_logits  # predicts the first answer token
    logits, _, _ = state.forward([a if a else [batch.model.tokenizer.pad_token_id] for a in batch.answer_ids], keep=False)
    out = []
    for row, answer in enumerate(batch.answer_ids):
        # position t predicts token t+1; the prompt's last logits predict token 0
        steps = torch.cat([last_prompt[row : row + 1], logits[row, : max(len(answer) - 1, 0)]], dim=0)
        logp = torch.log_softmax(steps.float(), dim=-1)
        out.append([float(logp[t, tok]) for t, tok in enumerate(answer)])
    return out


@SCORERS.register("perplexity")
class Perplexity:
    name = "perplexity"
    is_probability = False
    needs_adapter = False
    task_modes = ("generate",)

    def score(self, batch: ScoringBatch) -> list[float]:
        # an empty answer has no likelihood to speak of: lowest score
        return [math.exp(sum(lp) / len(lp)) if lp else 0.0 for lp in answer_logprobs(batch)]
