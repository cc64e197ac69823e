"""What every sampling-family scorer reads: per item, the k samples and how they relate.

The samples are drawn once per batch (or read from items.jsonl) and the
pairwise relations are computed once per batch, whichever family scorer
asks first; each scorer is then a pure function of a `SampleView`.
"""
from __future__ import annotations

from dataclasses import dataclass
from functools import cached_property
from typing import Any

import numpy as np

from calib_eval.grading import normalize_answer
from calib_eval.scorers.base import ScorerConfig, ScoringBatch
from calib_eval.scorers.equivalence import Relations, resolve_equivalence
from calib_eval.scorers.samples import SampleSet
from calib_eval.types import Example


@dataclass
class SampleView:
    samples: SampleSet
    greedy: str  # the graded answer
    example: Example
    backend: Any  # an equivalence backend (calib_eval.scorers.equivalence)

    @cached_property
    def relations(self) -> Relations:
        """Over samples.texts + [greedy] (the last row/column); computed once, on first use."""
        return self.backend.relations(self.example, [*self.samples.texts, self.greedy])

    @property
    def equivalent(self) -> np.ndarray:
        """(k, k) bool: which samples mean the same."""
        k = self.samples.k
        return self.relations.equivalent[:k, :k]

    @property
    def similarity(self) -> np.ndarray:
        k = self.samples.k
        return self.relations.similarity[:k, :k]

    @property
    def greedy_matches(self) -> np.ndarray:
        """(k,) bool: which samples mean the same as the greedy answer (none if it is empty)."""
        if not normalize_answer(self.greedy):
            return np.zeros(self.samples.k, dtype=bool)
        return self.relations.equivalent[-1, : self.samples.k]


def sample_views(batch: ScoringBatch) -> list[SampleView]:
    if "sample_views" not in batch.shared:
        batch.shared["samples_origin"] = "stored" if batch.samples is not None else "drawn"
        backend = resolve_equivalence(batch.config.semantic_equivalence, batch.grader, batch.model)
        batch.shared["equivalence"] = backend.name
        batch.shared["sample_views"] = [SampleView(samples, g.generation.answer, g.generation.example, backend)
                                        for g, samples in zip(batch.items, batch.sampled())]
    return batch.shared["sample_views"]


class SampleScorer:
    """Base of the sampling family: score = statistic(view), higher = more likely correct."""

    name = ""
    is_probability = False
    needs_adapter = False
    task_modes = ("generate",)
    from_samples = True  # computable from stored samples alone (`calib-eval score` needs no LM)

    def statistic(self, view: SampleView, cfg: ScorerConfig) -> float:
        raise NotImplementedError

    def describe(self, batch: ScoringBatch) -> dict:
        """Settings to record in the results' extra (strings: they are kept, not summed)."""
        return {"equivalence": batch.shared["equivalence"]}

    def score(self, batch: ScoringBatch) -> list[float]:
        views = sample_views(batch)
        k = {v.samples.k for v in views}
        temps = {v.samples.temperature for v in views}
        extra = batch.extra.setdefault(self.name, {})
        extra.update(self.describe(batch))
        extra["samples"] = (f"k={'/'.join(map(str, sorted(k)))} at T={'/'.join(map(str, sorted(temps)))}, "
                            f"{batch.shared['samples_origin']}")
        return [float(self.statistic(v, batch.config)) for v in views]
