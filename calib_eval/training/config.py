"""One config dataclass per training method, defaults from the papers.

Every field carries a one-line ``help`` in its metadata; the CLI flags are
generated from these fields (calib_eval.training.cli), so defaults live here
only. ``__post_init__`` validates values up front.
"""
from __future__ import annotations

from dataclasses import dataclass, field, fields
from typing import Any

from calib_eval.training.errors import TrainingError


def opt(default: Any, help: str, **kw: Any) -> Any:
    """A dataclass field with help text (lists/tuples get a factory)."""
    if isinstance(default, (list, dict)):
        return field(default_factory=lambda: type(default)(default), metadata={"help": help, **kw})
    return field(default=default, metadata={"help": help, **kw})


def _check(cond: bool, message: str) -> None:
    if not cond:
        raise TrainingError(message)


@dataclass
class TrainConfig:
    """Settings every method shares: data, optimisation, checkpoints, output."""

    method: str = opt("calibration-tune", "training method (see `calib-eval train --help`)")
    model: str = opt("default", "base model: zoo name, local HF folder or hub id")
    output: str = opt("", "adapter folder to write (adapters/<name>)")
    overwrite: bool = opt(False, "replace an existing output folder")
    resume: bool = opt(False, "continue from the last checkpoint in the output folder")
    sources: tuple = opt(("arc_challenge", "commonsense_qa", "strategy_qa", "anli", "boolq", "openbookqa"),
                         "training data sets (Kapoor et al.'s mix; never MMLU or an evaluation task)")
    max_examples: int = opt(1000, "graded examples drawn evenly across sources (~1,000 give most of the gain)")
    max_new_tokens: int = opt(32, "answer length budget when generating the model's own answers")
    gen_batch_size: int = opt(8, "batch size when generating the graded answers")
    keep_empty: bool = opt(False, "keep examples whose generated answer is empty (by default dropped: "
                           "the query would ask about no answer at all)")
    balance: bool = opt(False, "down-sample the majority class (correct/incorrect) to the minority's size")
    holdout_fraction: float = opt(0.1, "share of graded examples held out for the card's metrics")
    steps: int = opt(1000, "optimiser steps (Kapoor et al.: a few thousand; 1,000 examples suffice)")
    batch_size: int = opt(4, "examples per optimiser step (before accumulation)")
    grad_accum: int = opt(1, "gradient accumulation steps (effective batch = batch_size * grad_accum)")
    lr: float = opt(1e-4, "peak learning rate (AdamW, cosine decay)")
    warmup_steps: int = opt(0, "linear warm-up steps before the cosine decay")
    weight_decay: float = opt(0.0, "AdamW weight decay")
    checkpoint_every: int = opt(100, "save a resumable checkpoint every N steps (0: never)")
    log_every: int = opt(10, "print the running loss every N steps")
    seed: int = opt(0, "seed for data selection, order and initialisation")
    device: str = opt("auto", "auto (CUDA + bf16 autocast if present, else CPU float32), cpu, cuda")
    device_map: str = opt("", "big models: spread the base over GPUs and CPU with accelerate "
                          "(auto, balanced, balanced_low_0, sequential); empty: one device")
    max_memory: str = opt("", "per-device caps for device_map, e.g. 0=20GiB,1=20GiB,cpu=64GiB")
    mixed_precision: str = opt("auto", "auto (bf16 autocast on CUDA, none on CPU, or what `accelerate launch "
                               "--mixed_precision` says), no (float32), bf16 (autocast; weights stay float32)")
    gradient_checkpointing: bool = opt(False, "recompute activations in the backward pass: less memory, ~30% "
                                       "more compute (long sequences, big models)")
    quantize: str = opt("", "4bit: QLoRA (the frozen base in NF4 via bitsandbytes, LoRA in float32); 8bit; "
                        "empty: full-precision base")
    data_root: str = opt("", "offline data folder (else $CALIB_EVAL_DATA)")
    cache_dir: str = opt("", "graded-example cache folder (default ~/.cache/calib-eval/graded)")

    def __post_init__(self) -> None:
        self.sources = tuple(self.sources)
        _check(self.max_examples >= 2, f"max_examples must be >= 2, got {self.max_examples}")
        _check(self.steps >= 1, f"steps must be >= 1, got {self.steps}")
        _check(self.batch_size >= 1 and self.grad_accum >= 1, "batch_size and grad_accum must be >= 1")
        _check(self.lr > 0, f"lr must be positive, got {self.lr}")
        _check(0.0 <= self.holdout_fraction < 0.9, f"holdout_fraction must be in [0, 0.9), got {self.holdout_fraction}")
        _check(self.checkpoint_every >= 0, "checkpoint_every must be >= 0")
        _check(self.mixed_precision in ("auto", "no", "bf16"),
               f"mixed_precision must be auto, no or bf16, got {self.mixed_precision!r}")
        self.placement  # noqa: B018 - validates device_map / max_memory / quantize up front
        _check(bool(self.sources), "sources must name at least one data set")
        _check(not any(s.startswith("mmlu") for s in self.sources),
               "MMLU is evaluation data and is never trained on (Kapoor et al.); remove it from sources")

    @property
    def placement(self):
        from calib_eval.placement import Placement

        return Placement(self.device_map or None, self.max_memory or None, self.quantize or None)


