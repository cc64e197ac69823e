"""Orchestrate a run: per task, batches -> per-item cache -> results files."""
from __future__ import annotations

import dataclasses
from pathlib import Path

from rich.console import Console
from rich.progress import BarColumn, MofNCompleteColumn, Progress, TextColumn, TimeElapsedColumn, TimeRemainingColumn

from calib_eval.engines import batch_loop, engine_notes, is_server_model, open_for_run
from calib_eval.errors import CalibEvalError, unknown_name
from calib_eval.inference.batching import length_sorted_batches
from calib_eval.inference.state import encode_prefix
from calib_eval.inference.tokens import prompt_ids
from calib_eval.judge import report_for_run
from calib_eval.results import write_json_atomic, write_jsonl_atomic
from calib_eval.runner.batch_work import base_model, run_batch
from calib_eval.runner.config import RunConfig
from calib_eval.runner.item_cache import ItemCache
from calib_eval.runner.parallel import Shard, current_shard
from calib_eval.runner.report import build_payload, render_table
from calib_eval.scorers import SCORERS
from calib_eval.task_specs import get_task, load_task_examples


def resolve_scorers(names, adapters: dict[str, str], mode: str) -> dict:
    """Instantiate the scorers that apply to this task mode; refuse bad combos early."""
    chosen = {}
    for name in names:
        cls = SCORERS.get(name)
        if cls.needs_adapter and name not in adapters:
            raise CalibEvalError(f"scorer {name!r} needs a trained adapter: pass --adapter {name}=PATH")
        if mode in cls.task_modes:
            chosen[name] = cls()
    return chosen


def validate(config: RunConfig) -> None:
    for task in config.tasks:
        get_task(task)
    for name in config.scorers:
        SCORERS.get(name)
    for name in config.adapters:
        if name not in SCORERS:
            raise unknown_name("scorer (in --adapter)", name, SCORERS.names())


def run(config: RunConfig, console: Console | None = None) -> list[Path]:
    """Evaluate config.model on every task; returns the results files written."""
    from calib_eval.adapters import AdapterSet
    from calib_eval.models import load_model

    console = console or Console()
    validate(config)
    loaded = None
    if is_server_model(config.model):  # an OpenAI-compatible server answers (calib_eval.engines)
        config, loaded = open_for_run(config, console)
    for task in config.tasks:  # fail on bad names before spending minutes loading
        resolve_scorers(config.scorers, config.adapters, get_task(task).mode)
    shard = current_shard()
    if loaded is None:
        loaded = load_model(config.model, shard.device(config.device), config.dtype, config.placement,
                            shard.max_memory(config.placement))
    adapters = AdapterSet.load(loaded, config.adapters) if config.adapters else None
    written = []
    for task in config.tasks:
        path = run_task(task, config, loaded, adapters, console, shard)
        if path is not None:
            written.append(path)
    return written


def _prepare(spec, examples, tokenizer, data_root):
    prefixes, suffix_ids, prompts_text, prefix_ids = [], [], [], {}
    for ex in examples:
        prefix = spec.build_prefix(ex, data_root)
        suffix = spec.build_suffix(ex)
        p_ids, s_ids = prompt_ids(tokenizer, prefix, suffix)
        key = tuple(p_ids)  # group by the tokens actually shared, not the text
        prefix_ids[key] = p_ids
        prefixes.append(key)
        suffix_ids.append(s_ids)
        prompts_text.append(prefix + suffix)
    return prefixes, prefix_ids, suffix_ids, prompts_text


def unshare_small_groups(todo, prefixes, prefix_ids, suffix_ids, min_group: int = 2) -> None:
    """Items whose prefix no other item shares lose nothing by encoding it inline,
    and gain batching across prefixes (a 50-item MMLU sample spans ~40 subjects)."""
    from collections import Counter

    sizes = Counter(prefixes[i] for i in todo)
    for i in todo:
        if prefixes[i] and sizes[prefixes[i]] < min_group:
            suffix_ids[i] = prefix_ids[prefixes[i]] + suffix_ids[i]
            prefixes[i] = ()
    prefix_ids.setdefault((), [])


