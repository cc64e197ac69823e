"""Sampling consistency: k sampled answers, agreement with the greedy one.

The prompt is encoded once and its cache repeated k times, so the k samples
cost k decodes of the answer, not k encodes of a 5-shot prompt.
Optional semantic clustering groups samples by normalised text and reports
the share of the largest cluster (a cheap semantic-entropy stand-in).
"""
from __future__ import annotations

from collections import Counter

import torch

from calib_eval.grading import normalize_answer
from calib_eval.inference.decode import greedy_decode
from calib_eval.scorers.base import SCORERS, ScoringBatch


def agreement(greedy: str, samples: list[str]) -> float:
    target = normalize_answer(greedy)
    if not target:
        return 0.0
    return sum(normalize_answer(s) == target for s in samples) / len(samples)


def largest_cluster_share(samples: list[str]) -> float:
    counts = Counter(normalize_answer(s) for s in samples)
    return max(counts.values()) / len(samples)


@SCORERS.register("sampling")
class Sampling:
    name = "sampling"
    is_probability = True
    needs_adapter = False
    task_modes = ("generate",)

    def score(self, batch: ScoringBatch) -> list[float]:
        cfg = batch.config
        k = cfg.sampling_k
        state = batch.prompt_state().fork(repeats=k)  # (B*k) rows, shared prefix tensors
        generator = torch.Generator(device=state.mask.device).manual_seed(cfg.seed)
        texts = greedy_decode(state, batch.model.tokenizer, batch.max_new_tokens, batch.stop,
                              sample_temperature=cfg.sampling_temperature, generator=generator).texts
        scores = []
        clusters = []
        for row, graded in enumerate(batch.items):
            samples = texts[row * k : (row + 1) * k]
            scores.append(agreement(graded.generation.answer, samples))
            clusters.append(largest_cluster_share(samples))
        if cfg.semantic_clusters:
            extra = batch.extra.setdefault(self.name, {"cluster_share_sum": 0.0, "items": 0})
            extra["cluster_share_sum"] += sum(clusters)
            extra["items"] += len(clusters)
        return scores
