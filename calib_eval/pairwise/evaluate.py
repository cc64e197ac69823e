"""`calib-eval pairwise`: a finished run's graded items -> pairwise accuracy, written beside them.

Pairwise is a property of pairs, not items, so it is not a runner scorer: it
reads items.jsonl (question text + measured correctness), samples pairs whose
correctness differs, asks the model which question it more likely answers
correctly and writes ``pairwise.json`` (``pairwise-<adapter>.json`` with an
adapter) next to the items.
"""
from __future__ import annotations

import contextlib
import json
import time
from dataclasses import asdict, dataclass
from datetime import datetime, timezone
from pathlib import Path

from calib_eval.errors import CalibEvalError, DataError, ModelError
from calib_eval.pairwise.pairs import sample_pairs
from calib_eval.pairwise.report import KIND, SCHEMA_VERSION, pairwise_summary, render_table, verbalized_summary
from calib_eval.results import read_items, write_json_atomic

ADAPTER_NAME = "pairwise"  # --adapter pairwise=PATH, as the pairwise-sft card's scorer names it


@dataclass
class PairwiseConfig:
    items: str  # items.jsonl of a finished run, or its <output>/<model>/<task> folder
    model: str = "default"  # the model asked: zoo name, HF folder or hub id
    adapter: str | None = None  # pairwise-/multitask-sft adapter folder; None asks the base model
    n_pairs: int = 500  # distinct (correct, incorrect) pairs to compare
    seed: int = 0  # pair sampling and bootstrap
    batch_size: int = 8
    bootstrap: int = 1000  # resamples for the 95% CIs
    n_bins: int = 10  # ECE bins for the verbalized comparison
    device: str = "auto"
    dtype: str = "auto"
    out: str | None = None  # result file; default beside the items

    def __post_init__(self) -> None:
        for name in ("n_pairs", "batch_size", "n_bins"):
            if getattr(self, name) < 1:
                raise CalibEvalError(f"{name} must be >= 1, got {getattr(self, name)}")
        if self.bootstrap < 0:
            raise CalibEvalError(f"bootstrap must be >= 0, got {self.bootstrap}")


def items_file(path: str | Path) -> Path:
    """items.jsonl itself, or the one inside a run's task folder."""
    path = Path(path)
    if path.is_dir():
        path = path / "items.jsonl"
    if not path.is_file():
        raise DataError(f"no items file at {path}: pass a run's items.jsonl or its task folder "
                        f"(runs/<output>/<model>/<task>) from `calib-eval run`")
    return path


def result_file(cfg: PairwiseConfig, items: Path) -> Path:
    if cfg.out:
        return Path(cfg.out)
    name = f"pairwise-{Path(cfg.adapter).resolve().name}.json" if cfg.adapter else "pairwise.json"
    return items.parent / name


def _check_questions(rows: list[dict], items: Path) -> None:
    bad = [r["id"] for r in rows if not isinstance(r.get("question"), str) or not r["question"].strip()]
    if bad:
        raise DataError(f"{items}: {len(bad)} items have no question text (e.g. {bad[0]!r}); "
                        f"the pairwise query shows both questions")


def _items_model(items: Path) -> dict | None:
    """The model that answered (from results.json beside the items), when it is there."""
    try:
        return json.loads((items.parent / "results.json").read_text()).get("model")
    except (OSError, ValueError, AttributeError):
        return None


def _asked_model(loaded, cfg: PairwiseConfig):
    """The adapter set (or None) and a context giving the model to ask."""
    from calib_eval.adapters import AdapterSet

    if not cfg.adapter:
        return None, contextlib.nullcontext(loaded.model)
    adapters = AdapterSet.load(loaded, {ADAPTER_NAME: cfg.adapter})  # refuses another base model
    card = adapters.cards[ADAPTER_NAME]
    if not card.get("has_lora", True):
        raise ModelError(f"adapter {cfg.adapter} ({card.get('method')}) has no LoRA: pairwise needs a "
                         f"pairwise-sft or multitask-sft adapter")
    return adapters, adapters.active(ADAPTER_NAME)


