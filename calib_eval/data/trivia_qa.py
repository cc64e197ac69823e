"""TriviaQA (open-domain trivia, no context), an open-ended answer set.

Upstream JSON: ``Data[]`` with Question, QuestionId, Answer{Value, Aliases}.
Hub ``mandarjoshi/trivia_qa`` (default config ``rc.nocontext``): question,
question_id, answer{value, aliases}. Both are read; references are the value
followed by its aliases. No offline copy exists here; a copy under
``<root>/trivia_qa/`` is found by split name or upstream file name.
Ids: ``trivia_qa/<split>/<question_id>``.
"""
from __future__ import annotations

from pathlib import Path
from typing import Any

from calib_eval.data.sources import Row, Spec, build, check_opts, load_rows
from calib_eval.types import Example

NAME = "trivia_qa"
SPEC = Spec(NAME, upstream="mandarjoshi/trivia_qa", hub_config="rc.nocontext", extensions=(".json", ".jsonl"),
            file_stems={"validation": ("validation", "dev", "unfiltered-web-dev", "verified-web-dev",
                                       "wikipedia-dev", "verified-wikipedia-dev"),
                        "train": ("train", "unfiltered-web-train", "wikipedia-train", "web-train")})


def to_example(row: Row, index: int, split: str, source: str = "") -> Example:
    if "Question" in row:  # upstream capitalised keys
        question, qid, ans = row["Question"], row.get("QuestionId", index), row["Answer"]
        value, aliases = ans.get("Value"), ans.get("Aliases") or []
    else:
        question, qid, ans = row["question"], row.get("question_id", index), row["answer"]
        value, aliases = ans.get("value"), ans.get("aliases") or []
    refs = [str(r).strip() for r in [value, *aliases] if r is not None and str(r).strip()]
    if not refs:
        raise ValueError("no answer value or aliases")
    return Example(id=f"{NAME}/{split}/{qid}", task=NAME, question=question, references=tuple(dict.fromkeys(refs)),
                   answer_kind="open", metadata={"split": split, "source": source})


def load(source: str | Path | None = None, split: str = "validation", limit: int | None = None,
         data_root: str | Path | None = None, **opts: Any) -> list[Example]:
    """TriviaQA questions of one split (the hub's test split has no answers; use validation)."""
    check_opts(NAME, opts)
    rows, where = load_rows(SPEC, source, split, data_root, opts.get("hub_config"))
    return build(rows, lambda r, i: to_example(r, i, split, where), where, limit)
