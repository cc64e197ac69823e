"""Trainers: base model + ~1,000 graded examples -> a small adapter folder.

Methods (one registry, ``TRAINERS``): calibration-tune (LoRA+Prompt), probe,
lora-probe, ua-clm, verbalized-sft, pairwise-sft, multitask-sft, temperature.
Entry points: :func:`train` (a config dataclass -> adapter folder) and the
CLI pieces in :mod:`calib_eval.training.cli`. Nothing is imported eagerly
beyond the small config/registry modules (no model loads at import).
"""
from __future__ import annotations

from calib_eval.training.api import train
from calib_eval.training.errors import OutputExistsError, TrainingError


def __getattr__(name: str):
    if name == "TRAINERS":
        from calib_eval.training.methods import TRAINERS

        return TRAINERS
    raise AttributeError(name)


__all__ = ["OutputExistsError", "TRAINERS", "TrainingError", "train"]
