"""Thread settings on the shared CPU: 1 vs 2 torch threads, alone and beside another job.

    python bench/threads.py --model qwen2.5-coder-0.5b --dtype bfloat16 --items 8

Measures prompt tokens/s of a no-grad forward pass over the first `--items`
MMLU-OE prompts (the work that dominates a run) with `torch.set_num_threads(t)`,
once with the machine otherwise idle and once beside a neighbour: a second
process doing the same forward passes at 1 thread (what a second
`OMP_NUM_THREADS=1` run would be). For the "beside" rows the neighbour's own
rate during the measurement is reported too, so the table answers the practical
question: one 2-thread job, or two 1-thread jobs? "Alone" means alone among
these processes; stop other jobs first (e.g. `kill -STOP`) or the row measures
them. Prints one markdown table; read ratios, not absolute numbers.
"""
from __future__ import annotations

import argparse
import os
import platform
import subprocess
import sys
import time
from pathlib import Path


def prompt_ids(loaded, items: int, data_root):
    from calib_eval.task_specs import get_task, load_task_examples

    spec = get_task("mmlu_oe_calib")
    prompts = [spec.prompt(ex, data_root) for ex in load_task_examples(spec, items, data_root)]
    return [loaded.tokenizer(p, return_tensors="pt")["input_ids"] for p in prompts]


def one_pass(model, ids) -> float:
    """Tokens/s of one forward pass over every prompt, one prompt at a time."""
    import torch

    t0 = time.perf_counter()
    with torch.no_grad():
        for x in ids:
            model(input_ids=x)
    return sum(x.shape[1] for x in ids) / (time.perf_counter() - t0)


def neighbour(args) -> None:
    """Forward passes until killed, one rate per line (flushed) with its end time."""
    import torch

    from calib_eval.models import load_model

    torch.set_num_threads(1)
    loaded = load_model(args.model, "cpu", args.dtype)
    ids = prompt_ids(loaded, args.items, args.data_root)
    while True:
        rate = one_pass(loaded.model, ids)
        print(f"{time.time():.3f} {rate:.2f}", flush=True)


def rates_between(log: Path, start: float, end: float) -> list[float]:
    rows = [line.split() for line in log.read_text().splitlines() if line.strip()]
    return [float(r) for t, r in rows if start <= float(t) <= end]


def main(argv=None) -> int:
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("--model", default="qwen2.5-coder-0.5b")
    p.add_argument("--dtype", default="bfloat16")
    p.add_argument("--items", type=int, default=8)
    p.add_argument("--repeats", type=int, default=3)
    p.add_argument("--data-root", default=None)
    p.add_argument("--neighbour", action="store_true", help=argparse.SUPPRESS)  # internal: the busy second job
    args = p.parse_args(argv)
    if args.neighbour:
        neighbour(args)
        return 0

    import torch

    from calib_eval.models import load_model

    loaded = load_model(args.model, "cpu", args.dtype)
    ids = prompt_ids(loaded, args.items, args.data_root)
    one_pass(loaded.model, ids)  # warm-up: first-call allocations and kernel selection
    rows = []
    for beside in (False, True):
        proc = log = None
        if beside:
            log = Path(f"/tmp/calib-eval-threads-neighbour-{os.getpid()}.log")
            cmd = [sys.executable, __file__, "--neighbour", "--model", args.model, "--dtype", args.dtype,
                   "--items", str(args.items)] + (["--data-root", args.data_root] if args.data_root else [])
            proc = subprocess.Popen(cmd, stdout=log.open("w"), env={**os.environ, "OMP_NUM_THREADS": "1"})
            while not log.read_text().strip():  # the neighbour is loaded and busy
                if proc.poll() is not None:
                    raise SystemExit(f"the neighbour process exited with {proc.returncode}")
                time.sleep(1)
        try:
            for threads in (1, 2):
                torch.set_num_threads(threads)
                start = time.time()
                rate = max(one_pass(loaded.model, ids) for _ in range(args.repeats))
                theirs = rates_between(log, start, time.time()) if log else []
                while proc is not None and not theirs and proc.poll() is None:  # its pass overlapping ours
                    time.sleep(1)
                    theirs = rates_between(log, start, time.time())
                rows.append((threads, beside, rate, sum(theirs) / len(theirs) if theirs else None))
        finally:
            if proc is not None:
                proc.kill()
                proc.wait()
                log.unlink(missing_ok=True)
    alone_1 = rows[0][2]
    print(f"### Thread settings ({args.model}, {args.dtype}, {args.items} MMLU-OE prompts, forward only, "
          f"{platform.machine()}, {os.cpu_count()} CPUs, best of {args.repeats})\n")
    print("| torch threads | beside a 1-thread neighbour | this job tokens/s | vs 1 thread alone "
          "| neighbour tokens/s | both jobs together |")
    print("|---|---|---|---|---|---|")
    for threads, beside, rate, theirs in rows:
        total = f"{rate + theirs:.1f}" if theirs else "-"
        print(f"| {threads} | {'yes' if beside else 'no'} | {rate:.1f} | {rate / alone_1:.2f}x | "
              f"{f'{theirs:.1f}' if theirs else '-'} | {total} |")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
