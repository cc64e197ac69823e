"""Lexical similarity: mean pairwise ROUGE-L F1 between the k samples (Fomicheva et al. 2020;
LM-Polygraph's LexicalSimilarity). Already higher = more consistent; the grader's ROUGE-L
(normalised tokens, no stemming) is reused, so it needs no equivalence backend.
"""
from __future__ import annotations

from itertools import combinations

import numpy as np

from calib_eval.grading import rouge_l
from calib_eval.scorers.base import SCORERS, ScorerConfig
from calib_eval.scorers.family import SampleScorer, SampleView


def rouge_l_matrix(texts) -> np.ndarray:
    """(k, k) pairwise ROUGE-L F1, diagonal 1 (a text is itself, even an empty one)."""
    sim = np.eye(len(texts))
    for i, j in combinations(range(len(texts)), 2):
        sim[i, j] = sim[j, i] = rouge_l(texts[i], texts[j])
    return sim


def lexical_similarity(texts) -> float:
    """Mean ROUGE-L over the k(k-1)/2 pairs; 1.0 for a single sample."""
    if len(texts) < 2:
        return 1.0
    sim = rouge_l_matrix(texts)
    return float(sim[np.triu_indices(len(texts), 1)].mean())


@SCORERS.register("lexical_similarity")
class LexicalSimilarity(SampleScorer):
    """Mean pairwise ROUGE-L between the samples."""

    name = "lexical_similarity"

    def statistic(self, view: SampleView, cfg: ScorerConfig) -> float:
        return lexical_similarity(view.samples.texts)

    def describe(self, batch) -> dict:
        return {"similarity": "rouge_l"}
