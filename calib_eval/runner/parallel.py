"""Data parallelism under `accelerate launch`: each process takes every
world-th item, writes its own per-item cache, and process 0 merges them.

    accelerate launch --num_processes 4 -m calib_eval.cli run --model M --tasks ...

Without a launcher this is a single process and nothing changes. On a machine
without GPUs, `accelerate launch --cpu --num_processes 2` starts ONE process
(accelerate's CPU launcher expects mpirun); `accelerate launch --multi_gpu
--num_processes 2` (torchrun underneath, gloo on CPU) starts two, as
tests/engine/test_engine_multiprocess.py does. A killed rank loses no finished
item: rerun the same command and every rank resumes from its cache.
"""
from __future__ import annotations

import os
from dataclasses import dataclass

from calib_eval.errors import CalibEvalError


@dataclass(frozen=True)
class Shard:
    rank: int = 0
    world: int = 1

    @property
    def is_main(self) -> bool:
        return self.rank == 0

    def take(self, indices: list[int]) -> list[int]:
        return indices[self.rank :: self.world]

    def cache_name(self) -> str:
        return "items.partial.jsonl" if self.world == 1 else f"items.partial.rank{self.rank}.jsonl"

    def device(self, device: str) -> str:
        """Each process on its own GPU when the device is CUDA."""
        if self.world > 1 and device in ("auto", "cuda"):
            import torch

            if torch.cuda.is_available():
                return f"cuda:{int(os.environ.get('LOCAL_RANK', self.rank))}"
        return device

    def gpus(self, n_gpus: int) -> list[int]:
        """This rank's block of this machine's GPUs when each rank spreads its model copy over several."""
        rank = int(os.environ.get("LOCAL_RANK", self.rank))  # per machine when launched on several
        world = int(os.environ.get("LOCAL_WORLD_SIZE", self.world))
        if n_gpus < world:
            raise CalibEvalError(f"{world} data-parallel processes per machine with a device map need at least "
                                 f"{world} GPUs, found {n_gpus}")
        per = n_gpus // world
        return list(range(rank * per, (rank + 1) * per))

    def max_memory(self, placement) -> dict | None:
        """Memory caps for this rank's model copy, or None to keep the placement's own.

        Under `accelerate launch` with a device map, rank r maps its copy over its
        own block of GPUs only (8 GPUs, 2 ranks: 0-3 and 4-7), never a GPU that
        another rank fills; caps the user gave for those GPUs and the CPU are kept.
        """
        import psutil  # an accelerate dependency
        import torch

        if self.world == 1 or placement.is_default or not torch.cuda.is_available():
            return None
        from calib_eval.placement import parse_max_memory

        given = parse_max_memory(placement.max_memory) if placement.max_memory else {}
        free = {i: torch.cuda.mem_get_info(i)[0] for i in self.gpus(torch.cuda.device_count())}
        return narrow_max_memory(given, free, psutil.virtual_memory().available // self.world)

    def barrier(self) -> None:
        if self.world > 1:
            from accelerate import PartialState

            PartialState().wait_for_everyone()


def narrow_max_memory(given: dict, own_free: dict[int, int], cpu_share: int) -> dict:
    """Caps over this rank's GPUs only: the user's cap where given, else the GPU's free bytes.

    CPU RAM is shared by every rank on the machine, so without a cpu cap each
    rank may use its share (`cpu_share`); what fits nowhere goes to disk.
    """
    caps = {gpu: given.get(gpu, free) for gpu, free in own_free.items()}
    caps.update({k: v for k, v in given.items() if not isinstance(k, int)})  # cpu / disk caps stay
    caps.setdefault("cpu", cpu_share)
    return caps


def current_shard() -> Shard:
    world = int(os.environ.get("WORLD_SIZE", "1"))
    return Shard(int(os.environ.get("RANK", "0")), world) if world > 1 else Shard()
