"""BoolQ (yes/no questions about a Wikipedia passage), part of the training mix.

Upstream JSON list (or JSONL): question, title, passage, answer (bool); the
hub's ``google/boolq`` has question, answer, passage with splits train and
validation (our ``dev``). The question shown to the model includes the
passage, since it cannot be answered without it. Offline:
``<root>/boolq/dev.json``. Ids: ``boolq/<split>/<row>``.
"""
from __future__ import annotations

from pathlib import Path
from typing import Any

from calib_eval.data.records import as_bool, yesno_example
from calib_eval.data.sources import Row, Spec, build, check_opts, load_rows
from calib_eval.types import Example

NAME = "boolq"
SPEC = Spec(NAME, upstream="google/boolq", hub_splits={"dev": "validation"},
            file_stems={"dev": ("dev", "validation", "val"), "validation": ("validation", "dev", "val")},
            extensions=(".json", ".jsonl"))


def format_question(question: str, passage: str) -> str:
    q = question.strip()
    q = q[:1].upper() + q[1:]
    return f"Passage: {passage.strip()}\nQuestion: {q if q.endswith('?') else q + '?'}"


def to_example(row: Row, index: int, split: str, source: str = "") -> Example:
    meta = {"split": split, "source": source, "title": row.get("title"), "passage": row["passage"],
            "raw_question": row["question"]}
    return yesno_example(NAME, f"{NAME}/{split}/{index}", format_question(row["question"], row["passage"]),
                         as_bool(row["answer"]), meta)


def load(source: str | Path | None = None, split: str = "dev", limit: int | None = None,
         data_root: str | Path | None = None, **opts: Any) -> list[Example]:
    """BoolQ questions of one split (offline: dev, 1,886 rows)."""
    check_opts(NAME, opts)
    rows, where = load_rows(SPEC, source, split, data_root, opts.get("hub_config"))
    return build(rows, lambda r, i: to_example(r, i, split, where), where, limit)
