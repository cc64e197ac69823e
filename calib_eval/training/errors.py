"""Errors the trainer raises for bad input (all print as one clean CLI message)."""
from __future__ import annotations

from calib_eval.errors import CalibEvalError


class TrainingError(CalibEvalError):
    """Training cannot start or continue: one-class data, bad config, bad checkpoint."""


class OutputExistsError(TrainingError):
    """The output folder exists and overwrite was not asked for."""
