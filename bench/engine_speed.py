"""KV-cache engine speed and memory on fixed items, to compare two versions of the engine.

    OMP_NUM_THREADS=1 python bench/engine_speed.py --model default --out /tmp/engine_after.json \\
        [--compare /tmp/engine_before.json]

Runs the run loop's own batches (`answered_batches`: shared few-shot prefix,
greedy answer, then P(True) (zero_shot_classifier), perplexity, verbalized and k sampled answers) on
the first `--items` MMLU-OE items of one subject, so every batch shares a
5-shot prefix. Records items/s, the peak bytes held by the KV cache of any
decoding state (distinct tensor storages reachable from it, so a shared
prefix counts once) and every answer and score. `--compare` checks answers
and scores against an earlier run (e.g. the previous engine, run from a
checkout of its commit) and prints the markdown table for bench/RESULTS.md.
"""
from __future__ import annotations

import argparse
import json
import platform
import resource
import time

import torch

import calib_eval.inference.decode as decode_module

SCORERS = ("zero_shot_classifier", "perplexity", "verbalized", "sampling")  # the default --scorers


def held_bytes(root) -> int:
    """Bytes of the distinct tensor storages reachable from `root` (modules skipped)."""
    seen_objects, storages, todo = set(), {}, [root]
    while todo:
        obj = todo.pop()
        if id(obj) in seen_objects or isinstance(obj, torch.nn.Module):
            continue
        seen_objects.add(id(obj))
        if isinstance(obj, torch.Tensor):
            storage = obj.untyped_storage()
            storages[storage.data_ptr()] = storage.nbytes()
        elif isinstance(obj, dict):
            todo.extend(obj.values())
        elif isinstance(obj, (list, tuple)):
            todo.extend(obj)
        elif hasattr(obj, "__dict__") and not isinstance(obj, type):
            todo.extend(vars(obj).values())
    return sum(storages.values())


def kv_bytes(state) -> int:
    """Cache bytes of a PromptState: everything it holds but its logits (those are not cache)."""
    saved = state.last_logits
    state.last_logits = None
    try:
        return held_bytes(state)
    finally:
        state.last_logits = saved


def watch_decodes(peak: dict):
    """Wrap greedy_decode everywhere it is imported, recording the largest cache it ends with."""
    import calib_eval.runner.batch_work as batch_work
    import calib_eval.scorers.verbalized as verbalized

    original = decode_module.greedy_decode

    def watched(state, *args, **kwargs):
        out = original(state, *args, **kwargs)
        peak["kv_bytes"] = max(peak["kv_bytes"], kv_bytes(state))
        return out

    for module in (decode_module, batch_work, verbalized):
        module.greedy_decode = watched


def subject_items(spec, n: int, data_root):
    """The first n items (stable order) of the task's largest subject (all items when it has none)."""
    from collections import Counter

    from calib_eval.task_specs import load_task_examples

    pool = load_task_examples(spec, None, data_root)
    subject = Counter(ex.metadata.get("subject") for ex in pool).most_common(1)[0][0]
    return [ex for ex in pool if ex.metadata.get("subject") == subject][:n], subject


def run(args) -> dict:
    from calib_eval.models import load_model
    from calib_eval.runner.config import RunConfig
    from calib_eval.runner.run import answered_batches, resolve_scorers
    from calib_eval.scorers.base import ScorerConfig
    from calib_eval.task_specs import get_task

    spec = get_task(args.task)
    examples, subject = subject_items(spec, args.items, args.data_root)
    loaded = load_model(args.model, device="cpu", dtype="float32")
    config = RunConfig(batch_size=args.batch_size, data_root=args.data_root,
                       scorer=ScorerConfig(sampling_k=args.k))
    scorers = resolve_scorers(args.scorers.split(","), {}, spec.mode)
    peak = {"kv_bytes": 0}
    watch_decodes(peak)
    rows = {}
    started, cpu_started = time.perf_counter(), time.process_time()
    for batch, outcome in answered_batches(loaded, spec, examples, list(range(len(examples))), scorers, None, config):
        for i, row in zip(batch, outcome.rows):
            rows[examples[i].id] = {"answer": row.get("answer_raw"), "scores": row["scores"]}
    seconds, cpu_seconds = time.perf_counter() - started, time.process_time() - cpu_started
    return {"model": args.model, "task": args.task, "subject": subject, "items": len(examples),
            "batch_size": args.batch_size, "k": args.k, "scorers": args.scorers, "seconds": seconds,
            "items_per_s": len(examples) / seconds,
            "cpu_seconds": cpu_seconds, "items_per_cpu_s": len(examples) / cpu_seconds,
            "peak_kv_bytes": peak["kv_bytes"], "max_rss_mb": resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024,
            "torch_threads": torch.get_num_threads(), "machine": platform.processor() or platform.machine(),
            "rows": rows}


def compare(before: dict, after: dict) -> str:
    same_answers = sum(before["rows"][i]["answer"] == after["rows"][i]["answer"] for i in after["rows"])
    diffs = [abs(before["rows"][i]["scores"][s] - after["rows"][i]["scores"][s])
             for i in after["rows"] for s in after["rows"][i]["scores"]]
    n = len(after["rows"])
    where = f" ({after['subject']}: one shared 5-shot prefix)" if after["subject"] else ""
    lines = [f"{n} {after['task']} items{where}, batch {after['batch_size']}, "
             f"k={after['k']}, scorers {after['scorers']}; {after['model']}, fp32, "
             f"{after['torch_threads']} thread(s).",
             "", "| engine | wall s | items/s (wall) | CPU s | items/CPU-s | peak KV-cache bytes | max RSS (MB) |",
             "|---|---|---|---|---|---|---|"]
    for name, r in (("before", before), ("after", after)):
        lines.append(f"| {name} | {r['seconds']:.1f} | {r['items_per_s']:.3f} | {r['cpu_seconds']:.1f} "
                     f"| {r['items_per_cpu_s']:.3f} | {r['peak_kv_bytes']:,} | {r['max_rss_mb']:.0f} |")
    lines += ["", f"Same answers: {same_answers}/{n}; largest score difference: {max(diffs):.2e} "
              f"over {len(diffs)} scores; speed after/before {after['items_per_s'] / before['items_per_s']:.2f}x wall, "
              f"{after['items_per_cpu_s'] / before['items_per_cpu_s']:.2f}x CPU; "
              f"peak cache after/before {after['peak_kv_bytes'] / before['peak_kv_bytes']:.3f}x."]
    return "\n".join(lines)


def main(argv=None) -> int:
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("--model", default="default")
    p.add_argument("--task", default="mmlu_oe_calib")
    p.add_argument("--items", type=int, default=8)
    p.add_argument("--batch-size", type=int, default=4)
    p.add_argument("--k", type=int, default=10)
    p.add_argument("--scorers", default=",".join(SCORERS), help="comma-separated")
    p.add_argument("--data-root", default=None)
    p.add_argument("--out", required=True, help="JSON file for this run")
    p.add_argument("--compare", help="JSON of an earlier run: print the before/after table")
    args = p.parse_args(argv)
    result = run(args)
    with open(args.out, "w") as fh:
        json.dump(result, fh, indent=1)
    print(f"{result['items']} items in {result['seconds']:.1f}s ({result['items_per_s']:.3f} items/s), "
          f"peak KV cache {result['peak_kv_bytes']:,} bytes")
    if args.compare:
        with open(args.compare) as fh:
            print(compare(json.load(fh), result))
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
