"""Per-item results appended as they finish, so a killed run resumes.

One JSON line per finished item. A half-written last line (the process died
mid-write) is dropped on load; everything before it is kept.
"""
from __future__ import annotations

import json
import os
from pathlib import Path


def signatures_match(cached, current, defaults) -> bool:
    """Equal, allowing settings added to the code since the cache was written when they sit at their defaults.

    A new scorer option (e.g. a mode whose default is the old behaviour) must
    not throw away hours of finished items; a changed or removed setting does.
    """
    if cached == current:
        return True
    if not (isinstance(cached, dict) and isinstance(current, dict)):
        return False
    defaults = defaults if isinstance(defaults, dict) else {}
    if set(cached) - set(current):
        return False  # a setting the code no longer has: cannot tell what it meant
    for key, value in current.items():
        if key in cached:
            if not signatures_match(cached[key], value, defaults.get(key)):
                return False
        elif key not in defaults or defaults[key] != value:
            return False
    return True


class ItemCache:
    def __init__(self, path: Path, signature: dict, defaults: dict | None = None) -> None:
        self.path = path
        self.signature = signature  # model/scorers/limit this cache belongs to
        self.defaults = defaults or {}  # the signature of default settings (see signatures_match)
        self.rows: dict[str, dict] = {}
        self._load()

    def _load(self) -> None:
        if not self.path.exists():
            return
        lines = self.path.read_text(encoding="utf-8").splitlines()
        if not lines:
            return
        try:
            header = json.loads(lines[0])
        except json.JSONDecodeError:
            header = {}
        if not signatures_match(header.get("signature"), self.signature, self.defaults):
            # produced by a different model or scorer set: keep it aside, start over
            self.path.rename(self.path.with_suffix(".stale.jsonl"))
            return
        for line in lines[1:]:
            try:
                row = json.loads(line)
            except json.JSONDecodeError:
                break  # torn final write
            self.rows[row["id"]] = row

    def done(self, item_id: str) -> bool:
        return item_id in self.rows

    def append(self, rows: list[dict]) -> None:
        self.path.parent.mkdir(parents=True, exist_ok=True)
        fresh = not self.path.exists() or self.path.stat().st_size == 0
        if not fresh:
            self._drop_torn_tail()
        with open(self.path, "a", encoding="utf-8") as handle:
            if fresh:
                handle.write(json.dumps({"signature": self.signature}) + "\n")
            for row in rows:
                handle.write(json.dumps(row) + "\n")
                self.rows[row["id"]] = row
            handle.flush()
            os.fsync(handle.fileno())

    def _drop_torn_tail(self) -> None:
        data = self.path.read_bytes()
        if data and not data.endswith(b"\n"):
            self.path.write_bytes(data[: data.rfind(b"\n") + 1])
