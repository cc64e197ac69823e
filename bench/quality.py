"""Do the papers' relative claims hold on the models available here? One row per claim.

    python bench/quality.py --adapters adapters/smollm2 --mmlu-items runs/quality/default/mmlu_oe_calib/items.jsonl

`--adapters` is the folder the README's training commands write into (one
sub-folder per method: calibration-tune, probe, ua-clm, verbalized-sft,
multitask-sft, temperature); a missing one leaves its rows "not run".
`--mmlu-items` is a runner output (items.jsonl) of MMLU-OE test items scored with
perplexity, zero_shot_classifier, lora_prompt (and probe), e.g.

    calib-eval run --model default --tasks mmlu_oe_calib --limit 150 --data-root ../shared/data \
        --scorers perplexity,zero_shot_classifier,lora_prompt \
        --adapter lora_prompt=adapters/smollm2/calibration-tune --output runs/quality

Labels: cached graded answers (training mix, BioASQ, MedQA) are regraded with the
current grader (calib_eval.grading) and the changes counted in the header; runner
outputs carry the grade of the run that wrote them. ECE claims get the Bonferroni
difference of two ECE intervals (:func:`ece_change`), AUROC claims paired BCa.

What is computed here, and what is read:
- Kapoor et al., in distribution: the calibration-tune folder's heldout_scores.jsonl,
  held-out items (never trained on) scored by lora_prompt and by the untrained
  zero-shot P(True) and perplexity scorers, labelled by the current grader.
  The probe is paired with LoRA+Prompt item by item through both folders'
  heldout_scores.jsonl (same items when the data settings match).
- Kapoor et al., cross-model: --cross-own is another model's runner output
  (its answers and its own zero_shot_classifier), --cross-judged the same file
  rescored by this model's LoRA+Prompt. Both can come from saved answers alone
  (e.g. a leaderboard run's items.jsonl), so both carry the current grader's labels:

    calib-eval score --generations ANSWERS.jsonl --scorers zero_shot_classifier --scorer-model gemma3-270m \
        --data-root ../shared/data --output runs/quality/cross-own
    calib-eval score --generations ANSWERS.jsonl --scorers lora_prompt,zero_shot_classifier --scorer-model default \
        --adapter lora_prompt=adapters/smollm2/calibration-tune --data-root ../shared/data --output runs/quality/cross-judged

  or with fresh answers:

    calib-eval run --model gemma3-270m --tasks mmlu_mc_calib --limit 200 --scorers zero_shot_classifier \
        --data-root ../shared/data --output runs/crossmodel
    calib-eval score --generations runs/crossmodel/gemma3-270m/mmlu_mc_calib/items.jsonl \
        --scorers lora_prompt,zero_shot_classifier --scorer-model default \
        --adapter lora_prompt=adapters/smollm2/calibration-tune --data-root ../shared/data --output runs/crossmodel-judged

  and the same for bioasq_ood_calib with --limit 150 (the pairs in bench/RESULTS.md).
- Kapoor et al., MMLU-OE transfer and temperature scaling: from --mmlu-items
  (paired bootstrap of AUROC / ECE differences on the same items).
- UA-CLM: token entropy of the base model's own answers, teacher-forced
  through the base and the UA-CLM-tuned model, on held-out training-mix items
  (correctness AUROC) and on BioASQ questions asked the same way
  (in-distribution vs BioASQ AUROC).
- Steyvers et al.: graded MedQA answers (lettered options, as in training);
  the stated confidence through verbalized-sft and multitask-sft adapters.

A second model gets its own section beside the default model's (issue #13: Qwen2.5-Coder-0.5B):

    calib-eval run --model qwen2.5-coder-0.5b --dtype bfloat16 --tasks mmlu_oe_calib,mmlu_mc_calib --limit 500 \
        --scorers perplexity,ua_clm_entropy,zero_shot_classifier,max_softmax --data-root ../shared/data --output runs/q05q
    calib-eval score --generations runs/q05q/qwen2.5-coder-0.5b/mmlu_oe_calib/items.jsonl \
        --scorers lora_prompt,probe --scorer-model qwen2.5-coder-0.5b --dtype bfloat16 \
        --adapter lora_prompt=adapters/qwen2.5-coder-0.5b/calibration-tune \
        --adapter probe=adapters/qwen2.5-coder-0.5b/probe --data-root ../shared/data --output runs/q05q-adapters/mmlu_oe_calib
    (the same for mmlu_mc_calib), then
    python bench/quality.py --model qwen2.5-coder-0.5b --dtype bfloat16 --section quality-qwen2.5-coder-0.5b \
        --adapters adapters/qwen2.5-coder-0.5b --ua-temperature 0.3 --ua-items 150 \
        --mmlu-items runs/q05q/qwen2.5-coder-0.5b/mmlu_oe_calib/items.jsonl \
        --mmlu-items runs/q05q-adapters/mmlu_oe_calib/qwen2.5-coder-0.5b/mmlu_oe_calib/items.jsonl \
        --mmlu-items runs/q05q/qwen2.5-coder-0.5b/mmlu_mc_calib/items.jsonl \
        --mmlu-items runs/q05q-adapters/mmlu_mc_calib/qwen2.5-coder-0.5b/mmlu_mc_calib/items.jsonl

(`--mmlu-items` repeats: MMLU-OE and MMLU-MC runner outputs; files of one task are joined by item id,
so the adapters' scores of a base run's answers sit beside its untrained scorers; `--ua-temperature`
adds UA-CLM rows on each model's own answers sampled at the paper's T=0.3; every UA-CLM adapter
found, `ua-clm` (ce_weight 0) and `ua-clm-ce` (ce_weight > 0), gets its rows.)

Prints markdown (machine named) and replaces the `--section` (default "quality") of
bench/RESULTS.md. Default settings take ~20-25 minutes on the 2-core CPU;
`--claims kapoor` (a minute or two) re-measures one paper's rows and carries
the others over from RESULTS.md, labelled so.
"""
from __future__ import annotations