@dataclass
class LoraConfig(TrainConfig):
    """LoRA settings (Kapoor et al.: r=8, alpha=32, dropout 0.1, lr 1e-4 cosine, batch 4)."""

    lora_r: int = opt(8, "LoRA rank")
    lora_alpha: int = opt(32, "LoRA alpha (scale = alpha / r)")
    lora_dropout: float = opt(0.1, "dropout on the LoRA input")
    target_modules: tuple = opt(("q_proj", "k_proj", "v_proj", "o_proj"), "modules that get LoRA deltas")

    def __post_init__(self) -> None:
        super().__post_init__()
        self.target_modules = tuple(self.target_modules)
        _check(self.lora_r >= 1 and self.lora_alpha > 0, "lora_r must be >= 1 and lora_alpha > 0")
        _check(0.0 <= self.lora_dropout < 1.0, f"lora_dropout must be in [0, 1), got {self.lora_dropout}")


@dataclass
class CalibrationTuneConfig(LoraConfig):
    """LoRA+Prompt: CE on the i/ii answer of the uncertainty query + divergence to the frozen base."""

    divergence: str = opt("js", "regulariser over the answer tokens: js (Jensen-Shannon), kl, none")
    divergence_weight: float = opt(1.0, "weight of the divergence term (without it ECE got ~0.30)")

    def __post_init__(self) -> None:
        super().__post_init__()
        _check(self.divergence in ("js", "kl", "none"), f"divergence must be js, kl or none, got {self.divergence!r}")
        _check(self.divergence_weight >= 0, "divergence_weight must be >= 0")


@dataclass
class ProbeConfig(TrainConfig):
    """MLP head (d->256->128->64->2) on the frozen model's last-token hidden state of the query."""

    steps: int = opt(1000, "optimiser steps on the cached features")
    batch_size: int = opt(32, "features per step")
    lr: float = opt(1e-3, "head learning rate (AdamW, cosine decay)")
    head_hidden: tuple = opt((256, 128, 64), "hidden widths of the probe MLP (reference code)")

    def __post_init__(self) -> None:
        super().__post_init__()
        self.head_hidden = tuple(int(h) for h in self.head_hidden)


@dataclass
class LoraProbeConfig(LoraConfig):
    """LoRA through the model + the probe head, trained jointly with CE on the head."""

    head_hidden: tuple = opt((256, 128, 64), "hidden widths of the probe MLP (reference code)")
    head_lr: float = opt(1e-3, "learning rate of the head (LoRA uses lr)")

    def __post_init__(self) -> None:
        super().__post_init__()
        self.head_hidden = tuple(int(h) for h in self.head_hidden)


@dataclass
class UaClmConfig(LoraConfig):
    """UA-CLM (Krishnan et al.): entropy-shaping loss on the reference answer's tokens."""

    ce_weight: float = opt(0.0, "weight of an added plain CE term (the paper leaves it open)")
    p_source: str = opt("predicted", "p in the loss: predicted (max prob) or target (prob of the reference token)")

    def __post_init__(self) -> None:
        super().__post_init__()
        _check(self.ce_weight >= 0, "ce_weight must be >= 0")
        _check(self.p_source in ("predicted", "target"), f"p_source must be predicted or target, got {self.p_source!r}")


@dataclass
class VerbalizedSftConfig(LoraConfig):
    """SFT to state "Confidence (0-100): NN" after the answer (Steyvers et al.)."""

    target_mode: str = opt("shrunk", "NN from: binary (90/10), source (per-source accuracy), "
                           "shrunk (source acc + shrink * (correct - source acc))")
    shrink: float = opt(0.8, "for target_mode=shrunk: how far targets move from source accuracy to 0/1")
    round_to: int = opt(5, "round targets to a multiple of this many percent")

    def __post_init__(self) -> None:
        super().__post_init__()
        _check(self.target_mode in ("binary", "source", "shrunk"), f"bad target_mode {self.target_mode!r}")
        _check(0.0 <= self.shrink <= 1.0, "shrink must be in [0, 1]")
        _check(1 <= self.round_to <= 50, "round_to must be in [1, 50]")


@dataclass
class PairwiseSftConfig(LoraConfig):
    """SFT to say which of two questions the model more likely answers correctly (target 1/2)."""

    n_pairs: int = opt(1000, "pairs drawn from examples with differing correctness")

    def __post_init__(self) -> None:
        super().__post_init__()
        _check(self.n_pairs >= 1, "n_pairs must be >= 1")


@dataclass
class MultitaskSftConfig(VerbalizedSftConfig):
    """Verbalized + pairwise SFT together (transfers best, Steyvers et al.)."""

    n_pairs: int = opt(1000, "pairs drawn from examples with differing correctness")

    def __post_init__(self) -> None:
        super().__post_init__()
        _check(self.n_pairs >= 1, "n_pairs must be >= 1")


@dataclass
class TemperatureConfig(TrainConfig):
    """One scalar temperature for a probability-valued scorer, fitted on MMLU val."""

    scorer: str = opt("zero_shot_classifier", "probability-valued scorer to calibrate")
    val_task: str = opt("mmlu_oe_calib", "task whose validation split is used")
    val_split: str = opt("val", "split of the task's data set to fit on")
    val_limit: int = opt(0, "first N validation items (0: all)")

    def __post_init__(self) -> None:
        super().__post_init__()
        _check(self.val_limit >= 0, "val_limit must be >= 0")


def config_fields(cls) -> dict[str, Any]:
    return {f.name: f for f in fields(cls)}
