"""ARC-Challenge (AI2 Reasoning Challenge), part of the calibration-tuning mix.

JSONL rows: id, question, choices{text, label}, answerKey (the hub's
``allenai/ai2_arc`` config ``ARC-Challenge`` has the same columns; some rows
use labels 1-4 instead of A-D). Offline: ``<root>/arc_challenge/{train,test}.jsonl``.
Ids: ``arc_challenge/<split>/<id>``.
"""
from __future__ import annotations

from pathlib import Path
from typing import Any

from calib_eval.data.records import choice_example, labelled_choices
from calib_eval.data.sources import Row, Spec, build, check_opts, load_rows
from calib_eval.types import Example

NAME = "arc_challenge"
SPEC = Spec(NAME, upstream="allenai/ai2_arc", hub_config="ARC-Challenge")


def to_example(row: Row, index: int, split: str, source: str = "") -> Example:
    choices, answer = labelled_choices(row["choices"], row["answerKey"])
    return choice_example(NAME, f"{NAME}/{split}/{row.get('id', index)}", row["question"], choices, answer,
                          {"split": split, "source": source})


def load(source: str | Path | None = None, split: str = "test", limit: int | None = None,
         data_root: str | Path | None = None, **opts: Any) -> list[Example]:
    """ARC-Challenge questions of one split (offline: train 1,056, test 1,172)."""
    check_opts(NAME, opts)
    rows, where = load_rows(SPEC, source, split, data_root, opts.get("hub_config"))
    return build(rows, lambda r, i: to_example(r, i, split, where), where, limit)