import argparse
import json
import platform
import time
import warnings
from dataclasses import replace
from pathlib import Path
from types import SimpleNamespace

import numpy as np
import torch

from calib_eval.errors import DataError
from calib_eval.grading import GRADER_VERSION
from calib_eval.metrics import bootstrap_ci, expected_calibration_error, paired_bootstrap_diff, roc_auc
from calib_eval.metrics.ece_interval import ece_difference_interval
from calib_eval.results import read_items
from calib_eval.training import graded_data as gd
from cost import replace_section  # bench/ is on sys.path when run as a script

RESULTS = Path(__file__).with_name("RESULTS.md")


def fmt_ci(res) -> str:
    return f"{res.estimate:+.3f} [{res.low:+.3f}, {res.high:+.3f}]"


def verdict(res, better: str = "higher", null: float = 0.0) -> str:
    """'holds' when the 95% CI (anything with .low/.high) excludes `null` in the claimed direction."""
    low, high = (res.low - null, res.high - null) if better == "higher" else (null - res.high, null - res.low)
    if low > 0:
        return "holds"
    if high < 0:
        return "reversed"
    return f"not shown (CI spans {null:g})"


def ece_claim_row(m: dict, where: str) -> list[str]:
    """LoRA+Prompt vs zero-shot ECE from a card: a verdict only from a CI of the change.

    Used when the held-out per-item scores are missing (an older card); two
    point estimates never make a verdict.
    """
    zs = m["baselines"]["zero_shot_classifier"]
    claim = "Kapoor: LoRA+Prompt ECE < zero-shot ECE"
    change = zs.get("ece_change")  # tuned minus zero-shot, 95% CI, top-label
    if change is None:
        return [claim, where, f"{m['ece']:.3f} vs {zs['ece']:.3f} (card ECEs; no paired CI recorded)",
                "not tested (no CI: the card has no per-item scores)"]
    return [claim, where, f"ECE change {fmt_ci(SimpleNamespace(**change))}",
            verdict(SimpleNamespace(**change), better="lower")]


def ece_change(a, b, y):
    """CI of top-label ECE(a) - ECE(b) on the same items: two ECE intervals at 97.5%, differenced (Bonferroni).

    The same ECE intervals as the results files (test inversion, honest near 0;
    bench/RESULTS.md "coverage"); a paired bootstrap of an ECE difference has
    no measured coverage, and the two plug-ins' biases need not cancel.
    """
    return ece_difference_interval(a, b, y, n_bins=10, mode="top_label", n_resamples=1000, seed=0)


def top_label_ece(confidence, correct) -> float:
    """The papers' ECE (Kapoor et al.): 10 equal-width bins on the top-label confidence."""
    return expected_calibration_error(confidence, correct, n_bins=10, mode="top_label")


def paired(metric, a, b, y):
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        return paired_bootstrap_diff(metric, a, b, y, n_resamples=1000, seed=0)


def card(folder: Path) -> dict | None:
    path = folder / "calib_card.json"
    return json.loads(path.read_text()) if path.is_file() else None


# --------------------------------------------------------------------------- Kapoor et al.
def kapoor_in_distribution(adapters: Path, labels: dict[str, bool] | None) -> list[list[str]]:
    """From the calibration-tune folder's held-out per-item scores, labelled by the current grader where given."""
    from calib_eval.training.output import read_heldout_scores

    ct = card(adapters / "calibration-tune")
    if not ct or "baselines" not in ct.get("heldout_metrics", {}):
        return [["Kapoor: LoRA+Prompt beats zero-shot P(True) (held-out)", "not run", "", ""]]
    held = read_heldout_scores(adapters / "calibration-tune")
    ids = [i for i in held if labels is None or i in labels]
    if not ids:
        return [["Kapoor: LoRA+Prompt beats zero-shot P(True) (held-out)", "not run", "no per-item scores", ""]]
    y = np.array([labels[i] if labels is not None else bool(held[i]["correct"]) for i in ids])
    score = {k: np.array([held[i]["scores"][k] for i in ids]) for k in held[ids[0]]["scores"]}
    graded = f"grader v{GRADER_VERSION}" if labels is not None else "card labels"
    where = f"{len(ids)} held-out training-mix items, acc {y.mean():.2f} ({graded})"
    a, rows = score["lora_prompt"], []
    for name, claim in (("zero_shot_classifier", "zero-shot P(True)"), ("perplexity", "perplexity (best untrained)")):
        res = paired(roc_auc, a, score[name], y)
        rows.append([f"Kapoor: LoRA+Prompt AUROC > {claim}", where,
                     f"{roc_auc(a, y):.3f} vs {roc_auc(score[name], y):.3f}; gain {fmt_ci(res)}", verdict(res)])
    res = ece_change(a, score["zero_shot_classifier"], y)
    rows.append(["Kapoor: LoRA+Prompt ECE < zero-shot ECE", where,
                 f"top-label ECE {top_label_ece(a, y):.3f} vs {top_label_ece(score['zero_shot_classifier'], y):.3f}; "
                 f"change {fmt_ci(res)}", verdict(res, better="lower")])
    rows += probe_rows(adapters, where, labels)
    return rows


