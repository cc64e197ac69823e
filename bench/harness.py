"""Issue #7: `calib-eval run` generation + P(True) against plain lm-eval generation, same items.

    OMP_NUM_THREADS=1 python bench/harness.py --data-root ../shared/data   # default model, ~10 min
    ... --adapter lora_prompt=adapters/smollm2/calibration-tune   # + lora_prompt's cost in the run loop

Prints a markdown table (machine named) and replaces the "harness" section of
bench/RESULTS.md. Numbers are from one run on a shared machine: read the
ratios, not the seconds. `--repeats 1` for a third of the time.

Target (issue #7): calib-eval's generation plus P(True) on 5-shot MMLU-OE at
least as many items/s as `lm_eval --model hf` generation alone on the same
items, i.e. the score nearly free because it reuses the prompt's forward work.

Two regimes of 40 items each: the first 40 of the task's fixed order (what
`--limit 40` runs; they span ~35 subjects, so few few-shot prefixes repeat),
and 40 items of 4 subjects (how a full MMLU-OE run looks: ~250 items per
subject share one 5-shot prefix). In each, in this process, both models
loaded (fp32, CPU) before any timing, one untimed warm-up item per side, then
each side timed `--repeats` times:
1. lm-eval alone: `lm_eval.models.huggingface.HFLM` on the same local folder,
   its `generate_until` on one `Instance` per item: context = the task spec's
   prefix + suffix (the exact prompt string), `until` = the spec's stop list,
   `max_gen_toks` = its max_new_tokens, greedy. This is the model call that
   `lm_eval --model hf` makes for a generate_until task, minus the CLI's task
   building and metrics (which would only slow lm-eval down).
2. calib-eval engine, as bench/cost.py measures it: full prompt ids,
   greedy generation on the KV-cache engine, then the zero_shot_classifier
   scorer (P(True)) on each live batch, extending the cache generation left.
3. `calib-eval run`'s loop (run_task's functions, minus writing files): items
   grouped by few-shot prefix, each shared prefix encoded once, then
   generation + grading + P(True) per batch.
Same prompt token ids (lm-eval's tokenizer call against ours, outside the
timing) and same answers (after strip) are counted; items/s are reported in
process CPU time (one torch thread: waiting for a core another job holds is
not counted) and wall time, with the 1-minute load average.
"""
from __future__ import annotations

import argparse
import os
import resource
from pathlib import Path

import torch

from cost import machine, replace_section  # bench/ is on sys.path as a script
from peer import charge, clock, timed_batches
from calib_eval import prompts
from calib_eval.inference.tokens import encode_text, prompt_ids
from calib_eval.adapters import AdapterSet
from calib_eval.models import load_model
from calib_eval.task_specs import get_task, load_task_examples
from calib_eval.scorers import ScorerConfig, ScoringBatch, get_scorer
from calib_eval.types import Graded

TARGET = 1.0  # issue #7: calib-eval gen + P(True) items/s over lm-eval gen-alone items/s
SCORER = "zero_shot_classifier"


def lm_eval_model(source: str, batch_size: int):
    from lm_eval.models.huggingface import HFLM

    return HFLM(pretrained=source, batch_size=batch_size, device="cpu", dtype="float32")


def lm_eval_requests(spec, examples, data_root) -> list:
    """One generate_until Instance per item, as an lm-eval generate_until task would build it."""
    from lm_eval.api.instance import Instance

    gen_kwargs = {"until": list(spec.stop), "max_gen_toks": spec.max_new_tokens, "do_sample": False}
    return [Instance(request_type="generate_until", doc={"id": ex.id}, idx=0,
                     arguments=(spec.build_prefix(ex, data_root) + spec.build_suffix(ex), dict(gen_kwargs)),
                     metadata=(spec.name, i, 1))
            for i, ex in enumerate(examples)]


def run_lm_eval(lm, requests) -> tuple[list[float], list[str]]:
    """[wall, cpu] seconds of generate_until over all requests, and its answers (input order)."""
    seconds = [0.0, 0.0]
    t0 = clock()
    answers = lm.generate_until(requests, disable_tqdm=True)
    charge(seconds, t0)
    return seconds, answers


