"""The shared optimisation loop: AdamW, warm-up + cosine, accumulation, checkpoints.

Methods supply a ``loss_fn(rows, modules) -> scalar tensor`` over a list of
training rows (``modules``: the trainable modules as accelerate prepared them,
e.g. wrapped for data parallelism) and the modules holding the trainable
parameters; this loop owns the order of the data (a seeded permutation per
epoch, a pure function of the step, so a resumed run sees the same batches),
the dropout seed of each micro-batch (a pure function of its index, so two
processes draw the masks one process draws), the optimiser, the schedule,
the gradient exchange between processes (calib_eval.training.parallel) and
the checkpoints (``<output>/checkpoint/state.pt``, written atomically by the
main process).
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
LOSSES = "train_losses.json"  # [[step, mean loss over every process's micro-batches], ...]


@dataclass
class LoopResult:
    steps: int
    resumed_from: int
    losses: list[tuple[int, float]] = field(default_factory=list)  # (step, mean loss of that step)


def seed_everything(seed: int) -> None:
    random.seed(seed)
    torch.manual_seed(seed)


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
                "scheduler": scheduler.state_dict(), "losses": losses}, tmp)
    os.replace(tmp, path)


def micro_batch_seed(seed: int, index: int) -> int:
    """Dropout seed of global micro-batch `index`: the same in whichever process reads it."""
    return seed * 1_000_003 + index


def train_loop(rows: Sequence, loss_fn: Callable[[list, dict], torch.Tensor], modules: dict[str, torch.nn.Module],
               cfg, output: Path | None, accelerator=None, console=None, lrs: dict | None = None) -> LoopResult:
    """Run cfg.steps optimiser steps over `rows` (resuming from a checkpoint if asked).

    `lrs` maps a module name to its own learning rate (default cfg.lr). With
    W processes a step reads W * cfg.grad_accum micro-batches of cfg.batch_size.
    """
    from calib_eval.training import parallel

    if not rows:
        raise TrainingError("no training rows")
    accelerator = accelerator or parallel.make_accelerator(cfg.mixed_precision, cfg.device)
    ckpt = Path(output) / CHECKPOINT if output else None
    parallel.check_supported(accelerator, cfg)
    groups = [{"params": [p for p in mod.parameters() if p.requires_grad], "lr": (lrs or {}).get(name, cfg.lr)}
              for name, mod in modules.items()]
    optimizer = torch.optim.AdamW(groups, lr=cfg.lr, weight_decay=cfg.weight_decay)
    scheduler = torch.optim.lr_scheduler.LambdaLR(optimizer, cosine_lambda(cfg.steps, cfg.warmup_steps))
    start, losses = _resume(ckpt, cfg, modules, optimizer, scheduler, console if accelerator.is_main_process else False)
    names = list(modules)
    *prepared, optimizer = accelerator.prepare(*modules.values(), optimizer)
    prepared = dict(zip(names, prepared))
    for mod in prepared.values():
        mod.train()
    params = [p for mod in prepared.values() for p in mod.parameters() if p.requires_grad]
    world, rank = accelerator.num_processes, accelerator.process_index
    with _progress(console if accelerator.is_main_process else None) as progress:
        bar = progress.add_task("training", total=cfg.steps, completed=start, loss=float("nan"))
        for step in range(start, cfg.steps):
            total = torch.zeros((), device=accelerator.device)
            for micro in range(cfg.grad_accum):
                k = parallel.micro_batch_index(step, rank, micro, world, cfg.grad_accum)
                idx = batch_indices(k, cfg.batch_size, len(rows), cfg.seed)
                torch.manual_seed(micro_batch_seed(cfg.seed, k))
                with _no_sync(accelerator, prepared.values(), micro + 1 < cfg.grad_accum):
                    loss = loss_fn([rows[i] for i in idx], prepared) / cfg.grad_accum
                    accelerator.backward(loss)
                total += loss.detach().float()
            accelerator.clip_grad_norm_(params, 1.0)
            optimizer.step()
            scheduler.step()
            optimizer.zero_grad(set_to_none=True)
            losses.append((step + 1, float(accelerator.reduce(total, "mean"))))  # every rank: a collective
            progress.update(bar, advance=1, loss=_recent(losses, cfg.log_every))
            if ckpt is not None and cfg.checkpoint_every and (step + 1) % cfg.checkpoint_every == 0 \
                    and step + 1 < cfg.steps and accelerator.is_main_process:
                save_checkpoint(ckpt, modules, optimizer, scheduler, step + 1, losses)
    for name, mod in prepared.items():  # back to the plain module (accelerate's wrappers and autocast patch off)
        modules[name] = accelerator.unwrap_model(mod, keep_fp32_wrapper=False)
        modules[name].eval()
    if output and accelerator.is_main_process:  # the whole curve, resumed steps included (tests compare these)
        from calib_eval.results import write_json_atomic

        write_json_atomic(Path(output) / LOSSES, [[step, loss] for step, loss in losses])
    accelerator.wait_for_everyone()
    return LoopResult(cfg.steps, start, losses)


def _resume(ckpt: Path | None, cfg, modules, optimizer, scheduler, console) -> tuple[int, list]:
    if cfg.resume and ckpt is not None and ckpt.is_file():
        state = torch.load(ckpt, weights_only=False)
        load_trainable_state(modules, state["params"])
        optimizer.load_state_dict(state["optimizer"])
        scheduler.load_state_dict(state["scheduler"])
        start = int(state["step"])
        _say(console, f"resuming from checkpoint step {start}/{cfg.steps}")
        return start, [tuple(x) for x in state["losses"]]
    if cfg.resume:
        _say(console, "no checkpoint found; starting from step 0")
    return 0, []


def _no_sync(accelerator, modules, skip: bool):
    """Accumulating micro-batches exchange no gradients; the step's last one exchanges the sum once."""
    stack = contextlib.ExitStack()
    if skip:
        for mod in modules:
            stack.enter_context(accelerator.no_sync(mod))
    return stack


def _recent(losses, n: int) -> float:
    tail = [v for _, v in losses[-max(1, n):]]
    return sum(tail) / len(tail)


def _say(console, text: str) -> None:
    """To the console, to stdout without one, nowhere for False (processes other than the main one)."""
    if console is not False:
        (console.print if console is not None else print)(text)


def _progress(console):
    from rich.progress import BarColumn, MofNCompleteColumn, Progress, TextColumn, TimeRemainingColumn

    return Progress(TextColumn("{task.description}"), BarColumn(), MofNCompleteColumn(),
                    TextColumn("loss {task.fields[loss]:.4f}"), TimeRemainingColumn(), console=console,
                    transient=False, disable=console is None)
