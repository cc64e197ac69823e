"""What each scorer costs on top of plain generation, measured in one process.

    python bench/cost.py                       # default model, 16 MMLU-OE items, batch 8
    python bench/cost.py --items 64 --batch-sizes 1,4,8,16
    python bench/cost.py --adapter lora_prompt=adapters/smollm2/calibration-tune   # + the LoRA+Prompt scorer

Prints markdown tables (machine named) and replaces the "cost" section of
bench/RESULTS.md. Numbers are from one run on a shared machine: read the
ratios, not the seconds.
"""
from __future__ import annotations

import argparse
import contextlib
import platform
import resource
import time
from pathlib import Path

from calib_eval import prompts
from calib_eval.adapters import AdapterSet
from calib_eval.inference.batching import length_sorted_batches
from calib_eval.inference.tokens import encode_text, prompt_ids
from calib_eval.models import load_model
from calib_eval.runner.batch_work import answer_generate, base_model
from calib_eval.inference.state import encode_batch
from calib_eval.scorers import ScorerConfig, ScoringBatch, get_scorer
from calib_eval.task_specs import get_task, load_task_examples
from calib_eval.types import Graded

# the sampling family reads one shared set of k samples per item (calib_eval.scorers.family)
FAMILY = ("sampling", "semantic_entropy", "discrete_semantic_entropy", "num_semantic_sets", "lexical_similarity",
          "eigv", "degree", "eccentricity")
SCORERS = ("perplexity", "ua_clm_entropy", "zero_shot_classifier", "verbalized", *FAMILY)
DRAW, RELATE = "k samples (shared draw)", "pairwise equivalence (shared)"


def prepared(loaded, n_items: int, data_root):
    spec = get_task("mmlu_oe_calib")
    examples = load_task_examples(spec, n_items, data_root)
    rows = []
    for ex in examples:
        p, s = prompt_ids(loaded.tokenizer, spec.build_prefix(ex, data_root), spec.build_suffix(ex))
        rows.append(p + s)
    return spec, examples, rows


def generate_batches(loaded, spec, examples, rows, batch_size, adapters=None):
    """Plain generation over all items (by the base model, also when adapters are attached); yields live batches."""
    for batch in length_sorted_batches([len(r) for r in rows], batch_size):
        with base_model(adapters):
            state = encode_batch(loaded.model, [], [rows[i] for i in batch], loaded.tokenizer.pad_token_id)
            gens, answer_ids, checkpoint = answer_generate(state, spec, [examples[i] for i in batch],
                                                           [""] * len(batch), loaded.tokenizer)
        yield batch, state, gens, answer_ids, checkpoint


def measure_scorers(loaded, spec, examples, rows, batch_size, k, adapters=None, equivalence="grader"):
    cfg = ScorerConfig(sampling_k=k, semantic_equivalence=equivalence)
    names = SCORERS + tuple(adapters.cards if adapters else ())
    totals = {"generation": [0.0, 0], DRAW: [0.0, 0], RELATE: [0.0, 0]} | {s: [0.0, 0] for s in names}
    started = time.perf_counter()
    batches = generate_batches(loaded, spec, examples, rows, batch_size, adapters)
    for batch, state, gens, answer_ids, checkpoint in _timed(batches, totals["generation"]):
        base_tokens = state.stats["forward_tokens"]
        totals["generation"][1] += base_tokens
        def scoring_batch():
            return ScoringBatch([Graded(g, False) for g in gens], loaded, [], [rows[i] for i in batch], answer_ids,
                                config=cfg, answered=state, prompt_only=checkpoint, grader=spec.grade,
                                max_new_tokens=spec.max_new_tokens, stop=spec.stop, adapters=adapters)

        family = scoring_batch()
        with base_model(adapters):
            shared_family_work(family, state, totals)
        for name in names:
            scoring = family if name in FAMILY else scoring_batch()
            before, t0 = state.stats["forward_tokens"], time.perf_counter()
            with base_model(adapters) if name in SCORERS else contextlib.nullcontext():  # LoRA scorers switch it on
                get_scorer(name)().score(scoring)
            totals[name][0] += time.perf_counter() - t0
            if name in SCORERS or not adapters.cards[name].get("has_lora", True):  # probe: base cache extended
                totals[name][1] += state.stats["forward_tokens"] - before
            else:  # a LoRA changes keys and values: the scorer encodes prompt + answer + query afresh
                totals[name][1] += sum(len(rows[i]) + len(a) for i, a in zip(batch, answer_ids)) + \
                    len(batch) * len(encode_text(loaded.tokenizer, prompts.UNCERTAINTY_QUERY))
    return totals, time.perf_counter() - started


def shared_family_work(batch: ScoringBatch, state, totals: dict) -> None:
    """Draw the k samples and relate them once, timed apart: the family's scorers then only read them."""
    from calib_eval.scorers.family import sample_views

    before, t0 = state.stats["forward_tokens"], time.perf_counter()
    batch.sampled()
    totals[DRAW][0] += time.perf_counter() - t0
    totals[DRAW][1] += state.stats["forward_tokens"] - before
    t0 = time.perf_counter()
    for view in sample_views(batch):
        view.relations  # noqa: B018 - computed and cached here
    totals[RELATE][0] += time.perf_counter() - t0


