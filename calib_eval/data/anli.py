"""ANLI (adversarial NLI), part of the training mix, as 3-way multiple choice.

JSONL rows: uid, premise, hypothesis, label (entailment | neutral |
contradiction); the hub's ``facebook/anli`` uses label ints 0/1/2 in that
order and splits ``<split>_r1..r3``: our ``test``/``train``/``dev`` map to
round 3 (the offline test copy has round 3's 1,200 rows); pass e.g.
``test_r1`` for another round. Offline: ``<root>/anli/{train,test}.jsonl``.
Ids: ``anli/<split>/<uid>``.
"""
from __future__ import annotations

from pathlib import Path
from typing import Any

from calib_eval.data.records import choice_example
from calib_eval.data.sources import Row, Spec, build, check_opts, load_rows
from calib_eval.types import Example

NAME = "anli"
LABELS = ("entailment", "neutral", "contradiction")
SPEC = Spec(NAME, upstream="facebook/anli",
            hub_splits={"test": "test_r3", "train": "train_r3", "dev": "dev_r3", "validation": "dev_r3"})


def format_question(premise: str, hypothesis: str) -> str:
    return (f"Premise: {premise.strip()}\nHypothesis: {hypothesis.strip()}\n"
            "Does the premise entail the hypothesis, contradict it, or neither (neutral)?")


def label_index(label: Any) -> int:
    if isinstance(label, int) and not isinstance(label, bool):
        if 0 <= label < len(LABELS):
            return label
    elif str(label).strip().lower() in LABELS:
        return LABELS.index(str(label).strip().lower())
    raise ValueError(f"label {label!r} is not one of {LABELS} or 0-2")


def to_example(row: Row, index: int, split: str, source: str = "") -> Example:
    meta = {"split": split, "source": source, "premise": row["premise"], "hypothesis": row["hypothesis"],
            "reason": row.get("reason") or ""}
    return choice_example(NAME, f"{NAME}/{split}/{row.get('uid', index)}",
                          format_question(row["premise"], row["hypothesis"]), LABELS, label_index(row["label"]), meta)


def load(source: str | Path | None = None, split: str = "test", limit: int | None = None,
         data_root: str | Path | None = None, **opts: Any) -> list[Example]:
    """ANLI pairs of one split (offline: train 514, test 1,200)."""
    check_opts(NAME, opts)
    rows, where = load_rows(SPEC, source, split, data_root, opts.get("hub_config"))
    return build(rows, lambda r, i: to_example(r, i, split, where), where, limit)
