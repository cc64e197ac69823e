"""CommonsenseQA, part of the calibration-tuning mix (5 choices).

JSONL rows as ARC: id, question, question_concept, choices{label, text},
answerKey. Offline: ``<root>/commonsense_qa/test.jsonl`` (1,221 rows: the
labelled validation set, since the official test answers are hidden). On the
hub (``tau/commonsense_qa``) split ``test`` therefore maps to ``validation``.
Ids: ``commonsense_qa/<split>/<id>``.
"""
from __future__ import annotations

from pathlib import Path
from typing import Any

from calib_eval.data.records import choice_example, labelled_choices
from calib_eval.data.sources import Row, Spec, build, check_opts, load_rows
from calib_eval.errors import DataError
from calib_eval.types import Example

NAME = "commonsense_qa"
SPEC = Spec(NAME, upstream="tau/commonsense_qa", hub_splits={"test": "validation"},
            file_stems={"test": ("test", "validation", "dev"), "validation": ("validation", "dev", "test")})


def to_example(row: Row, index: int, split: str, source: str = "") -> Example:
    if not str(row.get("answerKey", "")).strip():
        raise DataError("no answerKey (the official CommonsenseQA test split is unlabelled; use validation)")
    choices, answer = labelled_choices(row["choices"], row["answerKey"])
    meta = {"split": split, "source": source, "concept": row.get("question_concept")}
    return choice_example(NAME, f"{NAME}/{split}/{row.get('id', index)}", row["question"], choices, answer, meta)


def load(source: str | Path | None = None, split: str = "test", limit: int | None = None,
         data_root: str | Path | None = None, **opts: Any) -> list[Example]:
    """CommonsenseQA questions (offline: 1,221 labelled questions as split ``test``)."""
    check_opts(NAME, opts)
    rows, where = load_rows(SPEC, source, split, data_root, opts.get("hub_config"))
    return build(rows, lambda r, i: to_example(r, i, split, where), where, limit)
