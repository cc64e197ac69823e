"""The trainer under accelerate: one Accelerator per run, data parallel by micro-batch.

    accelerate launch --multi_gpu --num_processes 4 -m calib_eval.cli train ...   # 4 GPUs (or 4 CPU procs)

Data parallelism splits the *gradient-accumulation* micro-batches over the
processes: a step of W processes with ``grad_accum`` A reads the W*A
micro-batches that one process with accumulation W*A reads, each micro-batch
whole (same rows, same padding) and with the same dropout masks (seeded by
its global index). Every loss here is a mean over its micro-batch, so the
averaged gradient, and hence the loss curve, is the one-process curve up to
float rounding of the reduction; see docs/training-at-scale.md.

FSDP (``accelerate launch --config_file fsdp.yaml``) shards the base model's
weights instead; the same loop runs, see the doc for the configuration.
"""
from __future__ import annotations

import os

from calib_eval.training.errors import TrainingError

PRECISIONS = ("auto", "no", "bf16")


def launched_world() -> int:
    """Processes started by a launcher (torchrun / accelerate launch), 1 when run directly."""
    return int(os.environ.get("WORLD_SIZE", "1"))


def requested_precision(precision: str, device: str) -> str | None:
    """accelerate's mixed_precision for this run; None lets `accelerate launch --mixed_precision` decide."""
    if precision not in PRECISIONS:
        raise TrainingError(f"mixed_precision must be one of {', '.join(PRECISIONS)}, got {precision!r}")
    if precision != "auto":
        return precision
    if os.environ.get("ACCELERATE_MIXED_PRECISION"):
        return None
    return "bf16" if str(device).startswith("cuda") else "no"  # today's default: bf16 autocast on CUDA only


def make_accelerator(precision: str, device: str):
    """An Accelerator for this run (CPU when asked for or when no GPU is present)."""
    import torch
    from accelerate import Accelerator
    from accelerate.state import AcceleratorState

    cpu = device == "cpu" or (device == "auto" and not torch.cuda.is_available())
    wanted = requested_precision(precision, "cpu" if cpu else "cuda")
    state = AcceleratorState._shared_state
    if launched_world() == 1 and state and wanted is not None and state.get("_mixed_precision") != wanted:
        # accelerate keeps one process-wide state and refuses a second precision; a single
        # process that trains twice (tests, notebooks) may legitimately change it
        AcceleratorState._reset_state()
    return Accelerator(cpu=cpu, mixed_precision=wanted, device_placement=False)


def is_sharded(accelerator) -> bool:
    """FSDP: each process holds a shard of the weights (DeepSpeed is refused, see check_supported)."""
    from accelerate.utils import DistributedType

    return accelerator.distributed_type == DistributedType.FSDP


def check_supported(accelerator, cfg) -> None:
    """Refuse, before any model loads, what the loop cannot do under this launcher."""
    from accelerate.utils import DistributedType

    if os.environ.get("ACCELERATE_USE_FSDP", "").lower() == "true" and not is_sharded(accelerator):
        raise TrainingError("FSDP was requested (accelerate launch --use_fsdp / an FSDP config) but accelerate "
                            "enables FSDP on GPUs only; on CPU this run would silently become plain data parallel. "
                            "Launch with --multi_gpu for data parallelism (CPU processes over gloo on a GPU-less "
                            "machine) or run FSDP on GPUs")
    if accelerator.distributed_type == DistributedType.DEEPSPEED:
        raise TrainingError("the trainer does not run under DeepSpeed (the frozen reference pass and the held-out "
                            "scoring call the model outside DeepSpeed's engine); use FSDP or data parallelism "
                            "(docs/training-at-scale.md)")
    if is_sharded(accelerator) and (cfg.resume or cfg.checkpoint_every):
        raise TrainingError("checkpoints and --resume are not supported under FSDP yet; "
                            "pass --checkpoint-every 0 (see docs/training-at-scale.md)")
    if is_sharded(accelerator) and cfg.quantize:
        raise TrainingError("--quantize (QLoRA) runs data parallel, one 4-bit copy per GPU, not under FSDP; "
                            "launch with --multi_gpu instead (docs/training-at-scale.md)")


def describe(accelerator) -> dict:
    """What the adapter card records about how it was trained."""
    return {"mixed_precision": accelerator.mixed_precision, "num_processes": accelerator.num_processes,
            "distributed_type": str(accelerator.distributed_type).split(".")[-1].lower()}


def micro_batch_index(step: int, rank: int, micro: int, world: int, grad_accum: int) -> int:
    """Global index of this rank's micro-batch: step s reads micro-batches s*W*A .. (s+1)*W*A - 1."""
    return (step * world + rank) * grad_accum + micro


def unwrap(module):
    """The module a DistributedDataParallel wrapper holds (FSDP2 shards in place: nothing to unwrap)."""
    from torch.nn.parallel import DistributedDataParallel

    return module.module if isinstance(module, DistributedDataParallel) else module


def full_tensor(param):
    """A parameter's whole value: FSDP2 holds DTensor shards (gathering is collective: every rank calls)."""
    return param.full_tensor() if hasattr(param, "full_tensor") else param


def gathered_state(module) -> dict:
    """A module's state dict with whole CPU tensors (FSDP2 shards gathered); collective."""
    return {name: full_tensor(t).detach().cpu() for name, t in module.state_dict().items()}


def gathered_trainable(model) -> dict:
    """name -> whole CPU tensor of every trainable parameter (the LoRA), gathered from the shards; collective."""
    return {name: full_tensor(p).detach().cpu() for name, p in model.named_parameters() if p.requires_grad}