def probe_rows(adapters: Path, where: str, labels: dict[str, bool] | None = None) -> list[list[str]]:
    """LoRA+Prompt against the frozen-feature probe on the same held-out items (paired by id)."""
    from calib_eval.training.output import read_heldout_scores

    ct, probe = read_heldout_scores(adapters / "calibration-tune"), read_heldout_scores(adapters / "probe")
    if not probe:
        return [["Kapoor: LoRA+Prompt AUROC > probe", "not run", "no probe adapter with heldout_scores.jsonl", ""]]
    ids = [i for i in ct if i in probe]
    if len(ids) != len(ct):  # different data settings: not the same items, no paired comparison
        return [["Kapoor: LoRA+Prompt AUROC > probe", f"{len(ids)}/{len(ct)} held-out items shared",
                 "the two adapters were trained on different splits", "not comparable"]]
    ids = [i for i in ids if labels is None or i in labels]
    y = np.array([labels[i] if labels is not None else ct[i]["correct"] for i in ids])
    a = np.array([ct[i]["scores"]["lora_prompt"] for i in ids])
    b = np.array([probe[i]["scores"]["probe"] for i in ids])
    res = paired(roc_auc, a, b, y)
    rows = [["Kapoor: LoRA+Prompt AUROC > probe (frozen features)", where + " (same split)",
             f"{roc_auc(a, y):.3f} vs {roc_auc(b, y):.3f}; gain {fmt_ci(res)}", verdict(res)]]
    # pooled AUROC also rewards knowing which source is easy (anli ~0.7 right, the rest ~0.2-0.4);
    # the mean of per-source AUROCs asks whether the score ranks answers within one kind of question
    sources = [ct[i]["source"] for i in ids]
    codes = np.array([sorted(set(sources)).index(src) for src in sources])
    for name, other in (("probe", b), ("perplexity", np.array([ct[i]["scores"]["perplexity"] for i in ids]))):
        res = within_source_gain(a, other, y, codes)
        rows.append([f"Kapoor: LoRA+Prompt AUROC > {name}, within each training source (mean of "
                     f"{len(set(sources))} per-source AUROCs)", where + " (same split)",
                     f"{within_source_auroc(a, y, codes):.3f} vs {within_source_auroc(other, y, codes):.3f}; "
                     f"gain {fmt_ci(res)}", verdict(res)])
    return rows


def within_source_auroc(score, y, codes) -> float:
    """Mean AUROC over sources (one-class sources in a resample are skipped)."""
    values = [roc_auc(score[codes == c], y[codes == c]) for c in np.unique(codes)]
    return float(np.nanmean(values))


def within_source_gain(a, b, y, codes):
    """Bootstrap CI (items resampled, the same for both) of the within-source AUROC difference."""
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        return bootstrap_ci(lambda a_, b_, y_, c_: within_source_auroc(a_, y_, c_) - within_source_auroc(b_, y_, c_),
                            a, b, y, codes, n_resamples=1000, seed=0)


def kapoor_cross_model(own_path: Path | None, judged_path: Path | None) -> list[list[str]]:
    """Model B's LoRA+Prompt judging model A's answers, against A's own zero-shot P(True) and chance.

    own_path: A's runner output (items.jsonl with A's zero_shot_classifier);
    judged_path: `calib-eval score` of the same file with B's scorers (lora_prompt).
    """
    from calib_eval.leaderboard.records import display_model_name

    claim = "Kapoor: cross-model scoring works"
    if not (own_path and judged_path and own_path.is_file() and judged_path.is_file()):
        return [[claim, "not run (no --cross-own / --cross-judged)", "", ""]]
    own = {r["id"]: r for r in read_items(own_path, ("id", "correct", "scores"))}
    judged = {r["id"]: r for r in read_items(judged_path, ("id", "correct", "scores"))}
    ids = [i for i in own if i in judged]
    if any(own[i]["correct"] != judged[i]["correct"] for i in ids):
        raise SystemExit(f"{judged_path} grades differ from {own_path}: not a rescoring of the same answers")
    y = np.array([bool(own[i]["correct"]) for i in ids])
    a = np.array([judged[i]["scores"]["lora_prompt"] for i in ids])
    b = np.array([own[i]["scores"]["zero_shot_classifier"] for i in ids])
    task = own[ids[0]].get("task", own_path.parent.name)
    where = f"{len(ids)} {task} answers of {display_model_name(own_path.parent.parent.name)}, acc {y.mean():.2f}"
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        chance = bootstrap_ci(roc_auc, a, y, n_resamples=1000, seed=0)
    res = paired(roc_auc, a, b, y)
    scorer_model = display_model_name(judged_path.parent.parent.name)
    above = verdict(chance, null=0.5)
    return [[f"Kapoor: {scorer_model} LoRA+Prompt judges another model's answers (AUROC > 0.5)", where,
             f"{roc_auc(a, y):.3f} [{chance.low:.3f}, {chance.high:.3f}]", above],
            [f"Kapoor: {scorer_model} LoRA+Prompt AUROC > the answering model's own zero-shot P(True)", where,
             f"{roc_auc(a, y):.3f} vs {roc_auc(b, y):.3f}; gain {fmt_ci(res)}", verdict(res)]]


