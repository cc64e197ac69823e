"""The leaderboard's own copy of every results file it ever ingested (`out_dir/results/`).

Names are content-addressed (`<model>__<task>-<sha256[:12]>.json`, lm-eval files
`lmeval-<folder>-<stem>-<sha>.json`), so re-ingesting a file is a no-op, two
different files never share a name, and the leaderboard can always be rebuilt
from this folder alone. Files already in the folder keep their names.
"""
from __future__ import annotations

import hashlib
import os
import re
import shutil
from pathlib import Path

_UNSAFE = re.compile(r"[^A-Za-z0-9._+-]+")


def history_name(label: str, digest: str) -> str:
    """`<label>-<sha256[:12]>.json`: the label says what it is, the hash makes it unique."""
    return f"{safe_name(label)}-{digest[:12]}.json"


def safe_name(text: str) -> str:
    """A file-name-safe rendering of arbitrary text (model ids hold '/')."""
    return _UNSAFE.sub("-", text).strip("-.") or "x"


def store(source: Path, name: str, digest: str, results_dir: Path) -> Path | None:
    """Copy `source` into the history as `name`; None if an identical copy is already there."""
    results_dir.mkdir(parents=True, exist_ok=True)
    target = results_dir / name
    if target.exists() and _digest(target) != digest:
        # someone edited the stored copy: never overwrite it, use the full hash instead
        target = results_dir / f"{Path(name).stem.rsplit('-', 1)[0]}-{digest}.json"
    if target.exists() and _digest(target) == digest:
        return None
    tmp = target.with_name(f".{target.name}.{os.getpid()}.tmp")
    try:
        shutil.copyfile(source, tmp)  # copy then rename: a crash never leaves half a file
        os.replace(tmp, target)
    finally:
        tmp.unlink(missing_ok=True)
    return target


def _digest(path: Path) -> str:
    return hashlib.sha256(path.read_bytes()).hexdigest()
