"""Semantic entropy (Kuhn et al. 2023), its discrete form (Farquhar et al. 2024), semantic sets.

Samples are grouped into semantic sets by Kuhn et al.'s greedy algorithm:
each sample joins the first set whose first member it is equivalent to,
else starts a new set (equivalence: calib_eval.scorers.equivalence).

- semantic entropy: each set's probability is the sum of its samples'
  probabilities, normalised over the sets; entropy of that distribution.
  Samples are weighed by exp(mean token log-prob) by default, as Farquhar et
  al.'s reference code does (``semantic_length_norm=False``: the whole
  sequence probability); every sample counts, duplicates included, as there.
- discrete semantic entropy: the same with each set weighed by its share
  of the k samples (no log-probs needed).
- number of semantic sets.

Scores are negated (higher = more likely correct): k identical samples give
0 and -1 set; k samples in k sets give -log k (discrete) and -k sets.
"""
from __future__ import annotations

import numpy as np

from calib_eval.scorers.base import SCORERS, ScorerConfig
from calib_eval.scorers.family import SampleScorer, SampleView


def semantic_sets(equivalent: np.ndarray) -> list[int]:
    """Set id per sample, numbered in order of first appearance."""
    ids: list[int] = []
    firsts: list[int] = []  # first member of each set
    for i in range(len(equivalent)):
        match = next((s for s, first in enumerate(firsts) if equivalent[first, i]), None)
        if match is None:
            match = len(firsts)
            firsts.append(i)
        ids.append(match)
    return ids


def _logsumexp(x: np.ndarray) -> float:
    top = float(np.max(x))
    return top + float(np.log(np.sum(np.exp(x - top))))


def semantic_entropy(set_ids, log_weights) -> float:
    """Entropy (nats) of set probabilities proportional to the summed sample weights."""
    ids = np.asarray(set_ids)
    lw = np.asarray(log_weights, dtype=np.float64)
    if len(ids) == 0 or len(ids) != len(lw) or not np.all(np.isfinite(lw)):
        raise ValueError(f"need one finite log-weight per sample, got {len(lw)} for {len(ids)} samples")
    total = _logsumexp(lw)
    log_p = np.array([_logsumexp(lw[ids == s]) for s in np.unique(ids)]) - total
    return float(-(np.exp(log_p) * log_p).sum())


def discrete_semantic_entropy(set_ids) -> float:
    """Entropy (nats) of the sets' shares of the samples."""
    return semantic_entropy(set_ids, np.zeros(len(set_ids)))


def sample_log_weights(view: SampleView, length_norm: bool) -> np.ndarray:
    lp = np.asarray(view.samples.logprobs, dtype=np.float64)
    return lp / np.maximum(np.asarray(view.samples.n_tokens), 1) if length_norm else lp


@SCORERS.register("semantic_entropy")
class SemanticEntropy(SampleScorer):
    """Negative semantic entropy (Kuhn et al. 2023): sets weighed by their samples' probabilities."""

    name = "semantic_entropy"

    def statistic(self, view: SampleView, cfg: ScorerConfig) -> float:
        weights = sample_log_weights(view, cfg.semantic_length_norm)
        return -semantic_entropy(semantic_sets(view.equivalent), weights)

    def describe(self, batch) -> dict:
        norm = "mean token log-prob" if batch.config.semantic_length_norm else "sequence log-prob"
        return {**super().describe(batch), "sample_weight": norm}


@SCORERS.register("discrete_semantic_entropy")
class DiscreteSemanticEntropy(SampleScorer):
    """Negative discrete semantic entropy (Farquhar et al. 2024): sets weighed by sample counts."""

    name = "discrete_semantic_entropy"

    def statistic(self, view: SampleView, cfg: ScorerConfig) -> float:
        return -discrete_semantic_entropy(semantic_sets(view.equivalent))


@SCORERS.register("num_semantic_sets")
class NumSemanticSets(SampleScorer):
    """Negative number of semantic sets among the k samples."""

    name = "num_semantic_sets"

    def statistic(self, view: SampleView, cfg: ScorerConfig) -> float:
        return -float(len(set(semantic_sets(view.equivalent))))