TASK_LABELS = {"mmlu_oe_calib": "MMLU-OE", "mmlu_mc_calib": "MMLU-MC"}


def joined_items(paths: list[Path]) -> dict[str, list[dict]]:
    """Runner outputs grouped by task, the scores of files of one task joined item by item.

    A base run and a `calib-eval score` of its answers with the adapters
    (lora_prompt, probe) are two files of one task: their rows are joined by
    id (items in both; each file's scores kept), so the adapters need not
    re-run the untrained scorers. A label that differs between two files of
    the same item is an error: they were graded differently.
    """
    by_task: dict[str, dict[str, dict]] = {}
    for path in paths:
        if not path.is_file():
            raise DataError(f"--mmlu-items {path}: no such file")
        rows = read_items(path, ("id", "correct", "scores"))
        task = (rows[0].get("task") if rows else None) or path.parent.name
        if task not in by_task:
            by_task[task] = {r["id"]: {**r, "task": task, "scores": dict(r["scores"])} for r in rows}
            continue
        joined = by_task[task]
        here = {r["id"]: r for r in rows}
        for item_id in list(joined):
            if item_id not in here:
                del joined[item_id]
                continue
            if bool(here[item_id]["correct"]) != bool(joined[item_id]["correct"]):
                raise DataError(f"--mmlu-items {path}: item {item_id!r} is graded {here[item_id]['correct']} here "
                                f"and {joined[item_id]['correct']} in another {task} file; score one run's answers")
            joined[item_id]["scores"].update(here[item_id]["scores"])
        if not joined:
            raise DataError(f"--mmlu-items {path}: no item in common with the other {task} file(s)")
    return {task: list(rows.values()) for task, rows in by_task.items()}


def kapoor_mmlu(items: list[dict] | None, adapters: Path) -> list[list[str]]:
    """LoRA+Prompt against the untrained scorers on runner output rows of test items (MMLU-OE or MMLU-MC)."""
    if not items:
        return [["Kapoor: MMLU-OE transfer, temperature scaling", "not run (no --mmlu-items)", "", ""]]
    y = np.array([bool(r["correct"]) for r in items])
    scores = {k: np.array([r["scores"][k] for r in items]) for k in items[0]["scores"]}
    task = items[0].get("task", "")
    label = TASK_LABELS.get(task, task)
    where = f"{len(items)} {label} test items, acc {y.mean():.2f}"
    rows = []
    if "lora_prompt" in scores:
        for base in ("zero_shot_classifier", "perplexity", "max_softmax", "probe"):
            if base in scores:
                res = paired(roc_auc, scores["lora_prompt"], scores[base], y)
                rows.append([f"Kapoor: LoRA+Prompt AUROC > {base} ({label}, trained on other data)", where,
                             f"{roc_auc(scores['lora_prompt'], y):.3f} vs {roc_auc(scores[base], y):.3f}; "
                             f"gain {fmt_ci(res)}", verdict(res)])
    if "lora_prompt" in scores and "zero_shot_classifier" in scores:
        res = ece_change(scores["lora_prompt"], scores["zero_shot_classifier"], y)
        rows.append([f"Kapoor: LoRA+Prompt ECE < zero-shot ECE ({label})", where,
                     f"top-label ECE {top_label_ece(scores['lora_prompt'], y):.3f} vs "
                     f"{top_label_ece(scores['zero_shot_classifier'], y):.3f}; change {fmt_ci(res)}",
                     verdict(res, better="lower")])
    temp = card(adapters / "temperature")
    if temp and temp.get("scorer") in scores:
        from calib_eval.adapters import apply_card_temperature

        before = scores[temp["scorer"]]
        after = np.asarray(apply_card_temperature(before, temp))
        res = ece_change(after, before, y)
        rows.append([f"Kapoor: temperature scaling lowers {temp['scorer']} ECE (T={temp['temperature']:.2f}, "
                     f"fit on {temp['fit_on']})", where,
                     f"top-label ECE {top_label_ece(before, y):.3f} -> {top_label_ece(after, y):.3f}; "
                     f"change {fmt_ci(res)}", verdict(res, better="lower")])
    return rows


# --------------------------------------------------------------------------- UA-CLM
def answer_entropies(model, tokenizer, rows, batch_size: int = 8) -> list[float]:
    """Mean token entropy of each saved answer under `model` (teacher forced); empty answers: NaN."""
    from calib_eval.inference.state import answer_step_logits, encode_batch

    out: list[float] = []
    with torch.no_grad():
        for s in range(0, len(rows), batch_size):
            chunk = rows[s: s + batch_size]
            state = encode_batch(model, [], [list(g.prompt_ids) for g in chunk], tokenizer.pad_token_id)
            for step, g in zip(answer_step_logits(state, [list(g.answer_ids) for g in chunk]), chunk):
                logp = torch.log_softmax(step.float(), dim=-1)
                ent = -(logp.exp() * logp).nan_to_num().sum(dim=-1)
                out.append(float(ent.mean()) if len(g.answer_ids) else float("nan"))
    return out


