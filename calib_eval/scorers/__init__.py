"""Uncertainty scorers, one module per scorer or family, behind one registry (SCORERS)."""
from calib_eval.scorers import adapted, entropy, likelihood, max_softmax, ptrue, verbalized  # noqa: F401
from calib_eval.scorers import graph, lexical, sampling, semantic  # noqa: F401  (the sampling family)
from calib_eval.scorers.base import SCORERS, Scorer, ScorerConfig, ScoringBatch, get_scorer

__all__ = ["SCORERS", "Scorer", "ScorerConfig", "ScoringBatch", "get_scorer"]
