"""Per-item scores the leaderboard keeps beside its history, so paired differences survive a rebuild.

A results file holds only summaries; a paired AUROC difference needs every
item's correctness and every scorer's score. When a results file is ingested
with the run's `items.jsonl` beside it, those three things (nothing else: no
question text, no answers) are stored as a sidecar::

    results/items/<results file stem>.items.json
    {"kind": "calib-eval-leaderboard-items", "schema_version": 1,
     "results": "<results file name>", "results_sha256": "...", "model", "task",
     "ids": [...], "correct": [0, 1, ...], "scores": {"<scorer>": [...]}}

Scores are rounded to the fewest significant digits (6, 9 or 12) that keep
every distinct value distinct; rounding is monotone, so ranks, ties and hence
AUROC are exactly those of the run. A block is only accepted when its AUROC per
scorer equals the results file's, so a stale items.jsonl never pairs with the
wrong summary.
"""
from __future__ import annotations

import json
import math
import warnings
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from calib_eval.errors import DataError
from calib_eval.results import read_items, write_text_atomic

KIND = "calib-eval-leaderboard-items"
SCHEMA_VERSION = 1
ITEMS_DIR = "items"  # under the history folder (results/)
ITEMS_FILE = "items.jsonl"  # what a run writes beside results.json
AUROC_TOLERANCE = 1e-9  # recomputed vs recorded AUROC: same rows, same arithmetic


@dataclass(frozen=True, eq=False)
class ItemScores:
    source: str  # the results file's name in the history (Row.source)
    results_sha256: str
    model: str
    task: str
    ids: tuple[str, ...]
    correct: np.ndarray  # bool, one per id
    scores: dict  # scorer name -> float array, one per id


def sidecar_name(results_name: str) -> str:
    return f"{Path(results_name).stem}.items.json"


def from_run(results_path: Path, source: str, digest: str, rows) -> ItemScores:
    """The block for one ingested results file (`rows`: its leaderboard rows) from the items.jsonl beside it.

    DataError names what does not match: item count, missing scores, or an AUROC
    that differs from the results file's (the items belong to another run).
    """
    items_path = Path(results_path).parent / ITEMS_FILE
    items = read_items(items_path, ("id", "correct", "scores"))
    first = rows[0]
    if first.n is not None and len(items) != first.n:
        raise DataError(f"{items_path} holds {len(items)} items, {results_path.name} says n={first.n}")
    ids = tuple(str(item["id"]) for item in items)
    correct = np.array([bool(item["correct"]) for item in items])
    scores = {row.scorer: _column(items, row.scorer, items_path) for row in rows}
    block = ItemScores(source, digest, first.model, first.task, ids, correct, scores)
    _check(block, items_path)
    for row in rows:
        _check_auroc(block, row.scorer, None if row.auroc is None else row.auroc.estimate, items_path)
    return block


def _column(items: list[dict], scorer: str, path: Path) -> np.ndarray:
    values = [item["scores"].get(scorer) if isinstance(item["scores"], dict) else None for item in items]
    if any(isinstance(v, bool) or not isinstance(v, (int, float)) or not math.isfinite(v) for v in values):
        raise DataError(f"{path}: scorer {scorer!r} lacks a finite score on some items")
    return np.asarray(values, dtype=np.float64)


def _check_auroc(block: ItemScores, scorer: str, recorded: float | None, path: Path) -> None:
    from calib_eval.metrics import roc_auc

    with warnings.catch_warnings():
        warnings.simplefilter("ignore")  # one-class AUROC is NaN on both sides
        mine = roc_auc(block.scores[scorer], block.correct)
    if recorded is None or math.isnan(mine):
        if (recorded is None) != math.isnan(mine):
            raise DataError(f"{path}: {scorer} AUROC is {mine} from the items, {recorded} in the results file")
        return
    if abs(mine - recorded) > AUROC_TOLERANCE:
        raise DataError(f"{path}: {scorer} AUROC from the items is {mine:.6f}, the results file says "
                        f"{recorded:.6f}: these items belong to another run")


def _check(block: ItemScores, path: Path) -> None:
    if len(set(block.ids)) != len(block.ids):
        raise DataError(f"{path}: item ids repeat")
    for name, values in block.scores.items():
        if len(values) != len(block.ids):
            raise DataError(f"{path}: scorer {name!r} has {len(values)} scores for {len(block.ids)} items")
    if len(block.correct) != len(block.ids):
        raise DataError(f"{path}: {len(block.correct)} correctness labels for {len(block.ids)} items")


def to_json(block: ItemScores) -> dict:
    return {"kind": KIND, "schema_version": SCHEMA_VERSION, "results": block.source,
            "results_sha256": block.results_sha256, "model": block.model, "task": block.task,
            "ids": list(block.ids), "correct": [int(c) for c in block.correct],
            "scores": {name: compact(values) for name, values in sorted(block.scores.items())}}


def compact(values: np.ndarray) -> list[float]:
    """Values rounded to the fewest significant digits that merge no two distinct values (ranks unchanged)."""
    distinct = len(np.unique(values))
    for digits in (6, 9, 12):
        rounded = np.array([float(f"{v:.{digits}g}") for v in values])
        if len(np.unique(rounded)) == distinct:
            return rounded.tolist()
    return np.asarray(values, dtype=np.float64).tolist()


def from_json(payload, path: Path) -> ItemScores:
    if not isinstance(payload, dict) or payload.get("kind") != KIND:
        raise DataError(f"{path} is not a leaderboard items file (kind {KIND!r})")
    if payload.get("schema_version") != SCHEMA_VERSION:
        raise DataError(f"{path} has schema_version {payload.get('schema_version')!r}; this calib-eval "
                        f"reads {SCHEMA_VERSION}")
    try:
        block = ItemScores(str(payload["results"]), str(payload["results_sha256"]), str(payload["model"]),
                           str(payload["task"]), tuple(str(i) for i in payload["ids"]),
                           np.asarray(payload["correct"], dtype=bool),
                           {str(k): np.asarray(v, dtype=np.float64) for k, v in payload["scores"].items()})
    except (KeyError, TypeError, ValueError, AttributeError) as exc:
        raise DataError(f"malformed items file {path}: {exc.__class__.__name__}: {exc}") from None
    if any(not np.all(np.isfinite(v)) for v in block.scores.values()):
        raise DataError(f"{path}: scores must be finite numbers")
    _check(block, path)
    return block


def write(block: ItemScores, items_dir: Path) -> Path:
    """Atomically write the block's sidecar; returns its path."""
    path = Path(items_dir) / sidecar_name(block.source)
    write_text_atomic(path, json.dumps(to_json(block), separators=(",", ":")) + "\n")
    return path


def load_dir(items_dir: Path, skipped: list) -> dict[str, ItemScores]:
    """Every sidecar under `items_dir`, by results file name; broken ones go to `skipped` as (path, why)."""
    blocks: dict[str, ItemScores] = {}
    for path in sorted(Path(items_dir).glob("*.items.json")) if Path(items_dir).is_dir() else []:
        try:
            block = from_json(json.loads(path.read_text(encoding="utf-8")), path)
        except (OSError, UnicodeDecodeError, json.JSONDecodeError) as exc:
            skipped.append((path, f"unreadable items file: {exc}"))
            continue
        except DataError as exc:
            skipped.append((path, str(exc)))
            continue
        blocks[block.source] = block
    return blocks