def sampled_answers(model, tokenizer, rows, temperature: float, seed: int = 0, max_new_tokens: int = 32,
                    batch_size: int = 8) -> tuple[list, np.ndarray]:
    """The rows' questions answered again by `model`, sampled at `temperature` (seeded), graded now.

    Same prompts, stop rule and length budget as the graded training answers.
    Returns the new rows and each answer's mean token entropy of the distribution
    it was sampled from (at `temperature`, as a sampling run sees it); NaN for an
    empty answer, which keeps its place so callers can drop it for every model alike.
    """
    from calib_eval.grading import grade
    from calib_eval.inference.decode import greedy_decode
    from calib_eval.inference.state import encode_batch
    from calib_eval.types import example_from_dict

    generator = torch.Generator().manual_seed(seed)
    out, entropy = [], []
    with torch.no_grad():
        for s in range(0, len(rows), batch_size):
            chunk = rows[s: s + batch_size]
            state = encode_batch(model, [], [list(g.prompt_ids) for g in chunk], tokenizer.pad_token_id)
            result = greedy_decode(state, tokenizer, max_new_tokens, ("\n",), sample_temperature=temperature,
                                   generator=generator, stop_after_text=True)
            for g, text, ids, ents in zip(chunk, result.texts, result.token_ids, result.entropies):
                correct = bool(grade(example_from_dict(g.example), text)[0]) if text.strip() else False
                out.append(replace(g, answer=text, answer_ids=list(ids), correct=correct))
                entropy.append(float(np.mean(ents)) if ids else float("nan"))
    return out, np.array(entropy)


UA_CLM_VARIANTS = ("ua-clm", "ua-clm-ce")  # adapter folders: pure UA-CLM loss, and with a plain CE term


def ua_clm(loaded, adapters: Path, holdout, bioasq, progress, temperature: float = 0.0) -> list[list[str]]:
    """Entropy before/after UA-CLM tuning, for every trained variant.

    Greedy rows: the base model's greedy answers teacher-forced through base and
    tuned model (same answers, same labels: paired). Sampled rows (temperature > 0,
    the paper's test-time protocol): each model answers for itself at that
    temperature, graded now; its own answers' entropy is the score, so before and
    after have their own labels and the CI resamples items jointly.
    """
    from calib_eval.adapters import AdapterSet

    names = [n for n in UA_CLM_VARIANTS if card(adapters / n)]
    if not names:
        return [["UA-CLM: entropy detects errors / BioASQ better after tuning", "not run", "", ""]]
    aset = AdapterSet.load(loaded, {n: str(adapters / n) for n in names})
    models = [("before", aset.base), *[(n, (lambda n=n: aset.active(n))) for n in names]]
    ent = {}
    for when, ctx in models:
        with ctx() as model:
            progress(f"UA-CLM entropies, greedy answers: {when}")
            ent[when] = (np.array(answer_entropies(model, loaded.tokenizer, holdout)),
                         np.array(answer_entropies(model, loaded.tokenizer, bioasq)))
    sampled = {}
    if temperature > 0:
        for when, ctx in models:
            with ctx() as model:
                progress(f"UA-CLM answers sampled at T={temperature:g}: {when}")
                (held_rows, held_ent), (bio_rows, bio_ent) = (
                    sampled_answers(model, loaded.tokenizer, part, temperature) for part in (holdout, bioasq))
                sampled[when] = ((held_rows, bio_rows), (held_ent, bio_ent))
    y = np.array([g.correct for g in holdout])
    rows = []
    for name in names:
        weight = card(adapters / name)["config"].get("ce_weight", 0.0)
        tag = f"(ce_weight {weight:g})"
        res = paired(roc_auc, -ent[name][0], -ent["before"][0], y)
        rows.append([f"UA-CLM {tag}: -entropy AUROC for correctness rises after tuning (greedy answers)",
                     f"{len(holdout)} held-out training-mix items, acc {y.mean():.2f}",
                     f"{roc_auc(-ent['before'][0], y):.3f} -> {roc_auc(-ent[name][0], y):.3f}; change {fmt_ci(res)}",
                     verdict(res)])
        is_id = np.array([1] * len(holdout) + [0] * len(bioasq))
        before, after = -np.concatenate(ent["before"]), -np.concatenate(ent[name])
        res = paired(roc_auc, after, before, is_id)
        rows.append([f"UA-CLM {tag}: -entropy separates in-distribution from BioASQ better after tuning (greedy)",
                     f"{len(holdout)} training-mix vs {len(bioasq)} BioASQ questions",
                     f"{roc_auc(before, is_id):.3f} -> {roc_auc(after, is_id):.3f}; change {fmt_ci(res)}",
                     verdict(res)])
        if name in sampled:
            rows += sampled_rows(sampled["before"], sampled[name], tag, temperature)
    return rows