def _timed(iterator, slot):
    """Charge the time spent producing each item of `iterator` to slot[0]."""
    while True:
        t0 = time.perf_counter()
        try:
            item = next(iterator)
        except StopIteration:
            return
        slot[0] += time.perf_counter() - t0
        yield item


def generation_seconds(loaded, spec, examples, rows, batch_size, adapters=None) -> float:
    t0 = time.perf_counter()
    for _ in generate_batches(loaded, spec, examples, rows, batch_size, adapters):
        pass
    return time.perf_counter() - t0


def machine() -> str:
    import os

    import torch

    return f"{platform.processor() or platform.machine()}, {os.cpu_count()} cores, torch {torch.__version__}"


def main(argv=None) -> int:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--model", default="default")
    parser.add_argument("--items", type=int, default=16)
    parser.add_argument("--batch-size", type=int, default=8)
    parser.add_argument("--batch-sizes", default="1,4,8", help="batch sizes for the batching table")
    parser.add_argument("--k", type=int, default=10, help="samples for the sampling family (drawn once, shared)")
    parser.add_argument("--semantic-equivalence", default="grader", help="grader or nli:<hub id or folder>")
    parser.add_argument("--data-root", default=None)
    parser.add_argument("--adapter", action="append", default=[], metavar="SCORER=PATH",
                        help="also measure an adapter scorer (lora_prompt, probe), repeatable")
    parser.add_argument("--results", default=str(Path(__file__).with_name("RESULTS.md")))
    args = parser.parse_args(argv)

    loaded = load_model(args.model)
    adapters = AdapterSet.load(loaded, dict(a.split("=", 1) for a in args.adapter)) if args.adapter else None
    spec, examples, rows = prepared(loaded, args.items, args.data_root)
    totals, wall = measure_scorers(loaded, spec, examples, rows, args.batch_size, args.k, adapters,
                                   args.semantic_equivalence)
    gen_s, gen_tokens = totals["generation"]
    lines = ["## cost\n", f"Machine: {machine()}. Model `{args.model}`, {args.items} MMLU-OE items (5-shot), "
             f"batch {args.batch_size}, sampling k={args.k}, equivalence {args.semantic_equivalence}. The sampling "
             f"family's k samples and their pairwise equivalence are computed once per batch (their own rows); "
             f"each family scorer's row is what it adds on top. Peak RSS {resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024:.0f} MB.\n",
             "| scorer | extra s | x generation time | extra forward tokens | x generation tokens | items/s incl. generation |",
             "|---|---|---|---|---|---|",
             f"| generation (greedy) | {gen_s:.1f} | 1.00 | {gen_tokens} | 1.00 | {args.items / gen_s:.2f} |"]
    for name in [n for n in totals if n != "generation"]:
        s, tokens = totals[name]
        lines.append(f"| {name} | {s:.3f} | {s / gen_s:.4f} | {tokens} | {tokens / max(gen_tokens, 1):.2f} | "
                     f"{args.items / (gen_s + s):.2f} |")
    lines += ["", *target_rows(totals, gen_s, args.k)]
    lines += ["", "Batching (generation only, same items):", "", "| batch size | seconds | items/s | x batch 1 |", "|---|---|---|---|"]
    base = None
    for size in [int(b) for b in args.batch_sizes.split(",")]:
        seconds = generation_seconds(loaded, spec, examples, rows, size, adapters)
        base = base or seconds
        lines.append(f"| {size} | {seconds:.1f} | {args.items / seconds:.2f} | {base / seconds:.2f} |")
    half = max(1, args.items // 2)
    s_half = generation_seconds(loaded, spec, examples[:half], rows[:half], args.batch_size, adapters)
    s_full = generation_seconds(loaded, spec, examples, rows, args.batch_size, adapters)
    lines += ["", f"Scaling in items (batch {args.batch_size}): {half} items {s_half:.1f}s, {args.items} items "
              f"{s_full:.1f}s, ratio {s_full / s_half:.2f} for {args.items / half:.1f}x the items.", ""]
    table = "\n".join(lines)
    print(table)
    replace_section(Path(args.results), "cost", table)
    return 0


def target_rows(totals: dict, gen_s: float, k: int) -> list[str]:
    """Issue #7's cost targets, as total cost (generation + scorer) over plain generation."""
    targets = {"lora_prompt": 1.3, "sampling": 1.2 * k}
    lines = ["| target (issue #7) | measured: (generation + scorer) / generation | target | met |", "|---|---|---|---|"]
    for name, limit in targets.items():
        if name in totals:
            shared = totals[DRAW][0] + totals[RELATE][0] if name in FAMILY else 0.0  # its samples are its cost
            total = 1 + (totals[name][0] + shared) / gen_s
            lines.append(f"| {name}{f' (k={k})' if name == 'sampling' else ''} | {total:.2f} | <= {limit:.1f} | "
                         f"{'yes' if total <= limit else f'NO (by {total - limit:.2f})'} |")
    return lines


def replace_section(path: Path, name: str, body: str) -> None:
    """Keep other sections of RESULTS.md; replace this one."""
    text = path.read_text() if path.exists() else "# Benchmark results\n\n"
    start, end = f"<!-- {name}:start -->", f"<!-- {name}:end -->"
    block = f"{start}\n{body}\n{end}"
    if start in text:
        text = text[: text.index(start)] + block + text[text.index(end) + len(end):]
    else:
        text = text.rstrip() + "\n\n" + block + "\n"
    path.write_text(text)


if __name__ == "__main__":
    raise SystemExit(main())
