"""Training methods, one small module each, in one registry: TRAINERS.

A method is a class with ``name``, ``scorer`` (the runner scorer that uses
its adapter), ``config_class`` and ``train(ctx) -> TrainOutcome``.
"""
from __future__ import annotations

from calib_eval.training.methods.base import TRAINERS, TrainContext, TrainOutcome, get_method
from calib_eval.training.methods import (calibration_tune, lora_probe, probe, sft, temperature,  # noqa: F401
                                         ua_clm)

__all__ = ["TRAINERS", "TrainContext", "TrainOutcome", "get_method"]
