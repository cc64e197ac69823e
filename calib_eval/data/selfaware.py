"""SelfAware (Yin et al. 2023): answerable and unanswerable questions.

Upstream ``SelfAware.json`` keeps the rows under ``example``: question_id,
question, answer (list, or null when unanswerable), answerable, source.
Answerable rows are ``open`` with their answers as references; unanswerable
rows are ``unanswerable`` (correct = the model abstains). Ids: ``selfaware/<question_id>``.
"""
from __future__ import annotations

from pathlib import Path
from typing import Any

from calib_eval.data.sources import Row, Spec, build, check_opts, check_split, load_rows
from calib_eval.types import Example

NAME = "selfaware"
SPEC = Spec(NAME, upstream="github.com/yinzhangyue/SelfAware",
            file_stems={"all": ("SelfAware", "selfaware")}, hub_splits={"all": "train"}, extensions=(".json", ".jsonl"))


def to_example(row: Row, index: int, source: str = "") -> Example:
    answerable = bool(row["answerable"])
    answers = row.get("answer") or []
    if isinstance(answers, str):
        answers = [answers]
    return Example(
        id=f"selfaware/{row.get('question_id', index)}", task=NAME, question=row["question"],
        references=tuple(str(a) for a in answers) if answerable else (),
        answer_kind="open" if answerable else "unanswerable",
        metadata={"answerable": answerable, "origin": row.get("source"), "split": "all", "source": source},
    )


def load(source: str | Path | None = None, split: str = "all", limit: int | None = None,
         data_root: str | Path | None = None, **opts: Any) -> list[Example]:
    """All 3,369 SelfAware questions (1,032 unanswerable) in file order."""
    check_opts(NAME, opts)
    check_split(NAME, split, ["all"])
    rows, where = load_rows(SPEC, source, split, data_root, opts.get("hub_config"))
    return build(rows, lambda r, i: to_example(r, i, where), where, limit)
