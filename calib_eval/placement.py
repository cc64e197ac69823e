"""Where a model's weights go when one device is not enough.

`--device-map auto` hands placement to accelerate's big-model loading (layers
spread over the GPUs, then CPU RAM), `--max-memory 0=20GiB,cpu=64GiB` caps
what each device may hold, and `--quantize 8bit|4bit` loads the weights with
bitsandbytes. Without any of these the model loads whole onto one device
(calib_eval.models) and nothing here runs.
"""
from __future__ import annotations

import re
from dataclasses import dataclass

from calib_eval.errors import ModelError, unknown_name

# accelerate's placement strategies (transformers passes these names through)
DEVICE_MAPS = ("auto", "balanced", "balanced_low_0", "sequential")
QUANTIZE = ("8bit", "4bit")
_SIZE = re.compile(r"^\d+(\.\d+)?\s*([KMGT]i?B)?$", re.IGNORECASE)


@dataclass(frozen=True)
class Placement:
    """The big-model loading options; all None means "one device, whole model"."""

    device_map: str | None = None  # auto | balanced | balanced_low_0 | sequential
    max_memory: str | None = None  # "0=20GiB,1=20GiB,cpu=64GiB" (needs a device_map)
    quantize: str | None = None  # 8bit | 4bit (bitsandbytes; implies device_map auto)

    def __post_init__(self) -> None:
        if self.device_map is not None and self.device_map not in DEVICE_MAPS:
            raise unknown_name("device map", self.device_map, DEVICE_MAPS)
        if self.quantize is not None and self.quantize not in QUANTIZE:
            raise unknown_name("quantization", self.quantize, QUANTIZE)
        if self.max_memory is not None:
            if self.device_map is None and self.quantize is None:
                raise ModelError("--max-memory caps what accelerate's device map puts on each device; "
                                 "pass --device-map auto with it")
            parse_max_memory(self.max_memory)

    @property
    def is_default(self) -> bool:
        return self.device_map is None and self.quantize is None


def parse_max_memory(text: str) -> dict:
    """"0=20GiB,cpu=64GiB" -> {0: "20GiB", "cpu": "64GiB"} (GPU indexes as ints, as accelerate wants)."""
    limits: dict = {}
    for part in (p.strip() for p in text.split(",") if p.strip()):
        key, sep, size = (s.strip() for s in part.partition("="))
        if not sep or not key or not _SIZE.match(size):
            raise ModelError(f"--max-memory expects DEVICE=SIZE pairs such as 0=20GiB,cpu=64GiB; got {part!r}")
        size = int(size) if size.isdigit() else size  # bare bytes: accelerate wants an int
        if key.isdigit():
            limits[int(key)] = size
        elif key in ("cpu", "mps", "disk"):
            limits[key] = size
        else:
            raise ModelError(f"--max-memory device {key!r} is neither a GPU index (0, 1, ...) nor cpu/mps/disk")
    if not limits:
        raise ModelError("--max-memory is empty; give DEVICE=SIZE pairs such as 0=20GiB,cpu=64GiB")
    return limits


def from_pretrained_kwargs(placement: Placement, torch_dtype, max_memory: dict | None = None) -> dict:
    """Extra keyword arguments for `from_pretrained`; empty for the one-device default.

    `max_memory` (already parsed, e.g. narrowed to one data-parallel rank's GPUs)
    replaces the placement's own string when given.
    """
    if placement.is_default:
        return {}
    kwargs: dict = {"device_map": placement.device_map or "auto"}
    limits = max_memory if max_memory is not None else (
        parse_max_memory(placement.max_memory) if placement.max_memory else None)
    if limits is not None:
        kwargs["max_memory"] = limits
    if placement.quantize:
        kwargs["quantization_config"] = quantization_config(placement.quantize, torch_dtype)
    return kwargs


def quantization_config(kind: str, torch_dtype):
    """bitsandbytes settings; a clear error when the package (or a GPU) is missing."""
    import importlib.util

    import torch

    if importlib.util.find_spec("bitsandbytes") is None:
        raise ModelError(f"--quantize {kind} loads the weights with bitsandbytes, which is not installed "
                         f"(pip install bitsandbytes)")
    if not torch.cuda.is_available():
        raise ModelError(f"--quantize {kind} needs a CUDA GPU: bitsandbytes quantizes on the GPU")
    from transformers import BitsAndBytesConfig

    if kind == "8bit":
        return BitsAndBytesConfig(load_in_8bit=True)
    return BitsAndBytesConfig(load_in_4bit=True, bnb_4bit_quant_type="nf4", bnb_4bit_compute_dtype=torch_dtype)


def input_device(model) -> str:
    """Where inputs go: where the input embeddings run (accelerate's hooks move the rest).

    An embedding offloaded to disk sits on the meta device; its hook names the
    device it executes on.
    """
    import torch

    embeddings = model.get_input_embeddings()
    device = getattr(getattr(embeddings, "_hf_hook", None), "execution_device", None)
    return str(torch.device(device) if device is not None else embeddings.weight.device)
