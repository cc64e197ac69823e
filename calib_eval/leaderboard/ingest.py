"""Find results files, turn each into rows (or a named reason to skip it), merge by key."""
from __future__ import annotations

import hashlib
import json
from dataclasses import dataclass
from pathlib import Path

from calib_eval.errors import DataError
from calib_eval.leaderboard import from_results, lmeval
from calib_eval.leaderboard.history import history_name
from calib_eval.leaderboard.item_scores import KIND as ITEMS_KIND
from calib_eval.leaderboard.records import Row
from calib_eval.pairwise.report import KIND as PAIRWISE_KIND
from calib_eval.results import read_results

# Files calib-eval writes beside results.json that are not results (`calib-eval pairwise`), and the
# leaderboard's per-item sidecars under results/items/.
OTHER_KINDS = (PAIRWISE_KIND, ITEMS_KIND)


class NotResultsFile(DataError):
    """A calib-eval file of another kind inside a results folder: not an input, not a problem."""


@dataclass(frozen=True)
class Loaded:
    """One readable results file: where it came from and the rows it holds."""

    path: Path
    digest: str  # sha256 of the bytes: identical copies are ingested once
    history_name: str  # its file name under out_dir/results/
    rows: tuple[Row, ...]


@dataclass(frozen=True)
class Replacement:
    key: tuple[str, str, str, str]
    kept: str  # history file name of the newer run
    replaced: str


def discover(paths: list[Path], exclude: list[Path] = ()) -> list[Path]:
    """Files named directly, plus every `*.json` under named folders (hidden and excluded ones skipped)."""
    excluded = [p.resolve() for p in exclude]
    found: list[Path] = []
    for path in map(Path, paths):
        if not path.is_dir():
            found.append(path)  # missing files are reported when loaded
            continue
        for candidate in sorted(path.rglob("*.json")):
            parts = candidate.relative_to(path).parts
            resolved = candidate.resolve()
            if any(p.startswith(".") for p in parts) or any(resolved.is_relative_to(e) for e in excluded):
                continue
            found.append(candidate)
    return found


def load_file(path: Path, stored_as: str | None = None) -> Loaded:
    """Parse one file into rows; DataError (naming the file) for anything unusable.

    `stored_as`: the file's name when it already lives in the history (kept as is).
    """
    try:
        raw = path.read_bytes()
    except OSError as exc:
        raise DataError(f"cannot read results file {path}: {exc.strerror or exc}") from None
    digest = hashlib.sha256(raw).hexdigest()
    try:
        payload = json.loads(raw.decode("utf-8"))
    except (UnicodeDecodeError, json.JSONDecodeError) as exc:
        raise DataError(f"corrupt results file {path}: {exc}") from None
    if isinstance(payload, dict) and payload.get("kind") in OTHER_KINDS:
        raise NotResultsFile(f"{path} is a {payload['kind']} file, not results")
    if not lmeval.looks_like_lmeval(payload):
        payload = read_results(path)  # validates kind, schema_version, required fields
    try:
        return _to_loaded(path, digest, payload, stored_as)
    except (AttributeError, KeyError, TypeError, ValueError) as exc:
        raise DataError(f"malformed results file {path}: {exc.__class__.__name__}: {exc}") from None


def _to_loaded(path: Path, digest: str, payload: dict, stored_as: str | None) -> Loaded:
    if lmeval.looks_like_lmeval(payload):
        # lm-eval names every file results_<date>.json; its folder names the model
        name = stored_as or history_name(f"lmeval-{path.parent.name}-{path.stem}", digest)
        return Loaded(path, digest, name, tuple(lmeval.rows_from_lmeval(payload, name, path)))
    name = stored_as or history_name(from_results.describe(payload), digest)
    return Loaded(path, digest, name, tuple(from_results.rows_from_results(payload, name)))


def merge_rows(rows: list[Row]) -> tuple[list[Row], list[Replacement]]:
    """One row per (model, adapter, scorer, task): the newest run wins; every key is kept."""
    best: dict[tuple, Row] = {}
    replaced: list[Replacement] = []
    # sorting oldest-first makes the outcome independent of the order files were given in
    for row in sorted(rows, key=lambda r: (r.timestamp, r.source)):
        previous = best.get(row.key)
        if previous is not None and previous.source != row.source:
            replaced.append(Replacement(row.key, kept=row.source, replaced=previous.source))
        best[row.key] = row
    return [best[k] for k in sorted(best)], replaced
