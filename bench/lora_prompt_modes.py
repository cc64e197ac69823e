"""lora_prompt in its two modes, on the same items, in one process.

    OMP_NUM_THREADS=1 python bench/lora_prompt_modes.py --adapter adapters/smollm2/calibration-tune \
        --items 100 --data-root ../shared/data

Three runner passes go batch by batch side by side (so load on a shared
machine hits them alike), each through the runner's own loop
(`answered_batches`, few-shot prefix caches included):

- base:  plain greedy generation, no scorer (the denominator);
- paper: the base model answers, the adapter re-reads prompt + answer + the
  uncertainty query (Kapoor et al.; the default);
- shared-cache: the adapter answers, the query extends that cache.

Printed per task: cost over base generation (process CPU seconds, which one
torch thread makes robust to other jobs; wall beside it), how many greedy
answers and correctness labels the shared-cache mode keeps from base
generation, and AUROC / ECE (10 equal-width bins, P(correct) convention as the
results files) of each mode with BCa 95% intervals, plus the paired
shared-minus-paper difference (one resample of items for both modes).

The tolerance below was fixed before the first measurement: shared-cache
becomes the default only if every task meets all of it.
"""
from __future__ import annotations

import argparse
import dataclasses
import sys
from pathlib import Path

import numpy as np

from cost import machine, replace_section  # bench/ is on sys.path as a script
from peer import charge, clock
from calib_eval.adapters import AdapterSet
from calib_eval.metrics import bootstrap_ci, expected_calibration_error, roc_auc
from calib_eval.models import load_model
from calib_eval.runner.config import RunConfig
from calib_eval.runner.run import answered_batches
from calib_eval.scorers import ScorerConfig, get_scorer
from calib_eval.task_specs import get_task, load_task_examples

# The tolerance (stated before measuring). Per task, shared-cache must keep
MIN_SAME_ANSWERS = 0.95  # >= 95% of greedy answers identical to base generation's
MAX_AUROC_DROP = 0.02  # AUROC(shared) - AUROC(paper) >= -0.02 ...
AUROC_CI_FLOOR = -0.05  # ... and the paired 95% CI's lower bound >= -0.05
MAX_ECE_RISE = 0.02  # ECE(shared) - ECE(paper) <= +0.02 ...
ECE_CI_CEIL = 0.05  # ... and the paired 95% CI's upper bound <= +0.05
COST_TARGET = 1.3  # and cost <= 1.3x base generation (issue #16)
MODES = ("base", "paper", "shared-cache")
SECTION = "lora-prompt-modes"


def mode_pass(loaded, adapters, spec, examples, mode: str, args):
    """The runner's batch loop for one mode; its own prefix caches (base and adapter) as a real run has."""
    scorer_cfg = ScorerConfig(lora_prompt_mode="paper" if mode == "base" else mode)
    config = RunConfig(model=args.model, batch_size=args.batch_size, data_root=args.data_root, scorer=scorer_cfg)
    scorers = {} if mode == "base" else {"lora_prompt": get_scorer("lora_prompt")()}
    own = dataclasses.replace(adapters, prefix_caches={})  # same LoRA weights, a prefix cache of its own
    return answered_batches(loaded, spec, examples, list(range(len(examples))), scorers, own, config)


def measure_task(loaded, adapters, task: str, limit: int, args) -> dict:
    spec = get_task(task)
    examples = load_task_examples(spec, limit, args.data_root)
    passes = {m: mode_pass(loaded, adapters, spec, examples, m, args) for m in MODES}
    seconds = {m: [0.0, 0.0] for m in MODES}  # [wall, cpu]
    rows = {m: {} for m in MODES}
    modes_seen = {m: set() for m in MODES}
    while True:
        done = False
        for m in MODES:  # one batch of each mode in turn
            t0 = clock()
            item = next(passes[m], None)
            charge(seconds[m], t0)
            if item is None:
                done = True
                continue
            _, outcome = item
            rows[m].update({r["id"]: r for r in outcome.rows})
            modes_seen[m].add(outcome.extra.get("lora_prompt", {}).get("mode"))
        if done:
            break
    assert modes_seen["paper"] == {"paper"} and modes_seen["shared-cache"] == {"shared-cache"}, modes_seen
    ids = [ex.id for ex in examples]
    # answers of other lengths cost other decode steps: the mean length explains part of a cost ratio
    tokens = {m: float(np.mean([len(loaded.tokenizer(rows[m][i]["answer_raw"], add_special_tokens=False)["input_ids"])
                                for i in ids])) for m in MODES}
    return {"task": task, "n": len(ids), "seconds": seconds, "answer_tokens": tokens,
            "rows": {m: [rows[m][i] for i in ids] for m in MODES}}