def run_ours(loaded, spec, examples, rows, batch_size: int) -> tuple[dict, list[str]]:
    """cost.py's path: generation, then P(True) on the live batch; [wall, cpu] per stage and the answers."""
    seconds = {"generation": [0.0, 0.0], SCORER: [0.0, 0.0]}
    answers = [""] * len(rows)
    for batch, state, gens, answer_ids, checkpoint in timed_batches(loaded, spec, examples, rows, batch_size,
                                                                    seconds["generation"]):
        scoring = ScoringBatch([Graded(g, False) for g in gens], loaded, [], [rows[i] for i in batch], answer_ids,
                               config=ScorerConfig(), answered=state, prompt_only=checkpoint,
                               max_new_tokens=spec.max_new_tokens, stop=spec.stop)
        t0 = clock()
        get_scorer(SCORER)().score(scoring)
        charge(seconds[SCORER], t0)
        for row, i in enumerate(batch):
            answers[i] = gens[row].answer
    return seconds, answers


def run_runner(loaded, spec, examples, batch_size: int, data_root, adapters=None,
               stages: dict | None = None) -> tuple[list[float], list[str]]:
    """`calib-eval run`'s own loop (`answered_batches`, as run_task calls it, minus file writing): items
    grouped by few-shot prefix, each shared prefix encoded once; then generation + P(True) per batch (and
    the adapters' scorers, whose wall seconds, like generation's, run_batch adds to `stages`).
    Returns [wall, cpu] seconds and the answers."""
    from calib_eval.runner.config import RunConfig
    from calib_eval.runner.run import answered_batches

    seconds, answers = [0.0, 0.0], [""] * len(examples)
    config = RunConfig(batch_size=batch_size, data_root=data_root)
    scorers = {name: get_scorer(name)() for name in (SCORER, *(adapters.cards if adapters else ()))}
    t0 = clock()
    for batch, outcome in answered_batches(loaded, spec, examples, range(len(examples)), scorers, adapters, config):
        for i, row in zip(batch, outcome.rows):
            answers[i] = row["answer"]
        if stages is not None:
            for name, spent in {"generation": outcome.generation_s, **outcome.scoring_s}.items():
                stages[name] = stages.get(name, 0.0) + spent
    charge(seconds, t0)
    return seconds, answers


def shared_prefixes(spec, examples, data_root) -> int:
    """Few-shot prefixes that 2+ of the items share (the run loop encodes each once)."""
    from collections import Counter

    return sum(n >= 2 for n in Counter(spec.build_prefix(ex, data_root) for ex in examples).values())


def pick_items(spec, n: int, data_root, subjects: int | None):
    """The first n items of the task's fixed order (what `--limit n` runs), or with `subjects`, the first n
    items of the first `subjects` subjects in that order: a full MMLU-OE run has ~250 items per subject."""
    examples = load_task_examples(spec, None if subjects else n, data_root)
    if not subjects:
        return examples
    keys = [spec.build_prefix(ex, data_root) for ex in examples]
    chosen = list(dict.fromkeys(keys))[:subjects]  # first subjects in the fixed order
    return [ex for ex, key in zip(examples, keys) if key in chosen][:n]


def same_prompt_ids(lm, requests, rows) -> int:
    """How many prompts lm-eval's tokenizer call turns into exactly our ids."""
    same = 0
    for request, row in zip(requests, rows):
        ids, _ = lm.tok_batch_encode([request.args[0]])
        same += ids[0].tolist() == row
    return same


def differences(ours: list[str], theirs: list[str], limit: int = 5) -> list[str]:
    lines = [f"- item {i}: calib-eval {a.strip()!r}, lm-eval {b.strip()!r}"
             for i, (a, b) in enumerate(zip(ours, theirs)) if a.strip() != b.strip()]
    return lines[:limit] + ([f"- ... {len(lines) - limit} more"] if len(lines) > limit else [])


SIDES = {  # key -> table label; "run" is what the target is about
    "lm-eval": "lm-eval HFLM.generate_until (generation alone)",
    "generation": "calib-eval engine, generation alone (every prompt encoded in full)",
    "engine": "calib-eval engine, generation + P(True) (every prompt encoded in full)",
    "run": "`calib-eval run` loop, generation + P(True) (few-shot prefix encoded once per subject group)",
}