def sampled_rows(before, after, tag: str, temperature: float) -> list[list[str]]:
    """Correctness and BioASQ rows from each model's own sampled answers (unpaired labels, joint resampling).

    before/after: ((held-out rows, BioASQ rows), (their entropies)); an item is
    kept when both models gave a non-empty answer, so both sides cover the same questions.
    """
    (b_rows, b_bio), (b_ent, b_bio_ent) = before
    (a_rows, a_bio), (a_ent, a_bio_ent) = after
    keep = ~np.isnan(b_ent) & ~np.isnan(a_ent)
    keep_bio = ~np.isnan(b_bio_ent) & ~np.isnan(a_bio_ent)
    b_ent, a_ent, b_bio_ent, a_bio_ent = b_ent[keep], a_ent[keep], b_bio_ent[keep_bio], a_bio_ent[keep_bio]
    yb = np.array([g.correct for g, k in zip(b_rows, keep) if k])
    ya = np.array([g.correct for g, k in zip(a_rows, keep) if k])
    n, n_bio, rows = int(keep.sum()), int(keep_bio.sum()), []
    if yb.any() and (~yb).any() and ya.any() and (~ya).any():
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")
            res = bootstrap_ci(lambda eb, y_b, ea, y_a: roc_auc(-ea, y_a) - roc_auc(-eb, y_b), b_ent, yb, a_ent, ya,
                               n_resamples=1000, seed=0)
        rows.append([f"UA-CLM {tag}: -entropy AUROC for correctness rises after tuning (own answers, T={temperature:g})",
                     f"{n} held-out training-mix items, acc {yb.mean():.2f} before / {ya.mean():.2f} after",
                     f"{roc_auc(-b_ent, yb):.3f} -> {roc_auc(-a_ent, ya):.3f}; change {fmt_ci(res)}", verdict(res)])
    else:
        rows.append([f"UA-CLM {tag}: -entropy AUROC for correctness rises after tuning (own answers, T={temperature:g})",
                     f"{n} held-out training-mix items", "one class of answers", "not tested"])
    before_ood, after_ood = -np.concatenate([b_ent, b_bio_ent]), -np.concatenate([a_ent, a_bio_ent])
    is_id = np.array([1] * n + [0] * n_bio)
    res = paired(roc_auc, after_ood, before_ood, is_id)
    rows.append([f"UA-CLM {tag}: -entropy separates in-distribution from BioASQ better after tuning "
                 f"(own answers, T={temperature:g})", f"{n} training-mix vs {n_bio} BioASQ questions",
                 f"{roc_auc(before_ood, is_id):.3f} -> {roc_auc(after_ood, is_id):.3f}; change {fmt_ci(res)}",
                 verdict(res)])
    return rows


# --------------------------------------------------------------------------- Steyvers et al.
def stated_confidence(model, tokenizer, rows, batch_size: int = 8) -> tuple[list[float], int]:
    """The verbalized scorer's reading after each saved answer; unparsable replies -> 0.5 (counted)."""
    from calib_eval.inference.state import encode_batch
    from calib_eval.scorers.verbalized import verbalized_confidences

    out, failed = [], 0
    with torch.no_grad():
        for s in range(0, len(rows), batch_size):
            chunk = rows[s: s + batch_size]
            state = encode_batch(model, [], [list(g.prompt_ids) + list(g.answer_ids) for g in chunk],
                                 tokenizer.pad_token_id)
            _, values = verbalized_confidences(state, tokenizer, 6)
            failed += sum(v is None for v in values)
            out += [0.5 if v is None else v for v in values]
    return out, failed


def steyvers(loaded, adapters: Path, medqa, progress) -> list[list[str]]:
    from calib_eval.adapters import AdapterSet

    names = [n for n in ("verbalized-sft", "multitask-sft") if card(adapters / n)]
    if len(names) < 2:
        return [["Steyvers: multitask SFT transfers to MedQA better than verbalized SFT", "not run", "", ""]]
    aset = AdapterSet.load(loaded, {n: str(adapters / n) for n in names})
    y = np.array([g.correct for g in medqa])
    conf, notes = {}, []
    for name, ctx in (("untrained", aset.base), *[(n, (lambda n=n: aset.active(n))) for n in names]):
        with ctx() as model:
            progress(f"MedQA stated confidence: {name}")
            values, failed = stated_confidence(model, loaded.tokenizer, medqa)
        conf[name] = np.array(values)
        notes.append(f"{name} top-label ECE {top_label_ece(conf[name], y):.3f} / AUROC "
                     f"{roc_auc(conf[name], y):.3f} ({failed} unparsable)")
    where = f"{len(medqa)} MedQA items, acc {y.mean():.2f}"
    auroc = paired(roc_auc, conf["multitask-sft"], conf["verbalized-sft"], y)
    ece = ece_change(conf["multitask-sft"], conf["verbalized-sft"], y)
    return [["Steyvers: multitask SFT AUROC > verbalized SFT on MedQA", where,
             "; ".join(notes) + f"; AUROC gain {fmt_ci(auroc)}", verdict(auroc)],
            ["Steyvers: multitask SFT ECE < verbalized SFT on MedQA", where, f"top-label ECE change {fmt_ci(ece)}",
             verdict(ece, better="lower")]]


