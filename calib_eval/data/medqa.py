"""MedQA (USMLE, 4 options): the medical out-of-distribution set.

JSONL rows: question, options{A..D}, answer_idx, answer (same columns on the
hub as ``GBaker/MedQA-USMLE-4-options``). Offline: ``<root>/medqa/<split>.jsonl``.
Ids: ``medqa/<split>/<row>`` (0-based row; the upstream ``realidx`` is in metadata).
"""
from __future__ import annotations

from pathlib import Path
from typing import Any

from calib_eval.data.sources import Row, Spec, build, check_opts, letter_index, load_rows
from calib_eval.errors import DataError
from calib_eval.types import Example

NAME = "medqa"
SPEC = Spec(NAME, upstream="GBaker/MedQA-USMLE-4-options")


def to_example(row: Row, index: int, split: str, source: str = "") -> Example:
    options = row["options"]
    labels = sorted(options)
    choices = [str(options[k]) for k in labels]
    answer = letter_index(row["answer_idx"], labels)
    if row.get("answer") is not None and str(row["answer"]).strip() != choices[answer].strip():
        raise DataError(f"answer {row['answer']!r} differs from option {row['answer_idx']!r}")
    return Example(
        id=f"medqa/{split}/{index}", task=NAME, question=row["question"], references=(choices[answer],),
        choices=tuple(choices), answer_index=answer, answer_kind="choice",
        metadata={"split": split, "source": source, "realidx": row.get("realidx"), "meta_info": row.get("meta_info")},
    )


def load(source: str | Path | None = None, split: str = "test", limit: int | None = None,
         data_root: str | Path | None = None, **opts: Any) -> list[Example]:
    """MedQA questions of one split in file order (offline copy: test, 1,273 rows)."""
    check_opts(NAME, opts)
    rows, where = load_rows(SPEC, source, split, data_root, opts.get("hub_config"))
    return build(rows, lambda r, i: to_example(r, i, split, where), where, limit)