def timed_regime(lm, loaded, spec, examples, rows, requests, batch_size: int, repeats: int, data_root) -> dict:
    """Each side `repeats` times, rotating which goes first; per side a list of [wall, cpu], plus answers."""
    times: dict[str, list] = {k: [] for k in SIDES}
    answers = {}
    order = ["lm-eval", "engine", "run"]
    for repeat in range(repeats):  # rotate: no side always gets the quieter minute
        for side in order[repeat % 3:] + order[: repeat % 3]:
            if side == "lm-eval":
                seconds, answers["lm-eval"] = run_lm_eval(lm, requests)
                times["lm-eval"].append(seconds)
            elif side == "engine":
                stages, answers["engine"] = run_ours(loaded, spec, examples, rows, batch_size)
                times["generation"].append(stages["generation"])
                times["engine"].append([g + q for g, q in zip(stages["generation"], stages[SCORER])])
            else:
                seconds, answers["run"] = run_runner(loaded, spec, examples, batch_size, data_root)
                times["run"].append(seconds)
    return {"times": times, "answers": answers, "groups": shared_prefixes(spec, examples, data_root)}


def speed_rows(n: int, times: dict, column: int) -> list[str]:
    """Fastest repeat per side (column 0: wall, 1: process CPU)."""
    best = {k: min(t[column] for t in v) for k, v in times.items()}
    rows = []
    for key, label in SIDES.items():
        ratio = best["lm-eval"] / best[key]
        target = f">= {TARGET:.0f} | {'yes' if ratio >= TARGET else 'NO'}" if key == "run" else "- | -"
        rows.append(f"| {label} | {best[key]:.1f} | {n / best[key]:.2f} | {ratio:.2f} | {target} |")
    return rows


def per_repeat(times: dict, column: int) -> str:
    """Each repeat's x lm-eval for engine+P(True) / run loop, to show the spread behind the best-of table."""
    return ", ".join(f"{t[column] / e[column]:.2f} / {t[column] / r[column]:.2f}"
                     for t, e, r in zip(times["lm-eval"], times["engine"], times["run"]))


def agreement(answers: dict, n: int) -> str:
    diffs = differences(answers["engine"], answers["lm-eval"])
    same_run = sum(a.strip() == b.strip() for a, b in zip(answers["run"], answers["engine"]))
    same = n - sum(a.strip() != b.strip() for a, b in zip(answers["engine"], answers["lm-eval"]))
    return (f"Same answers (after strip): calib-eval engine vs lm-eval {same}/{n}; run loop vs engine {same_run}/{n}."
            + ("" if not diffs else " Differences:\n\n" + "\n".join(diffs)))


def regime_section(title: str, regime: dict, n: int, same_ids: int) -> list[str]:
    header = ["| run | seconds | items/s | x lm-eval | target | met |", "|---|---|---|---|---|---|"]
    times = regime["times"]
    gen = min(t[1] for t in times["generation"])
    both = min(t[1] for t in times["engine"])
    return [
        f"### {title}\n",
        f"Few-shot prefixes shared by 2+ items and encoded once by the run loop: {regime['groups']}. Same prompt "
        f"token ids (lm-eval's tokenizer call vs ours): {same_ids}/{n}. {agreement(regime['answers'], n)}\n",
        "Process-CPU seconds (robust to other jobs on the machine), generation included:\n",
        *header, *speed_rows(n, times, column=1), "",
        "Wall-clock (noisier: the machine is shared):\n",
        *header, *speed_rows(n, times, column=0), "",
        f"Per repeat, x lm-eval for engine + P(True) / run loop: CPU {per_repeat(times, 1)}; wall "
        f"{per_repeat(times, 0)}. P(True) adds {(both - gen) / gen:.2f}x the engine's own generation CPU time.",
        "",
        *adapter_lines(regime.get("adapter_stages")),
    ]


def adapter_lines(stages: dict | None) -> list[str]:
    """The run loop's own timings (wall, as `calib-eval run` records them) with the adapter scorers added."""
    if not stages:
        return []
    gen = stages["generation"]
    parts = [f"{name} {seconds:.1f}s = {seconds / gen:.2f}x generation, total {(gen + seconds) / gen:.2f}x"
             for name, seconds in stages.items() if name not in ("generation", SCORER)]
    return [f"Run loop with the adapter scorers (separate model copy, one pass, wall seconds as `calib-eval run` "
            f"records them): generation {gen:.1f}s; {SCORER} {stages[SCORER]:.1f}s; " + "; ".join(parts) + ".", ""]


