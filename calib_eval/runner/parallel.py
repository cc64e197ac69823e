"""Data parallelism under `accelerate launch`: each process takes every
world-th item, writes its own per-item cache, and process 0 merges them.

    accelerate launch --num_processes 4 -m calib_eval.cli run --model M --tasks ...

Without a launcher this is a single process and nothing changes.
"""
from __future__ import annotations

import os
from dataclasses import dataclass


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

    def barrier(self) -> None:
        if self.world > 1:
            from accelerate import PartialState

            PartialState().wait_for_everyone()


def current_shard() -> Shard:
    world = int(os.environ.get("WORLD_SIZE", "1"))
    return Shard(int(os.environ.get("RANK", "0")), world) if world > 1 else Shard()
