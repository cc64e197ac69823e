"""How many times a run encodes a few-shot prefix, before and after prefix-ordered batches.

    OMP_NUM_THREADS=1 python bench/prefix_order.py --limit 300 --limit 0

Counted without a model: the runner's own preparation (tokenised prefixes,
small groups unshared, length-sorted batches) with the tokenizer of `--model`,
then `prefix_encodes` of the old global longest-first order and of
`prefix_ordered`. `--limit 0` is the full task. Prints a markdown table.
"""
from __future__ import annotations

import argparse

from calib_eval.inference.batching import length_sorted_batches
from calib_eval.runner.run import _prepare, unshare_small_groups, prefix_encodes, prefix_ordered
from calib_eval.task_specs import get_task, load_task_examples


def count(task: str, limit: int | None, batch_size: int, tokenizer, data_root) -> dict:
    spec = get_task(task)
    examples = load_task_examples(spec, limit, data_root)
    prefixes, prefix_ids, suffix_ids, _ = _prepare(spec, examples, tokenizer, data_root)
    todo = list(range(len(examples)))
    unshare_small_groups(todo, prefixes, prefix_ids, suffix_ids)
    lengths = [len(prefix_ids[prefixes[i]]) + len(suffix_ids[i]) for i in todo]
    batches = length_sorted_batches(lengths, batch_size, prefixes)
    return {"items": len(examples), "batches": len(batches), "shared": len({p for p in prefixes if p}),
            "before": prefix_encodes(batches, prefixes),
            "after": prefix_encodes(prefix_ordered(batches, prefixes), prefixes)}


def main(argv=None) -> int:
    from transformers import AutoTokenizer

    from calib_eval.models import prepare_tokenizer, resolve_model_source

    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("--model", default="qwen2.5-coder-0.5b")
    p.add_argument("--task", default="mmlu_oe_calib")
    p.add_argument("--limit", type=int, action="append", help="repeatable; 0 = all items")
    p.add_argument("--batch-size", type=int, default=8)
    p.add_argument("--data-root", default=None)
    args = p.parse_args(argv)
    tokenizer = AutoTokenizer.from_pretrained(resolve_model_source(args.model))
    prepare_tokenizer(tokenizer)
    print(f"| {args.task} --limit | items | batches (size {args.batch_size}) | shared prefixes "
          "| prefix encodes before | after |\n|---|---|---|---|---|---|")
    for limit in args.limit or [300]:
        c = count(args.task, limit or None, args.batch_size, tokenizer, args.data_root)
        print(f"| {limit or 'all'} | {c['items']} | {c['batches']} | {c['shared']} | {c['before']} | {c['after']} |")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
