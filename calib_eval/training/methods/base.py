"""What every method gets (TrainContext) and gives back (TrainOutcome), and the registry."""
from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from calib_eval.registry import Registry

TRAINERS: Registry[type] = Registry("training method")


@dataclass
class TrainContext:
    cfg: Any  # the method's config dataclass
    loaded: Any  # LoadedModel (float32 weights; bf16 autocast on CUDA)
    train: list  # GradedExample rows to learn from
    holdout: list  # GradedExample rows for the card's held-out metrics
    output: Path | None  # adapter folder (checkpoints go under it)
    console: Any = None
    accelerator: Any = None  # accelerate.Accelerator of this run (None: a single-process one is made)

    @property
    def device(self) -> str:
        return self.loaded.device


@dataclass
class TrainOutcome:
    peft_model: Any = None  # PeftModel whose adapter is saved, or None
    head: Any = None  # ProbeHead, or None
    steps: int = 0
    resumed_from: int = 0
    final_loss: float | None = None
    metrics: dict = field(default_factory=dict)  # held-out metrics for the card
    card: dict = field(default_factory=dict)  # extra card fields (e.g. temperature)
    # per held-out item (ctx.holdout order), scorer name -> score: lets two adapters trained on the
    # same split be compared item by item (paired CIs) without re-running either
    heldout_scores: dict = field(default_factory=dict)


def get_method(name: str):
    import calib_eval.training.methods  # noqa: F401  (registers the built-in methods)

    return TRAINERS.get(name)


def holdout_metrics(scores, correct) -> dict:
    """AUROC / ECE / Brier of P(correct) scores on held-out graded examples."""
    import warnings

    from calib_eval.metrics import brier_score, expected_calibration_error, roc_auc

    if not len(scores):
        return {}
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        auroc = roc_auc(scores, correct)
    return {"n": len(scores), "accuracy": float(sum(correct) / len(correct)), "auroc": float(auroc),
            "ece": float(expected_calibration_error(scores, correct)), "brier": float(brier_score(scores, correct))}


def final_loss(losses) -> float | None:
    tail = [v for _, v in losses[-20:]]
    return sum(tail) / len(tail) if tail else None