def run_task(task: str, config: RunConfig, loaded, adapters, console: Console, shard: Shard = Shard()) -> Path | None:
    spec = get_task(task)
    task = spec.name  # a task file given by path writes under the name it declares
    scorers = resolve_scorers(config.scorers, config.adapters, spec.mode)
    examples = load_task_examples(spec, config.limit, config.data_root)
    out_dir = Path(config.output) / loaded.name.replace("/", "__") / task
    signature = cache_signature(loaded, scorers, config)
    cache = ItemCache(out_dir / shard.cache_name(), signature, default_cache_signature())
    resumed = {**_rows_of_other_shards(out_dir, shard, signature), **cache.rows}
    relabelled = relabelled_ids(spec, examples, resumed)
    done = set(resumed) - relabelled
    # split the full list (not what is left) so every process agrees on who owns what
    mine = shard.take(list(range(len(examples))))
    todo = [i for i in mine if examples[i].id not in done]
    timings = {"generation_s": 0.0, "scoring_s": {n: 0.0 for n in scorers}, "items_computed": len(todo),
               "items_resumed": len(done), "items_relabelled": len(relabelled)}
    extra: dict = {}
    with progress_bar(console) as progress:
        bar = progress.add_task(f"{task}", total=len(mine), completed=len(mine) - len(todo))
        for batch, outcome in batch_loop(loaded)(loaded, spec, examples, todo, scorers, adapters, config):
            cache.append(outcome.rows)
            timings["generation_s"] += outcome.generation_s
            for name, seconds in outcome.scoring_s.items():
                timings["scoring_s"][name] += seconds
            _merge_extra(extra, outcome.extra)
            progress.update(bar, advance=len(batch))
    shard.barrier()
    if not shard.is_main:
        return None
    finished = {**_rows_of_other_shards(out_dir, shard, signature), **cache.rows}
    rows = [finished[ex.id] for ex in examples]
    run_config = {**dataclasses.asdict(config), "tasks": [task]}
    payload = build_payload(task, loaded, run_config, rows, scorers, adapters, timings, extra,
                            config.n_bins, config.bootstrap)
    payload.update(engine_notes(loaded))  # a model server: its URL, capabilities, skipped scorers
    if config.judge and spec.mode == "generate":  # calib_eval.judge: an LLM judge beside the rule grader
        payload["extra"] = report_for_run(config, loaded, rows)
    write_jsonl_atomic(out_dir / "items.jsonl", rows)
    results_path = out_dir / "results.json"
    write_json_atomic(results_path, payload)
    console.print(render_table(payload))
    console.print(f"[dim]{results_path}  (generation {timings['generation_s']:.1f}s; scoring "
                  + ", ".join(f"{n} {s:.1f}s" for n, s in timings["scoring_s"].items()) + ")[/dim]")
    return results_path


def relabelled_ids(spec, examples, rows: dict[str, dict]) -> set[str]:
    """Ids of resumed rows whose label the current grader would change (TaskSpec.regrade).

    Item caches outlive grader versions (the signature leaves the grader out
    so a grader bump does not throw hours of generation away); an item whose
    answer the current grader judges differently is recomputed in full, so no
    label or grader-dependent score lags the code.
    """
    return {ex.id for ex in examples if (row := rows.get(ex.id)) is not None and "answer_raw" in row
            and spec.regrade(ex, row["answer_raw"], row["correct"])[0] != row["correct"]}


def answered_batches(loaded, spec, examples, todo: list[int], scorers: dict, adapters, config: RunConfig):
    """Yield (item indexes, BatchOutcome) for examples[todo], batch by batch.

    Items are grouped by few-shot prefix: a prefix two or more items share is
    encoded once and its cache reused by their batches (one live prefix at a
    time keeps memory flat, so `prefix_ordered` runs a prefix's batches back
    to back); the rest carry their prefix inline.
    """
    prefixes, prefix_ids, suffix_ids, prompts_text = _prepare(spec, examples, loaded.tokenizer, config.data_root)
    batches = prefix_batches(todo, prefixes, prefix_ids, suffix_ids, config.batch_size)
    for batch, prefix_cache in with_prefix_caches(batches, prefixes, prefix_ids, loaded.model, adapters):
        yield batch, run_batch(loaded, spec, [examples[i] for i in batch], prefix_ids[prefixes[batch[0]]],
                               [suffix_ids[i] for i in batch], [prompts_text[i] for i in batch],
                               scorers, config.scorer, adapters, prefix_cache)


