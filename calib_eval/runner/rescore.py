"""`calib-eval score`: run scorers over saved generations, never regenerating.

Reads our per-item JSONL (items.jsonl) or lm-eval `--log_samples` output
(samples_<task>_<date>.jsonl of our *_calib tasks). The scoring model may
differ from the model that answered: that is cross-model estimation (model
B's scorer judging model A's answers, Kapoor et al.). A multiple-choice
sample's answer is its highest-likelihood option, never a logged
log-likelihood string (calib_eval.harness.samples). Any other lm-eval task's
samples go through calib_eval.runner.lmeval_samples.
"""
from __future__ import annotations

import hashlib
import json
import re
import time
from dataclasses import replace
from pathlib import Path

from rich.console import Console

from calib_eval.errors import DataError
from calib_eval.grading import GRADER_VERSION
from calib_eval.inference.tokens import encode_text, prompt_ids
from calib_eval.results import read_jsonl, write_json_atomic, write_jsonl_atomic
from calib_eval.runner.config import RunConfig
from calib_eval.runner.item_cache import ItemCache
from calib_eval.runner.report import build_payload, render_table
from calib_eval.runner.run import cache_signature, default_cache_signature, progress_bar, resolve_scorers
from calib_eval.runner.samples_only import needs_language_model, stored_identity
from calib_eval.scorers.samples import SampleSet
from calib_eval.scorers.base import ScoringBatch
from calib_eval.task_specs import cut_at_stop, get_task, load_task_examples
from calib_eval.types import Generation, Graded

_SAMPLES = re.compile(r"samples_(?P<task>.+?)_\d{4}-\d{2}-\d{2}T.*\.jsonl$")


def read_generations(path: Path) -> list[dict]:
    """Rows with id, task, answer_raw, correct from either file format."""
    lmeval_task = (m.group("task") if (m := _SAMPLES.search(path.name)) else None)
    return [_from_lmeval(raw, lmeval_task, path, number) if lmeval_task else _from_ours(raw, path, number)
            for number, raw in read_jsonl(path, "generations")]


def _from_ours(raw: dict, path: Path, number: int) -> dict:
    missing = [k for k in ("id", "task", "answer", "correct") if k not in raw]
    if missing:
        raise DataError(f"{path}:{number}: missing {', '.join(missing)}")
    return {"id": raw["id"], "task": raw["task"], "answer_raw": raw.get("answer_raw", " " + raw["answer"]),
            "correct": bool(raw["correct"]), "samples": raw.get("samples")}


def _from_lmeval(raw: dict, task: str, path: Path, number: int) -> dict:
    from calib_eval.harness.samples import logged_item

    doc = raw.get("doc", {})
    if "id" not in doc or "calib_task" not in doc:
        raise DataError(f"{path}:{number}: not a sample of a calib-eval task (no doc id); score any lm-eval "
                        "task's samples with `calib-eval score --lm-eval-samples OUTPUT_DIR`")
    item = logged_item(raw, path, number, delimiter="")  # our choice tasks carry their own leading space
    answer = item.answer if item.mode == "choice" else cut_at_stop(item.answer, get_task(task).stop)
    return {"id": doc["id"], "task": task, "answer_raw": answer, "correct": item.correct,
            "choice_logprobs": list(item.lls)}


def rescore(path: Path, config: RunConfig, console: Console | None = None) -> list[Path]:
    from calib_eval.adapters import AdapterSet
    from calib_eval.models import load_model

    console = console or Console()
    rows = read_generations(Path(path))
    if needs_language_model(rows, config.scorers, config.adapters, config.scorer.semantic_equivalence):
        loaded = load_model(config.model, config.device, config.dtype, config.placement)
    else:  # the sampling family over stored samples: no LM to load
        loaded = stored_identity(Path(path))
    adapters = AdapterSet.load(loaded, config.adapters) if config.adapters else None
    written = []
    for task in sorted({r["task"] for r in rows}):
        written.append(_rescore_task(task, [r for r in rows if r["task"] == task], config, loaded, adapters, console,
                                     source=Path(path)))
    return written