def run_pairwise(cfg: PairwiseConfig, console=None) -> Path:
    """Evaluate, write the result file atomically, print the table; returns the file."""
    from rich.console import Console

    from calib_eval.models import load_model

    console = console or Console()
    items = items_file(cfg.items)
    rows = read_items(items)
    _check_questions(rows, items)
    correct = [bool(r["correct"]) for r in rows]
    pairs = sample_pairs(correct, cfg.n_pairs, cfg.seed, what=str(items))  # before minutes of model loading
    loaded = load_model(cfg.model, cfg.device, cfg.dtype)
    adapters, asked = _asked_model(loaded, cfg)
    started = time.perf_counter()
    questions = [(rows[p.first]["question"], rows[p.second]["question"]) for p in pairs]
    with asked as model:
        p_first = _ask_with_progress(model, loaded.tokenizer, questions, cfg.batch_size, console)
    payload = build_payload(cfg, items, rows, pairs, p_first, loaded, adapters, time.perf_counter() - started)
    out = result_file(cfg, items)
    write_json_atomic(out, payload)
    _warn_other_model(console, payload)
    console.print(render_table(payload))
    console.print(f"[dim]{out}[/dim]")
    return out


def _ask_with_progress(model, tokenizer, questions, batch_size: int, console) -> list[float]:
    from rich.progress import BarColumn, MofNCompleteColumn, Progress, TextColumn, TimeRemainingColumn

    from calib_eval.pairwise.probability import first_probabilities

    with Progress(TextColumn("pairwise"), BarColumn(), MofNCompleteColumn(), TimeRemainingColumn(),
                  console=console) as progress:
        bar = progress.add_task("pairs", total=len(questions))
        return first_probabilities(model, tokenizer, questions, batch_size,
                                   on_batch=lambda n: progress.update(bar, advance=n))


def build_payload(cfg: PairwiseConfig, items: Path, rows: list[dict], pairs, p_first, loaded, adapters,
                  seconds: float) -> dict:
    """The result file's content: identity, metrics, and every pair with its P("1")."""
    from calib_eval import __version__
    from calib_eval.provenance import portable, portable_name, record

    correct = [bool(r["correct"]) for r in rows]
    card = adapters.cards[ADAPTER_NAME] if adapters is not None else None
    return {
        "schema_version": SCHEMA_VERSION, "kind": KIND, "package_version": __version__, "provenance": record(),
        "created": datetime.now(timezone.utc).isoformat(timespec="seconds"),
        "items": portable(str(items)), "task": rows[0].get("task"),  # no absolute local paths (provenance.portable)
        "model": {"name": portable_name(loaded.name), "source": portable(loaded.source),
                  "fingerprint": loaded.fingerprint, "device": loaded.device, "dtype": loaded.dtype},
        "items_model": portable(_items_model(items)),
        "adapter": None if card is None else {"path": portable(cfg.adapter), "method": card.get("method"),
                                              "base_fingerprint": card.get("base_fingerprint")},
        "config": portable(asdict(cfg)), "n_items": len(rows), "n_correct": sum(correct),
        **pairwise_summary(pairs, p_first, correct, cfg.bootstrap, cfg.seed),
        "verbalized": verbalized_summary(rows, cfg.n_bins, cfg.bootstrap, cfg.seed),
        "timings": {"pairwise_s": round(seconds, 3)},
        "pairs": [{"first": rows[p.first]["id"], "second": rows[p.second]["id"], "first_correct": p.first_correct,
                   "p_first": pf} for p, pf in zip(pairs, p_first)],
    }


def _warn_other_model(console, payload: dict) -> None:
    # the query asks about the model's *own* answers; another model's make it cross-model estimation
    answered = (payload["items_model"] or {}).get("fingerprint")
    if answered and answered != payload["model"]["fingerprint"]:
        console.print(f"[yellow]note: the items were answered by {payload['items_model'].get('name')!r} "
                      f"(fingerprint {answered}), not by the model asked ({payload['model']['fingerprint']})[/yellow]")
