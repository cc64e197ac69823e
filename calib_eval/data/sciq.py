"""SciQ (science exam questions with 3 distractors), as 4-way multiple choice.

Upstream JSON list and hub ``allenai/sciq`` share the columns question,
distractor1..3, correct_answer, support. Upstream stores the correct answer
apart from the distractors, so the choice order is a fixed pseudo-random
permutation seeded by the question text (crc32): stable across runs and
machines, and the right answer is not always in the same place. Offline
files, if any: ``<root>/sciq/{train,valid,test}.json``. Ids: ``sciq/<split>/<row>``.
"""
from __future__ import annotations

import random
import zlib
from pathlib import Path
from typing import Any

from calib_eval.data.records import choice_example
from calib_eval.data.sources import Row, Spec, build, check_opts, load_rows
from calib_eval.types import Example

NAME = "sciq"
SPEC = Spec(NAME, upstream="allenai/sciq", extensions=(".json", ".jsonl"),
            file_stems={"validation": ("valid", "validation", "dev")})


def ordered_choices(question: str, correct: str, distractors: list[str]) -> tuple[tuple[str, ...], int]:
    options = [correct, *distractors]
    order = list(range(len(options)))
    random.Random(zlib.crc32(question.encode("utf-8"))).shuffle(order)
    return tuple(options[i] for i in order), order.index(0)


def to_example(row: Row, index: int, split: str, source: str = "") -> Example:
    distractors = [str(row[f"distractor{k}"]) for k in (1, 2, 3)]
    choices, answer = ordered_choices(row["question"], str(row["correct_answer"]), distractors)
    return choice_example(NAME, f"{NAME}/{split}/{index}", row["question"], choices, answer,
                          {"split": split, "source": source, "support": row.get("support", "")})


def load(source: str | Path | None = None, split: str = "test", limit: int | None = None,
         data_root: str | Path | None = None, **opts: Any) -> list[Example]:
    """SciQ questions of one split in file order."""
    check_opts(NAME, opts)
    rows, where = load_rows(SPEC, source, split, data_root, opts.get("hub_config"))
    return build(rows, lambda r, i: to_example(r, i, split, where), where, limit)
