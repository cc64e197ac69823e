"""float32 vs bfloat16 on CPU: is bf16 fast enough to matter and close enough to trust?

    OMP_NUM_THREADS=1 python bench/cpu_path.py --model qwen2.5-coder-0.5b --items 8

Runs the same MMLU-OE items through `calib-eval run` (perplexity + P(True)) once
per dtype and compares, item by item: greedy answers (identical?), the answer's
mean log-probability (log of the perplexity score) and P(True). Throughput is
a plain forward pass over the same prompts, best of `--repeats`, as tokens/s.
Prints one markdown block; numbers are from a shared machine: read the ratio.
"""
from __future__ import annotations

import argparse
import json
import math
import platform
import tempfile
import time
from pathlib import Path

DTYPES = ("float32", "bfloat16")
SCORERS = ("perplexity", "zero_shot_classifier")


def run_items(model: str, dtype: str, items: int, data_root, out: Path) -> dict[str, dict]:
    """id -> items.jsonl row of one `calib-eval run` in `dtype`."""
    from calib_eval.runner import RunConfig
    from calib_eval.runner.run import run

    config = RunConfig(model=model, tasks=("mmlu_oe_calib",), scorers=SCORERS, limit=items, dtype=dtype,
                       device="cpu", output=str(out / dtype), data_root=data_root, bootstrap=0, batch_size=items)
    rows = {}
    for results in run(config):
        for line in (results.parent / "items.jsonl").read_text().splitlines():
            row = json.loads(line)
            rows[row["id"]] = row
    return rows


def forward_rate(model: str, dtype: str, items: int, data_root, repeats: int) -> float:
    """Prompt tokens per second of a no-grad forward pass over the items, one at a time, best of `repeats`."""
    import torch

    from calib_eval.models import load_model
    from calib_eval.task_specs import get_task, load_task_examples

    loaded = load_model(model, "cpu", dtype)
    spec = get_task("mmlu_oe_calib")
    prompts = [spec.prompt(ex, data_root) for ex in load_task_examples(spec, items, data_root)]
    ids = [loaded.tokenizer(p, return_tensors="pt")["input_ids"] for p in prompts]
    tokens = sum(x.shape[1] for x in ids)
    best = math.inf
    with torch.no_grad():
        for _ in range(repeats):
            t0 = time.perf_counter()
            for x in ids:
                loaded.model(input_ids=x)
            best = min(best, time.perf_counter() - t0)
    return tokens / best


def _log(score: float) -> float:
    return math.log(score) if score > 0 else float("nan")


def compare(a: dict[str, dict], b: dict[str, dict]) -> dict:
    """Agreement item by item; score drift only where the answers match (else the scores are of different texts)."""
    ids = sorted(a)
    same = [i for i in ids if a[i]["answer"] == b[i]["answer"]]
    logp = [abs(_log(a[i]["scores"]["perplexity"]) - _log(b[i]["scores"]["perplexity"])) for i in same]
    ptrue = [abs(a[i]["scores"]["zero_shot_classifier"] - b[i]["scores"]["zero_shot_classifier"]) for i in same]
    ptrue_all = [abs(a[i]["scores"]["zero_shot_classifier"] - b[i]["scores"]["zero_shot_classifier"]) for i in ids]
    return {"items": len(ids), "same_answers": len(same),
            "same_grades": sum(a[i]["correct"] == b[i]["correct"] for i in ids),
            "max_abs_logprob": max(logp, default=float("nan")), "max_abs_ptrue": max(ptrue, default=float("nan")),
            "max_abs_ptrue_all": max(ptrue_all, default=float("nan")),
            "differing": [(i, a[i]["answer"], b[i]["answer"]) for i in ids if a[i]["answer"] != b[i]["answer"]]}


def main(argv=None) -> int:
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("--model", default="qwen2.5-coder-0.5b")
    p.add_argument("--items", type=int, default=8)
    p.add_argument("--repeats", type=int, default=2)
    p.add_argument("--data-root", default=None)
    p.add_argument("--keep", default=None, help="folder to keep the two runs in (default: a temp folder)")
    args = p.parse_args(argv)
    with tempfile.TemporaryDirectory() as tmp:
        out = Path(args.keep or tmp)
        rows = {d: run_items(args.model, d, args.items, args.data_root, out) for d in DTYPES}
    rates = {d: forward_rate(args.model, d, args.items, args.data_root, args.repeats) for d in DTYPES}
    result = compare(rows["float32"], rows["bfloat16"])
    print(f"### CPU path: float32 vs bfloat16 ({args.model}, {args.items} MMLU-OE items, {platform.machine()})\n")
    print("| dtype | forward tokens/s |\n|---|---|")
    for d in DTYPES:
        print(f"| {d} | {rates[d]:.1f} |")
    print(f"\nbf16 / fp32 speed: {rates['bfloat16'] / rates['float32']:.2f}x")
    print(f"identical greedy answers: {result['same_answers']}/{result['items']}, "
          f"same grades: {result['same_grades']}/{result['items']}")
    print(f"same answers: max |delta mean answer log-prob| {result['max_abs_logprob']:.4f}, "
          f"max |delta P(True)| {result['max_abs_ptrue']:.4f}; all items: max |delta P(True)| "
          f"{result['max_abs_ptrue_all']:.4f}")
    for item, fp32, bf16 in result["differing"]:
        print(f"- {item}: fp32 {fp32!r} vs bf16 {bf16!r}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