def report(setup: dict, regimes: list[tuple[str, dict, int, int]]) -> str:
    return "\n".join([
        "## harness\n",
        f"Machine: {machine()}, {setup['threads']} torch thread(s); lm-eval {setup['lm_eval']}. Model "
        f"`{setup['model']}`, MMLU-OE (5-shot), greedy, max_new_tokens {setup['max_new_tokens']}, stop "
        f"{setup['stop']}, batch {setup['batch_size']} on every side, fp32. Model load excluded, one untimed "
        f"warm-up item per side, then {setup['repeats']} timed repeats per side, rotating which goes first; each "
        f"row is the side's fastest repeat. Load average (1 min) before/after: {setup['load'][0]:.1f}/"
        f"{setup['load'][1]:.1f} on 2 cores shared with other work. Peak RSS {setup['rss_mb']:.0f} MB (both "
        f"models). P(True) reads one {setup['query_tokens']}-token query per row on top of the KV cache "
        "generation left, instead of re-reading the few-shot prompt and answer.\n",
        *[line for title, regime, n, same_ids in regimes for line in regime_section(title, regime, n, same_ids)],
    ])


def warm_up(lm, requests, loaded, spec, examples, rows, data_root) -> None:
    """One item through each side, untimed: first-call allocations are not what either side costs per item."""
    lm.generate_until(requests[:1], disable_tqdm=True)
    run_ours(loaded, spec, examples[:1], rows[:1], 1)
    run_runner(loaded, spec, examples[:1], 1, data_root)


def main(argv=None) -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--model", default="default")
    parser.add_argument("--items", type=int, default=40, help="items per regime")
    parser.add_argument("--subjects", type=int, default=4,
                        help="second regime: the items come from this many subjects (0: skip it)")
    parser.add_argument("--batch-size", type=int, default=8, help="every side (as bench/cost.py)")
    parser.add_argument("--repeats", type=int, default=3, help="timed runs per side, rotating order")
    parser.add_argument("--adapter", action="append", default=[], metavar="SCORER=PATH",
                        help="also time an adapter scorer (lora_prompt) inside the run loop, repeatable")
    parser.add_argument("--data-root", default=None)
    parser.add_argument("--results", default=str(Path(__file__).with_name("RESULTS.md")))
    args = parser.parse_args(argv)

    import lm_eval

    loaded = load_model(args.model)
    lm = lm_eval_model(loaded.source, args.batch_size)
    adapters = adapted = None
    if args.adapter:  # on a second copy: attaching LoRAs wraps the model the other sides time
        adapted = load_model(args.model)
        adapters = AdapterSet.load(adapted, dict(a.split("=", 1) for a in args.adapter))
    spec = get_task("mmlu_oe_calib")
    load_before = os.getloadavg()[0]
    regimes = []
    for subjects in ([None, args.subjects] if args.subjects else [None]):
        examples = pick_items(spec, args.items, args.data_root, subjects)
        rows = [sum(prompt_ids(loaded.tokenizer, spec.build_prefix(ex, args.data_root), spec.build_suffix(ex)), [])
                for ex in examples]
        requests = lm_eval_requests(spec, examples, args.data_root)
        same_ids = same_prompt_ids(lm, requests, rows)
        warm_up(lm, requests, loaded, spec, examples, rows, args.data_root)
        regime = timed_regime(lm, loaded, spec, examples, rows, requests, args.batch_size, args.repeats,
                              args.data_root)
        if adapters is not None:
            run_runner(adapted, spec, examples[:1], 1, args.data_root, adapters)  # warm-up, untimed
            regime["adapter_stages"] = {}
            run_runner(adapted, spec, examples, args.batch_size, args.data_root, adapters, regime["adapter_stages"])
        title = (f"{len(examples)} items of {subjects} subjects (a full run has ~250 items per subject)" if subjects
                 else f"first {len(examples)} items of the fixed order (what `--limit {len(examples)}` runs)")
        regimes.append((title, regime, len(examples), same_ids))
    setup = {"model": args.model, "batch_size": args.batch_size, "repeats": args.repeats,
             "max_new_tokens": spec.max_new_tokens, "stop": list(spec.stop), "threads": torch.get_num_threads(),
             "lm_eval": lm_eval.__version__, "load": (load_before, os.getloadavg()[0]),
             "query_tokens": len(encode_text(loaded.tokenizer, prompts.UNCERTAINTY_QUERY)),
             "rss_mb": resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024}
    table = report(setup, regimes)
    print(table)
    replace_section(Path(args.results), "harness", table)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