# --------------------------------------------------------------------------- main
def regrade(rows: list) -> tuple[list, int]:
    """Cached graded answers relabelled by the current grader (the cache keeps the grade of its day); changes."""
    from calib_eval.grading import grade
    from calib_eval.types import example_from_dict

    out, changed = [], 0
    for g in rows:
        correct = bool(grade(example_from_dict(g.example), g.answer)[0]) if g.answer.strip() else False
        changed += correct != bool(g.correct)
        out.append(replace(g, correct=correct))
    return out, changed


def holdout_rows(adapters: Path, loaded, data_root) -> list:
    """The calibration-tune card's held-out split, rebuilt from the same cached graded data."""
    from calib_eval.training.api import graded_split
    from calib_eval.training.cli import _config_classes

    ct = card(adapters / "calibration-tune") or card(adapters / "ua-clm")
    if not ct:
        return []
    values = {k: tuple(v) if isinstance(v, list) else v for k, v in ct["config"].items()}
    cfg = _config_classes()[ct["method"]](**{**values, "data_root": str(data_root or values["data_root"])})
    return graded_split(cfg, loaded)[1]


def trained_answers_view(loaded, adapters: Path):
    """`loaded`, but reading the graded-answer caches of the load the adapters were trained on.

    Those caches are keyed by the dtype-specific fingerprint of the training
    load (recorded in the cards). Scoring in another dtype (e.g. bfloat16 after
    float32 training) must reuse the same answers and held-out split, not
    answer everything again in the new dtype.
    """
    import dataclasses

    cards = [card(adapters / n) for n in ("calibration-tune", "ua-clm", "probe")]
    trained = next((c["base_fingerprint"] for c in cards if c and c.get("base_fingerprint")), None)
    if trained is None or trained == loaded.fingerprint:
        return loaded

    class TrainedLoad(type(loaded)):
        @property
        def fingerprint(self) -> str:
            return trained

    return TrainedLoad(**{f.name: getattr(loaded, f.name) for f in dataclasses.fields(loaded)})


GROUPS = {"kapoor": "Kapoor", "ua-clm": "UA-CLM", "steyvers": "Steyvers"}  # --claims name -> row prefix


def section_text(text: str, section: str) -> str:
    """The body of one <!-- section:start/end --> block of RESULTS.md ('' when absent)."""
    start, end = f"<!-- {section}:start -->", f"<!-- {section}:end -->"
    return text.split(start, 1)[1].split(end, 1)[0] if start in text else ""


def carried_rows(text: str, groups: set[str], section: str = "quality") -> list[list[str]]:
    """Rows of the previous quality table whose claim belongs to a group not re-run now."""
    prefixes = tuple(GROUPS[g] for g in groups)  # "UA-CLM" also starts "UA-CLM (ce_weight 1): ..."
    section = section_text(text, section)
    cells = [line.strip().strip("|").split(" | ") for line in section.splitlines() if line.startswith("| ")]
    rows = [[c.strip() for c in row][:4] for row in cells if row[0].strip().startswith(prefixes)]
    return [row[:3] + [carried_verdict(row[3])] for row in rows if len(row) == 4]


def row_keys(rows: list[list[str]]) -> list[tuple[str, int]]:
    """(claim, occurrence) per row: cross-model claims repeat once per task."""
    seen: dict[str, int] = {}
    keys = []
    for row in rows:
        seen[row[0]] = seen.get(row[0], -1) + 1
        keys.append((row[0], seen[row[0]]))
    return keys


def previous_rows(text: str, section: str = "quality") -> dict[tuple[str, int], str]:
    """(claim, occurrence) -> "verdict (measured)" of the quality table now in RESULTS.md."""
    section = section_text(text, section)
    cells = [[c.strip() for c in line.strip().strip("|").split(" | ")] for line in section.splitlines()
             if line.startswith("| ") and not line.startswith("| claim ")]
    cells = [row for row in cells if len(row) >= 4]
    return {key: f"{row[3]} ({row[2]})" for row, key in zip(cells, row_keys(cells))}


CI_VERDICT_PREFIXES = ("not shown (CI spans", "not run", "not tested")  # besides exact "holds" / "reversed"


def carried_verdict(text: str) -> str:
    """A previous run's verdict, unless it was not made from a CI (e.g. an old 'holds (point estimate)')."""
    if text in ("holds", "reversed", "") or text.startswith(CI_VERDICT_PREFIXES):
        return text
    return f"not tested (previous verdict '{text}' had no CI)"


