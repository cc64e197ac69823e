"""The shared optimisation loop: AdamW, warm-up + cosine, accumulation, checkpoints.

Methods supply a ``loss_fn(rows) -> scalar tensor`` over a list of training
rows and the modules holding the trainable parameters; this loop owns the
order of the data (a seeded permutation per epoch, a pure function of the
step, so a resumed run sees the same batches), the optimiser, the schedule
and the checkpoints (``<output>/checkpoint/state.pt``, written atomically).
"""
from __future__ import annotations

import contextlib
import math
import os
import random
from dataclasses import dataclass, field
from pathlib import Path
from typing import Callable, Sequence

import torch

from calib_eval.training.errors import TrainingError

CHECKPOINT = "checkpoint/state.pt"


@dataclass
class LoopResult:
    steps: int
    resumed_from: int
    losses: list[tuple[int, float]] = field(default_factory=list)  # (step, mean loss of that step)


def seed_everything(seed: int) -> None:
    random.seed(seed)
    torch.manual_seed(seed)


def autocast(device: str):
    """bf16 autocast on CUDA, plain float32 elsewhere."""
    if str(device).startswith("cuda"):
        return torch.autocast("cuda", dtype=torch.bfloat16)
    return contextlib.nullcontext()


def cosine_lambda(total: int, warmup: int) -> Callable[[int], float]:
    def factor(step: int) -> float:
        if step < warmup:
            return (step + 1) / max(1, warmup)
        progress = (step - warmup) / max(1, total - warmup)
        return 0.5 * (1.0 + math.cos(math.pi * min(1.0, progress)))

    return factor


def batch_indices(k: int, batch_size: int, n: int, seed: int) -> list[int]:
    """Rows of micro-batch k: consecutive slots of per-epoch seeded permutations."""
    out = []
    for slot in range(k * batch_size, (k + 1) * batch_size):
        epoch, pos = divmod(slot, n)
        perm = list(range(n))
        random.Random(seed * 7919 + epoch).shuffle(perm)
        out.append(perm[pos])
    return out


def trainable_state(modules: dict[str, torch.nn.Module]) -> dict[str, torch.Tensor]:
    return {f"{m}.{n}": p.detach().cpu().clone() for m, mod in modules.items()
            for n, p in mod.named_parameters() if p.requires_grad}


def load_trainable_state(modules: dict[str, torch.nn.Module], state: dict[str, torch.Tensor]) -> None:
    for m, mod in modules.items():
        for n, p in mod.named_parameters():
            if p.requires_grad:
                key = f"{m}.{n}"
                if key not in state:
                    raise TrainingError(f"checkpoint does not match this method/config: {key} is missing")
                with torch.no_grad():
                    p.copy_(state[key].to(p.device))


def save_checkpoint(path: Path, modules, optimizer, scheduler, step: int, losses) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    tmp = path.with_suffix(".tmp")
    torch.save({"step": step, "params": trainable_state(modules), "optimizer": optimizer.state_dict(),
                "scheduler": scheduler.state_dict(), "losses": losses, "rng": torch.get_rng_state()}, tmp)
    os.replace(tmp, path)


def train_loop(rows: Sequence, loss_fn: Callable[[list], torch.Tensor], modules: dict[str, torch.nn.Module],
               param_groups: list[dict], cfg, output: Path | None, device: str = "cpu",
               console=None) -> LoopResult:
    """Run cfg.steps optimiser steps over `rows` (resuming from a checkpoint if asked)."""
    if not rows:
        raise TrainingError("no training rows")
    optimizer = torch.optim.AdamW(param_groups, lr=cfg.lr, weight_decay=cfg.weight_decay)
    scheduler = torch.optim.lr_scheduler.LambdaLR(optimizer, cosine_lambda(cfg.steps, cfg.warmup_steps))
    ckpt = Path(output) / CHECKPOINT if output else None
    start, losses = 0, []
    if cfg.resume and ckpt is not None and ckpt.is_file():
        state = torch.load(ckpt, weights_only=False)
        load_trainable_state(modules, state["params"])
        optimizer.load_state_dict(state["optimizer"])
        scheduler.load_state_dict(state["scheduler"])
        torch.set_rng_state(state["rng"])
        start, losses = int(state["step"]), list(state["losses"])
        _say(console, f"resuming from checkpoint step {start}/{cfg.steps}")
    elif cfg.resume:
        _say(console, "no checkpoint found; starting from step 0")
    for mod in modules.values():
        mod.train()
    params = [p for g in param_groups for p in g["params"]]
    with _progress(console) as progress:
        bar = progress.add_task("training", total=cfg.steps, completed=start, loss=float("nan"))
        for step in range(start, cfg.steps):
            total = 0.0
            for micro in range(cfg.grad_accum):
                idx = batch_indices(step * cfg.grad_accum + micro, cfg.batch_size, len(rows), cfg.seed)
                with autocast(device):
                    loss = loss_fn([rows[i] for i in idx]) / cfg.grad_accum
                loss.backward()
                total += float(loss.detach())
            torch.nn.utils.clip_grad_norm_(params, 1.0)
            optimizer.step()
            scheduler.step()
            optimizer.zero_grad(set_to_none=True)
            losses.append((step + 1, total))
            progress.update(bar, advance=1, loss=_recent(losses, cfg.log_every))
            if ckpt is not None and cfg.checkpoint_every and (step + 1) % cfg.checkpoint_every == 0 \
                    and step + 1 < cfg.steps:
                save_checkpoint(ckpt, modules, optimizer, scheduler, step + 1, losses)
    for mod in modules.values():
        mod.eval()
    return LoopResult(cfg.steps, start, losses)


def _recent(losses, n: int) -> float:
    tail = [v for _, v in losses[-max(1, n):]]
    return sum(tail) / len(tail)


def _say(console, text: str) -> None:
    (console.print if console is not None else print)(text)


def _progress(console):
    from rich.progress import BarColumn, MofNCompleteColumn, Progress, TextColumn, TimeRemainingColumn

    return Progress(TextColumn("{task.description}"), BarColumn(), MofNCompleteColumn(),
                    TextColumn("loss {task.fields[loss]:.4f}"), TimeRemainingColumn(), console=console,
                    transient=False, disable=console is None)