def metric_fns(n_bins: int) -> dict:
    return {"AUROC": roc_auc, "ECE": lambda s, y: expected_calibration_error(s, y, n_bins=n_bins)}


def compare(result: dict, n_bins: int, n_boot: int) -> dict:
    """Agreement with base generation and each mode's metrics, with the paired difference."""
    base, paper, shared = (result["rows"][m] for m in MODES)
    out = {"same_paper": sum(a["answer_raw"] == b["answer_raw"] for a, b in zip(paper, base)),
           "same_answers": sum(a["answer_raw"] == b["answer_raw"] for a, b in zip(shared, base)),
           "same_labels": sum(a["correct"] == b["correct"] for a, b in zip(shared, base)),
           "accuracy": {m: float(np.mean([r["correct"] for r in result["rows"][m]])) for m in MODES}}
    sp, yp = np.array([r["scores"]["lora_prompt"] for r in paper]), np.array([r["correct"] for r in paper])
    ss, ys = np.array([r["scores"]["lora_prompt"] for r in shared]), np.array([r["correct"] for r in shared])
    for name, fn in metric_fns(n_bins).items():
        out[name] = {"paper": bootstrap_ci(fn, sp, yp, n_resamples=n_boot),
                     "shared-cache": bootstrap_ci(fn, ss, ys, n_resamples=n_boot),
                     # labels differ where answers do: resample items, each mode with its own labels
                     "diff": bootstrap_ci(lambda a, ya, b, yb: fn(b, yb) - fn(a, ya), sp, yp, ss, ys,
                                          n_resamples=n_boot)}
    base_wall, base_cpu = result["seconds"]["base"]
    out["cost"] = {m: (result["seconds"][m][1] / base_cpu, result["seconds"][m][0] / base_wall)
                   for m in ("paper", "shared-cache")}
    return out


def verdict(n: int, c: dict) -> list[str]:
    """The tolerance checks a task fails (empty: shared-cache is within tolerance here)."""
    fails = []
    if c["same_answers"] < MIN_SAME_ANSWERS * n:
        fails.append(f"same answers {c['same_answers']}/{n} < {MIN_SAME_ANSWERS:.0%}")
    auroc, ece = c["AUROC"]["diff"], c["ECE"]["diff"]
    if not np.isfinite(auroc.estimate) or auroc.estimate < -MAX_AUROC_DROP or not auroc.low >= AUROC_CI_FLOOR:
        fails.append(f"dAUROC {auroc.estimate:+.3f} [{auroc.low:+.3f}, {auroc.high:+.3f}]")
    if ece.estimate > MAX_ECE_RISE or not ece.high <= ECE_CI_CEIL:
        fails.append(f"dECE {ece.estimate:+.3f} [{ece.low:+.3f}, {ece.high:+.3f}]")
    if c["cost"]["shared-cache"][0] > COST_TARGET:
        fails.append(f"cost {c['cost']['shared-cache'][0]:.2f}x > {COST_TARGET}x")
    return fails


def _ci(r) -> str:
    return f"{r.estimate:.3f} [{r.low:.3f}, {r.high:.3f}]"


def _dci(r) -> str:
    return f"{r.estimate:+.3f} [{r.low:+.3f}, {r.high:+.3f}]"