def prefix_batches(todo: list[int], prefixes, prefix_ids, suffix_ids, batch_size: int) -> list[list[int]]:
    """Batches of `todo` that never mix prefixes, longest first, each prefix's batches back to back.

    A prefix only one item has goes inline first (`unshare_small_groups`:
    `prefixes`, `prefix_ids` and `suffix_ids` change in place).
    """
    unshare_small_groups(todo, prefixes, prefix_ids, suffix_ids)
    lengths = [len(prefix_ids[prefixes[i]]) + len(suffix_ids[i]) for i in todo]
    batches = [[todo[j] for j in b] for b in length_sorted_batches(lengths, batch_size, [prefixes[i] for i in todo])]
    return prefix_ordered(batches, prefixes)


def with_prefix_caches(batches, prefixes, prefix_ids, model, adapters):
    """Yield (batch, KV cache of its shared prefix on the base model, or None for an inline one).

    One live prefix at a time keeps memory flat; `prefix_ordered` batches
    encode each prefix once.
    """
    live_key, live = None, None
    for batch in batches:
        key = prefixes[batch[0]]
        if key and key != live_key:
            with base_model(adapters):
                live_key, live = key, encode_prefix(model, prefix_ids[key])
        yield batch, live if key else None


def prefix_ordered(batches: list[list[int]], prefixes) -> list[list[int]]:
    """Batches regrouped so each few-shot prefix's batches run back to back.

    A global longest-first order interleaves subjects, and with one live
    prefix cache that re-encodes a 5-shot header at almost every batch (a full
    MMLU-OE run: ~1,119 encodes instead of 57). Groups keep longest-first
    order among themselves (by their longest batch) and inside, so the
    longest batch still comes first and an out-of-memory error shows early.
    """
    groups: dict[tuple, list[list[int]]] = {}
    for batch in batches:  # dicts keep first-seen order: the input is longest-first
        groups.setdefault(prefixes[batch[0]], []).append(batch)
    return [batch for group in groups.values() for batch in group]


def prefix_encodes(batches: list[list[int]], prefixes) -> int:
    """How many times answered_batches encodes a prefix for this batch order (one live cache)."""
    encodes, live = 0, None
    for batch in batches:
        prefix = prefixes[batch[0]]
        if prefix and prefix != live:
            encodes, live = encodes + 1, prefix
    return encodes


def _other_caches(out_dir: Path, shard: Shard, signature: dict) -> list[ItemCache]:
    names = {p.name for p in out_dir.glob("items.partial*.jsonl")} - {shard.cache_name()}
    return [ItemCache(out_dir / n, signature, default_cache_signature()) for n in sorted(names) if ".stale" not in n]


def cache_signature(loaded, scorers, config: RunConfig) -> dict:
    """What an item cache's rows depend on: the model, the scorers, their adapters and settings."""
    return {"model": loaded.source, "fingerprint": loaded.fingerprint, "scorers": sorted(scorers),
            "adapters": dict(sorted(config.adapters.items())), "scorer_config": config.scorer.signature()}


def default_cache_signature() -> dict:
    """What a signature holds for settings at their defaults (a cache predating a new option still matches)."""
    from calib_eval.scorers.base import ScorerConfig

    return {"scorer_config": ScorerConfig().signature()}


def _rows_of_other_shards(out_dir: Path, shard: Shard, signature: dict) -> dict[str, dict]:
    rows: dict[str, dict] = {}
    for other in _other_caches(out_dir, shard, signature):
        rows.update(other.rows)
    return rows


def progress_bar(console: Console) -> Progress:
    return Progress(TextColumn("{task.description}"), BarColumn(), MofNCompleteColumn(),
                    TimeElapsedColumn(), TimeRemainingColumn(), console=console, transient=False)


def _merge_extra(total: dict, new: dict) -> None:
    for scorer, values in new.items():
        into = total.setdefault(scorer, {})
        for key, value in values.items():
            if isinstance(value, (int, float)):
                into[key] = into.get(key, 0) + value
            elif isinstance(value, list):
                into[key] = (into.get(key, []) + value)[:10]
            elif isinstance(value, str):  # a setting (e.g. which equivalence was used): same in every batch
                into.setdefault(key, value)