def _rescore_task(task, rows, config, loaded, adapters, console, source: Path) -> Path:
    spec = get_task(task)
    rows = _kept_rows(task, spec, rows, config, console)
    by_id = {ex.id: ex for ex in load_task_examples(spec, None, config.data_root)}
    tok = loaded.tokenizer
    items, prefixes, relabelled = [], [], 0
    for r in rows:
        ex = by_id[r["id"]]
        prefix, suffix = spec.build_prefix(ex, config.data_root), spec.build_suffix(ex)
        p_ids, s_ids = prompt_ids(tok, prefix, suffix) if tok is not None else ([], [])
        generation = Generation(ex, prefix + suffix, r["answer_raw"], choice_logprobs=tuple(r.get("choice_logprobs") or ()))
        answer_ids = encode_text(tok, r["answer_raw"].rstrip()) if tok is not None else []
        graded = Graded(generation, *spec.regrade(ex, generation.answer, r["correct"]))
        relabelled += graded.correct != r["correct"]
        items.append((graded, s_ids, answer_ids, r.get("samples")))
        prefixes.append(p_ids)
    if relabelled:
        console.print(f"{task}: the current grader (v{GRADER_VERSION}) changed {relabelled} of {len(items)} labels "
                      "from the file's")
    scorers = resolve_scorers(config.scorers, config.adapters, spec.mode)
    return score_items(task, items, scorers, config, loaded, adapters, console, source,
                       max_new_tokens=spec.max_new_tokens, stop=spec.stop, grader=spec.grade, prefixes=prefixes)


def _kept_rows(task, spec, rows, config, console) -> list[dict]:
    """Rows whose items the task still has; ids the task now drops by design are skipped with a count.

    A task's `keep` filter (MMLU-OE: option-bound references) can exclude items
    an older run answered; ids the data never had are an error.
    """
    every = {ex.id: ex for ex in load_task_examples(replace(spec, keep=None), None, config.data_root)}
    unknown = [r["id"] for r in rows if r["id"] not in every]
    if unknown:
        raise DataError(f"{len(unknown)} ids are not items of {task} (e.g. {unknown[0]!r})")
    kept = [r for r in rows if spec.keep is None or spec.keep(every[r["id"]])]
    if len(kept) < len(rows):
        console.print(f"{task}: skipped {len(rows) - len(kept)} items the task now excludes (see its keep filter)")
    if not kept:
        raise DataError(f"none of the {len(rows)} rows of {task} is an item the task still grades")
    return kept


def score_items(task, items, scorers, config, loaded, adapters, console, source: Path, *, max_new_tokens: int = 32,
                stop=("\n",), grader=None, extra_rows: dict | None = None, prefixes: list | None = None) -> Path:
    """Run ``scorers`` over prepared (Graded, prompt ids, answer ids, stored samples) items; write the results.

    ``prefixes``, when given, is each item's shared few-shot prefix ids, its
    prompt ids then being the rest: items are batched by prefix, as the runner
    does, and each prefix is encoded once (MMLU's 5-shot header is most of
    every prompt). ``extra_rows`` maps a scorer name to per-item scores
    computed elsewhere (e.g. max-softmax read from logged log-likelihoods), in
    item order.
    """
    from calib_eval.runner.run import prefix_batches, with_prefix_caches

    out_dir = Path(config.output) / loaded.name.replace("/", "__") / task
    cache = _rescore_cache(out_dir, items, scorers, config, loaded, source)
    # a killed rescoring (the sampling family draws k samples per item: an hour on CPU) resumes from its cache
    out_rows: list[dict | None] = [cache.rows.get(_item_id(item)) if cache is not None else None for item in items]
    todo = [i for i, row in enumerate(out_rows) if row is None]
    timings = {"generation_s": 0.0, "scoring_s": {n: 0.0 for n in scorers}, "items_computed": len(todo),
               "items_resumed": len(items) - len(todo)}
    extra: dict = {}
    keys = [tuple(p) for p in prefixes] if prefixes is not None else [()] * len(items)
    prefix_ids = {key: list(key) for key in keys}
    prompt_rest = [list(item[1]) for item in items]
    batches = prefix_batches(todo, keys, prefix_ids, prompt_rest, config.batch_size)
    with progress_bar(console) as progress:
        bar = progress.add_task(f"{task}: scoring", total=len(items), completed=len(items) - len(todo))
        for batch, prefix_cache in with_prefix_caches(batches, keys, prefix_ids, loaded.model, adapters):
            _score_batch(batch, items, prefix_ids[keys[batch[0]]], [prompt_rest[i] for i in batch], prefix_cache,
                         scorers, config, loaded, adapters, max_new_tokens, stop, grader, task, extra, timings,
                         out_rows)
            if cache is not None:
                cache.append([out_rows[i] for i in batch])
            progress.advance(bar, len(batch))
    all_scorers = dict(scorers)
    for name, (scorer, values) in (extra_rows or {}).items():
        all_scorers[name] = scorer
        for row, value in zip(out_rows, values):
            row["scores"][name] = value
    import dataclasses

    payload = build_payload(task, loaded, {**dataclasses.asdict(config), "rescored_from": str(source)},
                            out_rows, all_scorers, adapters, timings, extra, config.n_bins, config.bootstrap)
    write_jsonl_atomic(out_dir / "items.jsonl", out_rows)
    write_json_atomic(out_dir / "results.json", payload)
    console.print(render_table(payload))
    return out_dir / "results.json"