def report(results: list[dict], comparisons: list[dict], args, command: str) -> str:
    lines = [f"Machine: {machine()}, shared with other jobs (ratios use process CPU seconds, "
             f"OMP_NUM_THREADS=1; wall beside). Model `{args.model}`, adapter `{args.adapter}`, "
             f"batch {args.batch_size}, first n items of each task's fixed order, "
             f"{args.bootstrap} bootstrap resamples. Command: `{command}`", "",
             f"Tolerance, fixed before measuring: shared-cache becomes the default only if on every task "
             f">= {MIN_SAME_ANSWERS:.0%} of greedy answers equal base generation's, AUROC(shared) - "
             f"AUROC(paper) >= -{MAX_AUROC_DROP} with paired CI lower bound >= {AUROC_CI_FLOOR}, "
             f"ECE(shared) - ECE(paper) <= +{MAX_ECE_RISE} with CI upper bound <= +{ECE_CI_CEIL}, "
             f"and cost <= {COST_TARGET}x.", "",
             "| task | n | cost paper (cpu / wall) | cost shared-cache (cpu / wall) | same answers | same labels "
             "| accuracy base / shared | answer tokens base / shared |",
             "|---|---|---|---|---|---|---|---|"]
    for r, c in zip(results, comparisons):
        (pc, pw), (sc, sw) = c["cost"]["paper"], c["cost"]["shared-cache"]
        lines.append(f"| {r['task']} | {r['n']} | {pc:.2f}x / {pw:.2f}x | {sc:.2f}x / {sw:.2f}x "
                     f"| {c['same_answers']}/{r['n']} | {c['same_labels']}/{r['n']} "
                     f"| {c['accuracy']['base']:.3f} / {c['accuracy']['shared-cache']:.3f} "
                     f"| {r['answer_tokens']['base']:.1f} / {r['answer_tokens']['shared-cache']:.1f} |")
    lines += ["", "| task | metric | paper | shared-cache | shared - paper (paired) |", "|---|---|---|---|---|"]
    for r, c in zip(results, comparisons):
        for name in ("AUROC", "ECE"):
            m = c[name]
            lines.append(f"| {r['task']} | {name} | {_ci(m['paper'])} | {_ci(m['shared-cache'])} | {_dci(m['diff'])} |")
    lines.append("")
    fails = {r["task"]: verdict(r["n"], c) for r, c in zip(results, comparisons)}
    for task, f in fails.items():
        lines.append(f"- {task}: " + ("within tolerance" if not f else "outside tolerance: " + "; ".join(f)))
    ok = not any(fails.values())
    lines.append(f"- verdict: {'shared-cache is within tolerance on every task' if ok else 'paper stays the default'}")
    return "\n".join(lines)


def main(argv=None) -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--model", default="default")
    parser.add_argument("--adapter", required=True, help="calibration-tune adapter folder (lora_prompt)")
    parser.add_argument("--tasks", default="mmlu_oe_calib,bioasq_ood_calib")
    parser.add_argument("--items", default="100", help="first N items per task, or one N per task: 50,100")
    parser.add_argument("--batch-size", type=int, default=8)
    parser.add_argument("--bootstrap", type=int, default=1000)
    parser.add_argument("--n-bins", type=int, default=10)
    parser.add_argument("--data-root", default=None)
    parser.add_argument("--results", default=str(Path(__file__).with_name("RESULTS.md")))
    parser.add_argument("--no-write", action="store_true", help="print only; leave RESULTS.md alone")
    args = parser.parse_args(argv)

    loaded = load_model(args.model)
    adapters = AdapterSet.load(loaded, {"lora_prompt": args.adapter})
    tasks = args.tasks.split(",")
    limits = [int(n) for n in args.items.split(",")]
    limits = limits * len(tasks) if len(limits) == 1 else limits
    if len(limits) != len(tasks):
        parser.error(f"--items gives {len(limits)} counts for {len(tasks)} tasks")
    results, comparisons = [], []
    command = "python bench/lora_prompt_modes.py " + " ".join(sys.argv[1:])
    for task, limit in zip(tasks, limits):
        results.append(measure_task(loaded, adapters, task, limit, args))
        comparisons.append(compare(results[-1], args.n_bins, args.bootstrap))
        assert comparisons[-1]["same_paper"] == results[-1]["n"], "paper mode must answer as base generation"
        body = report(results, comparisons, args, command)  # after every task: a partial run still tells
        print(f"{task}: {results[-1]['seconds']}\n{body}", flush=True)
    if not args.no_write:
        replace_section(Path(args.results), SECTION, "## lora_prompt modes\n\n" + body + "\n")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
