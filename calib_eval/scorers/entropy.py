"""UA-CLM entropy: negative mean (or max) token entropy of the answer.

Without an adapter it uses the entropies recorded while decoding (free). With
a UA-CLM adapter the answer is teacher-forced through the tuned model and the
entropies are read there. Raw score: ECE only after a calibration map.
"""
from __future__ import annotations

import math

import torch

from calib_eval.inference.state import answer_step_logits, encode_batch
from calib_eval.scorers.base import SCORERS, ScoringBatch


def _reduce(values: list[float], how: str) -> float:
    return sum(values) / len(values) if how == "mean" else max(values)


def teacher_forced_entropies(model, batch: ScoringBatch) -> list[list[float]]:
    """Token entropies of the saved answer under `model` (teacher forcing)."""
    state = encode_batch(model, batch.prefix_ids, batch.suffix_ids, batch.model.tokenizer.pad_token_id)
    out = []
    for step in answer_step_logits(state, batch.answer_ids):
        logp = torch.log_softmax(step, dim=-1)
        out.append((-(logp.exp() * logp).nan_to_num().sum(dim=-1)).tolist())
    return out


@SCORERS.register("ua_clm_entropy")
class UAClmEntropy:
    name = "ua_clm_entropy"
    is_probability = False
    needs_adapter = False  # optional: uses the `ua_clm_entropy` adapter when given
    task_modes = ("generate",)

    def score(self, batch: ScoringBatch) -> list[float]:
        how = batch.config.entropy_reduce
        adapters = batch.adapters
        if adapters is not None and adapters.has(self.name):
            with adapters.active(self.name) as model:
                entropies = teacher_forced_entropies(model, batch)
        else:
            entropies = [list(g.generation.token_entropies) for g in batch.items]
            if any(len(e) != len(a) for e, a in zip(entropies, batch.answer_ids)):
                entropies = teacher_forced_entropies(batch.model.model, batch)
        # an empty answer is as uncertain as can be: the uniform distribution's entropy
        floor = -math.log(len(batch.model.tokenizer))
        return [-_reduce(e, how) if e else floor for e in entropies]