def _item_id(item) -> str:
    return item[0].generation.example.id


def _rescore_cache(out_dir: Path, items, scorers, config, loaded, source: Path) -> ItemCache | None:
    """The per-item cache a rescoring appends to, or None when item ids repeat (a cache could not tell them apart).

    Its signature names the input file by content, so rescoring another file
    (or a regenerated one) into the same folder starts over instead of mixing.
    """
    ids = [_item_id(item) for item in items]
    if len(set(ids)) < len(ids):
        return None
    labels = json.dumps([bool(item[0].correct) for item in items]).encode()
    signature = {**cache_signature(loaded, scorers, config),
                 "source_sha256": hashlib.sha256(Path(source).read_bytes()).hexdigest(),
                 "grader": GRADER_VERSION, "labels": hashlib.sha256(labels).hexdigest()}
    return ItemCache(out_dir / "items.partial.jsonl", signature, default_cache_signature())


def _score_batch(batch, items, prefix_ids, prompt_rest, prefix_cache, scorers, config, loaded, adapters,
                 max_new_tokens, stop, grader, task, extra, timings, out_rows) -> None:
    """Score one batch of prepared items; their output rows go into `out_rows` at their indices."""
    from calib_eval.runner.batch_work import base_model

    chosen = [items[i] for i in batch]
    stored = [SampleSet.from_json(c[3]) for c in chosen] if all(c[3] for c in chosen) else None
    scoring = ScoringBatch([c[0] for c in chosen], loaded, list(prefix_ids), prompt_rest, [c[2] for c in chosen],
                           config=config.scorer, adapters=adapters, max_new_tokens=max_new_tokens, stop=tuple(stop),
                           extra=extra, grader=grader, samples=stored, prefix_cache=prefix_cache)
    scores = {}
    for name, scorer in scorers.items():
        t0 = time.perf_counter()
        with base_model(None if adapters is not None and adapters.has(name) else adapters):
            scores[name] = scorer.score(scoring)
        timings["scoring_s"][name] += time.perf_counter() - t0
    for k, i in enumerate(batch):
        graded = chosen[k][0]
        out_rows[i] = {"id": graded.generation.example.id, "task": task,
                       "answer": graded.generation.answer.strip(), "answer_raw": graded.generation.answer,
                       "correct": graded.correct, "answer_kind": graded.generation.example.answer_kind,
                       "scores": {n: s[k] for n, s in scores.items()}}
        if scoring.samples is not None:  # kept (or newly drawn) so the output can be rescored again
            out_rows[i]["samples"] = scoring.samples[k].to_json()