def main() -> None:
    from rich.console import Console

    from calib_eval.models import load_model

    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--adapters", type=Path, default=Path("adapters/smollm2"))
    ap.add_argument("--mmlu-items", type=Path, action="append", default=[],
                    help="runner output (items.jsonl) of MMLU-OE or MMLU-MC test items with lora_prompt; repeatable "
                         "(files of one task are joined by item id: a base run plus `calib-eval score` of its answers "
                         "with the adapters)")
    ap.add_argument("--cross-own", type=Path, action="append", default=[],
                    help="another model's runner output (items.jsonl with its zero_shot_classifier); repeatable")
    ap.add_argument("--cross-judged", type=Path, action="append", default=[],
                    help="`calib-eval score` of the matching --cross-own with this model's lora_prompt")
    ap.add_argument("--model", default="default")
    ap.add_argument("--dtype", default="float32", help="model dtype (bfloat16: ~2-3x faster on AVX-512 BF16 CPUs)")
    ap.add_argument("--section", default="quality",
                    help="RESULTS.md section to write, e.g. quality-qwen2.5-coder-0.5b beside the default model's")
    ap.add_argument("--ua-temperature", type=float, default=0.0,
                    help="also score UA-CLM on each model's own answers sampled at this temperature (paper: 0.3)")
    ap.add_argument("--data-root", default="../shared/data")
    ap.add_argument("--claims", default=",".join(GROUPS),
                    help=f"groups to measure now ({', '.join(GROUPS)}); the other groups' rows are carried over "
                         "unchanged from RESULTS.md and labelled so")
    ap.add_argument("--ua-items", type=int, default=300, help="held-out items for the UA-CLM rows")
    ap.add_argument("--bioasq-items", type=int, default=150)
    ap.add_argument("--medqa-items", type=int, default=200)
    ap.add_argument("--no-write", action="store_true")
    ap.add_argument("--previous", type=Path, default=RESULTS,
                    help="file whose quality section fills the 'previous run' column (default: RESULTS.md itself)")
    args = ap.parse_args()
    claims = {c.strip() for c in args.claims.split(",") if c.strip()}
    if not claims or claims - set(GROUPS):
        ap.error(f"--claims takes some of {', '.join(GROUPS)}; got {args.claims!r}")
    console = Console()
    started = time.perf_counter()
    progress = lambda msg: console.print(f"[dim]{time.perf_counter() - started:6.0f}s[/] {msg}")  # noqa: E731

    loaded = load_model(args.model, "cpu", args.dtype)
    rows, relabelled = [], []

    def current(name: str, graded: list) -> list:
        """Cached answers with the current grader's labels; the count of changes is reported."""
        out, changed = regrade(graded)
        relabelled.append(f"{changed}/{len(out)} {name}")
        return out

    answers = trained_answers_view(loaded, args.adapters)  # cached answers of the training load
    held = current("held-out training-mix", holdout_rows(args.adapters, answers, args.data_root))
    if "kapoor" in claims:
        rows += kapoor_in_distribution(args.adapters, {g.id: g.correct for g in held} if held else None)
    holdout = [g for g in held if g.answer_ids][: args.ua_items]
    progress(f"{len(holdout)} held-out items")
    if "ua-clm" in claims:
        bioasq = current("BioASQ", [g for g in gd.build_graded(answers, ["bioasq"], args.bioasq_items, 0,
                                                                 data_root=args.data_root) if g.answer_ids])
        rows += ua_clm(loaded, args.adapters, holdout, bioasq, progress, args.ua_temperature)
    if "steyvers" in claims:
        medqa = current("MedQA", [g for g in gd.build_graded(answers, ["medqa"], args.medqa_items, 0,
                                                               data_root=args.data_root) if g.answer_ids])
        rows += steyvers(loaded, args.adapters, medqa, progress)
    if "kapoor" in claims:
        for items in joined_items(args.mmlu_items).values() or [None]:
            rows += kapoor_mmlu(items, args.adapters)
        if len(args.cross_own) != len(args.cross_judged):
            ap.error("give one --cross-judged per --cross-own")
        for own, judged in zip(args.cross_own, args.cross_judged) if args.cross_own else [(None, None)]:
            rows += kapoor_cross_model(own, judged)
    kept = set(GROUPS) - claims
    previous = RESULTS.read_text() if RESULTS.exists() else ""
    carried = carried_rows(previous, kept, args.section) if kept else []

    title = "quality" if args.section == "quality" else f"quality: {args.model}"
    lines = [f"## {title}\n\nMachine: {platform.machine()}, {torch.get_num_threads()} threads, torch "
             f"{torch.__version__}. Model `{args.model}` ({loaded.name}, {args.dtype}); adapters from `{args.adapters}`; "
             f"labels from grader v{GRADER_VERSION} (cached answers regraded: {', '.join(relabelled)} changed). "
             f"Verdict: 'holds' only when a 95% CI excludes 0 in the claimed direction; no point-estimate "
             f"verdicts. AUROC: BCa bootstrap, paired where two scorers share items. ECE claims use the papers' "
             f"top-label ECE (10 equal-width bins); an ECE change's CI is the difference of the two ECEs' "
             f"test-inversion intervals at 97.5% (Bonferroni; calib_eval.metrics.ece_interval). Last column: "
             f"the previous run of this script, so a reader sees what changed.\n",
             "| claim | items | measured | verdict | previous run |", "|---|---|---|---|---|"]
    before = previous_rows(args.previous.read_text() if args.previous.exists() else "", args.section)
    lines += [f"| {' | '.join(r)} | {before.get(key, '-')} |" for r, key in zip(rows + carried, row_keys(rows + carried))]
    lines.append(f"\nMeasured in this run: {', '.join(sorted(claims))} ({time.perf_counter() - started:.0f}s)."
                 + (f" Rows of {', '.join(sorted(kept))} are carried over unchanged from the previous run of this "
                    "script (same adapters, same items; labels and intervals as they were then, not re-measured)."
                    if carried else ""))
    text = "\n".join(lines)
    console.print(text)
    if not args.no_write:
        replace_section(RESULTS, args.section, text)


if __name__ == "__main__":
    main()
