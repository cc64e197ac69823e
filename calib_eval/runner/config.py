"""Runner settings (the CLI mirrors these fields; defaults live only here)."""
from __future__ import annotations

from dataclasses import dataclass, field

from calib_eval.engines.spec import ServerConfig
from calib_eval.errors import ConfigError
from calib_eval.models import DTYPES
from calib_eval.scorers.base import ScorerConfig


@dataclass
class RunConfig:
    model: str = "default"  # zoo name, local HF folder or hub id
    tasks: tuple[str, ...] = ("mmlu_oe_calib",)
    scorers: tuple[str, ...] = ("perplexity", "zero_shot_classifier")
    adapters: dict[str, str] = field(default_factory=dict)  # scorer name -> adapter folder
    limit: int | None = None  # first N items of the task's stable order (task_specs.stable_order)
    output: str = "runs/latest"
    batch_size: int = 8
    device: str = "auto"  # auto: CUDA + bf16 if present, else CPU float32
    dtype: str = "auto"
    # big models (calib_eval.placement): accelerate device map, per-device caps, bitsandbytes
    device_map: str | None = None  # auto | balanced | balanced_low_0 | sequential
    max_memory: str | None = None  # "0=20GiB,1=20GiB,cpu=64GiB" (with device_map)
    quantize: str | None = None  # 8bit | 4bit (needs bitsandbytes and a GPU)
    data_root: str | None = None
    bootstrap: int = 1000  # resamples for the 95% CIs
    n_bins: int = 10  # ECE bins (equal width)
    # conformal abstention (calib_eval.conformal): error rate among answered items <= alpha
    # with probability >= 1 - delta; fitted on half of each task's items, reported on the other
    abstain_alpha: float | None = None  # None: off
    abstain_delta: float = 0.1
    judge: str | None = None  # a model that judges each open answer; its agreement with the grader is recorded
    scorer: ScorerConfig = field(default_factory=ScorerConfig)
    server: ServerConfig = field(default_factory=ServerConfig)  # --model openai-completions:URL (calib_eval.engines)

    def __post_init__(self) -> None:
        if self.batch_size < 1:
            raise ConfigError(f"batch_size must be >= 1, got {self.batch_size}")
        if self.limit is not None and self.limit < 1:
            raise ConfigError(f"limit must be >= 1, got {self.limit}")
        if self.dtype not in DTYPES:
            raise ConfigError(f"dtype must be one of {', '.join(DTYPES)}, got {self.dtype!r}")
        for name in ("abstain_alpha", "abstain_delta"):
            value = getattr(self, name)
            if value is not None and not 0.0 < value < 1.0:
                raise ConfigError(f"{name} must be in (0, 1), got {value}")
        self.placement  # noqa: B018 - validates the big-model options before minutes of loading

    @property
    def placement(self):
        from calib_eval.placement import Placement

        return Placement(self.device_map, self.max_memory, self.quantize)
