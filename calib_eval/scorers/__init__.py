"""Uncertainty scorers, one module each, behind one registry (SCORERS)."""
from calib_eval.scorers import adapted, entropy, likelihood, max_softmax, ptrue, sampling, verbalized  # noqa: F401
from calib_eval.scorers.base import SCORERS, Scorer, ScorerConfig, ScoringBatch, get_scorer

__all__ = ["SCORERS", "Scorer", "ScorerConfig", "ScoringBatch", "get_scorer"]
