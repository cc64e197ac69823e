"""Results files: one JSON per (model, task) run, versioned and written atomically.

Schema (version 2)::

    {
      "schema_version": 2,
      "kind": "calib-eval-results",
      "created": "2026-11-23T18:00:00+00:00",
      "package_version": "0.1.0",
      "provenance": {"package_version", "git_commit", "git_dirty", "grader_version", "metrics_version",
                     "item_ordering", "ece_convention", "torch_version", "transformers_version"},
      "task": "mmlu_oe_calib",
      "model": {"name", "source", "fingerprint", "device", "dtype"},   # source: hub id, or a path
                                                                        # as ~/..., cwd-relative or a folder name
      "hardware": "cpu x2 (model name)" | "NVIDIA H100 ...",
      "config": {... runner config ...},
      "n": 50,
      "accuracy": {"estimate", "low", "high"},
      "scorers": {
        "<scorer>": {
          "adapter": null | {"path", "method", "base_fingerprint"},
          "is_probability": true,
          "calibration": "none" | "platt fitted on <split>",
          "ece": {"estimate", "low", "high"} | null,
          "auroc": {...}, "brier": {...} | null, "aurc": {...},
          "prr", "auprc_err", "auprc_correct", "sel_acc_50", "sel_acc_80", "sel_acc_90": {...},
          "nll", "ece_em", "rms_ce", "smece": {...} | null,   # calib_eval.metrics.extended
          "conformal_abstention": null | {"alpha", "delta", "threshold", "coverage", "risk", "n_cal",
                                          "n_test", "n_answered", "method", ...},   # --abstain-alpha
          "reliability": {"bin_edges", "mean_confidence", "accuracy", "count"} | null,
          "extra": {...}   # e.g. verbalized parse failures
        }
      },
      "timings": {"generation_s", "scoring_s": {"<scorer>": s}, "items"}
    }

Per-item rows go to a JSONL beside it (see `write_jsonl_atomic`). No absolute local
path is recorded anywhere (calib_eval.provenance.portable).

Version 1 (no "provenance") is still read: it is migrated to version 2 with
every provenance field None, so its grader and metrics versions are unknown and
the leaderboard marks it stale (calib_eval.provenance.stale_reason).
"""
from __future__ import annotations

import json
import os
import tempfile
from pathlib import Path
from typing import Any, Iterable

from calib_eval.errors import DataError

SCHEMA_VERSION = 2
READABLE_VERSIONS = (1, 2)  # 1: before provenance; migrated on read
KIND = "calib-eval-results"


def write_text_atomic(path: str | Path, text: str) -> None:
    """Write to a temp file in the same folder, fsync, then rename over `path`."""
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    fd, tmp = tempfile.mkstemp(dir=path.parent, prefix=f".{path.name}.", suffix=".tmp")
    try:
        with os.fdopen(fd, "w", encoding="utf-8") as handle:
            handle.write(text)
            handle.flush()
            os.fsync(handle.fileno())
        os.replace(tmp, path)
    except BaseException:
        Path(tmp).unlink(missing_ok=True)
        raise


def write_json_atomic(path: str | Path, payload: Any) -> None:
    write_text_atomic(path, json.dumps(payload, indent=2, sort_keys=False, default=_jsonable) + "\n")


def write_jsonl_atomic(path: str | Path, rows: Iterable[dict]) -> None:
    write_text_atomic(path, "".join(json.dumps(r, default=_jsonable) + "\n" for r in rows))


def _jsonable(value: Any) -> Any:
    if hasattr(value, "item"):  # numpy / torch scalars
        return value.item()
    if hasattr(value, "tolist"):
        return value.tolist()
    if isinstance(value, (set, tuple)):
        return list(value)
    if isinstance(value, Path):
        return str(value)
    raise TypeError(f"not JSON serialisable: {type(value).__name__}")


def read_results(path: str | Path) -> dict:
    """Load and validate a results file; older schemas are migrated, bad ones named."""
    path = Path(path)
    try:
        payload = json.loads(path.read_text(encoding="utf-8"))
    except FileNotFoundError:
        raise DataError(f"results file not found: {path}") from None
    except json.JSONDecodeError as exc:
        raise DataError(f"corrupt results file {path}: {exc}") from None
    if not isinstance(payload, dict) or payload.get("kind") != KIND:
        raise DataError(f"{path} is not a calib-eval results file (missing kind={KIND!r})")
    version = payload.get("schema_version")
    if version not in READABLE_VERSIONS:
        raise DataError(f"{path} has schema_version {version!r}; this calib-eval reads "
                        f"{', '.join(map(str, READABLE_VERSIONS))}")
    missing = [k for k in ("task", "model", "scorers", "accuracy", "n", "created") if k not in payload]
    if missing:
        raise DataError(f"{path} lacks required fields: {', '.join(missing)}")
    return _migrate(payload)


def _migrate(payload: dict) -> dict:
    """An older payload in the current shape: a missing provenance means unknown versions (stale)."""
    from calib_eval import provenance

    if not isinstance(payload.get("provenance"), dict):
        payload["provenance"] = {**provenance.unknown(), "package_version": payload.get("package_version")}
    if payload["schema_version"] != SCHEMA_VERSION:
        payload["migrated_from_schema"] = payload["schema_version"]
        payload["schema_version"] = SCHEMA_VERSION
    return payload


def read_jsonl(path: str | Path, what: str = "rows"):
    """(line number, row) of a JSONL file; missing file, bad JSON (file:line) or no rows is a DataError."""
    path = Path(path)
    if not path.is_file():
        raise DataError(f"{what} file not found: {path}")
    rows = []
    for number, line in enumerate(path.read_text(encoding="utf-8").splitlines(), 1):
        if not line.strip():
            continue
        try:
            rows.append((number, json.loads(line)))
        except json.JSONDecodeError as exc:
            raise DataError(f"{path}:{number}: not valid JSON ({exc.msg})") from None
    if not rows:
        raise DataError(f"{path} holds no {what}")
    return rows


def read_items(path: str | Path, required: tuple[str, ...] = ("id", "correct")) -> list[dict]:
    """Per-item rows of a finished run (items.jsonl); a bad line is named by file and number."""
    rows = []
    for number, row in read_jsonl(path, "items"):
        missing = [k for k in required if not isinstance(row, dict) or k not in row]
        if missing:
            raise DataError(f"{path}:{number}: missing {', '.join(missing)}")
        rows.append(row)
    return rows
