"""Graph uncertainty over the k samples (Lin, Trivedi & Sun 2023, "Generating with Confidence").

The samples are nodes of a weighted graph, W[i, j] in [0, 1] their
similarity (W[i, i] = 1); D = diag(row sums); L = I - D^-1/2 W D^-1/2.

- EigV: sum over L's eigenvalues of max(0, 1 - lambda), a soft count of
  semantic sets (1 for k identical samples, k for k unrelated ones).
- Degree: trace(kI - D) / k^2 = 1 - mean(W) (0 when all agree).
- Eccentricity: each sample embedded by the eigenvectors of L whose eigenvalue
  is below ``eccentricity_threshold`` (0.9, as Lin et al.), the rows centred;
  the Frobenius norm of the centred embedding (0 when all agree, sqrt(k - 1)
  for k unrelated samples).

The edge weight is ``graph_similarity``: "equivalence" (the equivalence
backend's similarity: 0/1 for the grader, mean bidirectional entailment
probability for NLI) or "rouge_l". Scores are negated uncertainties.
"""
from __future__ import annotations

import numpy as np

from calib_eval.scorers.base import SCORERS, ScorerConfig
from calib_eval.scorers.family import SampleScorer, SampleView
from calib_eval.scorers.lexical import rouge_l_matrix


def _check(w) -> np.ndarray:
    w = np.asarray(w, dtype=np.float64)
    if w.ndim != 2 or w.shape[0] != w.shape[1] or w.shape[0] == 0:
        raise ValueError(f"similarity must be a non-empty square matrix, got shape {w.shape}")
    if not np.allclose(w, w.T) or np.any(w < 0) or not np.allclose(np.diag(w), 1):
        raise ValueError("similarity must be symmetric, non-negative, with a unit diagonal")
    return w


def laplacian(w) -> np.ndarray:
    """Symmetric normalised graph Laplacian I - D^-1/2 W D^-1/2."""
    w = _check(w)
    inv_sqrt = 1.0 / np.sqrt(w.sum(axis=1))  # the unit diagonal keeps every degree >= 1
    return np.eye(len(w)) - inv_sqrt[:, None] * w * inv_sqrt[None, :]


def eigv(w) -> float:
    eigenvalues = np.linalg.eigvalsh(laplacian(w))
    return float(np.clip(1.0 - eigenvalues, 0.0, None).sum())


def degree(w) -> float:
    w = _check(w)
    k = len(w)
    return float((k * k - w.sum()) / (k * k))


def eccentricity(w, threshold: float = 0.9) -> float:
    eigenvalues, vectors = np.linalg.eigh(laplacian(w))
    embedding = vectors[:, eigenvalues < threshold]  # (k samples, kept eigenvectors)
    return float(np.linalg.norm(embedding - embedding.mean(axis=0, keepdims=True)))


def graph_weights(view: SampleView, cfg: ScorerConfig) -> np.ndarray:
    if cfg.graph_similarity == "rouge_l":
        return rouge_l_matrix(view.samples.texts)
    return view.similarity


class GraphScorer(SampleScorer):
    def describe(self, batch) -> dict:
        how = batch.config.graph_similarity
        return {"graph_weight": f"equivalence ({batch.shared['equivalence']})" if how == "equivalence" else how}


@SCORERS.register("eigv")
class EigV(GraphScorer):
    """Negative EigV (Lin et al. 2023): a soft number of semantic sets from the graph Laplacian."""

    name = "eigv"

    def statistic(self, view: SampleView, cfg: ScorerConfig) -> float:
        return -eigv(graph_weights(view, cfg))


@SCORERS.register("degree")
class Degree(GraphScorer):
    """Negative Degree uncertainty (Lin et al. 2023): 1 - mean pairwise similarity."""

    name = "degree"

    def statistic(self, view: SampleView, cfg: ScorerConfig) -> float:
        return -degree(graph_weights(view, cfg))


@SCORERS.register("eccentricity")
class Eccentricity(GraphScorer):
    """Negative Eccentricity (Lin et al. 2023): spread of the samples' spectral embedding."""

    name = "eccentricity"

    def statistic(self, view: SampleView, cfg: ScorerConfig) -> float:
        return -eccentricity(graph_weights(view, cfg), cfg.eccentricity_threshold)
