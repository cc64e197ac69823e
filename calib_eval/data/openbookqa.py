"""OpenBookQA, part of the calibration-tuning mix (4 choices).

Upstream JSONL: id, question{stem, choices[{text, label}]}, answerKey.
Hub ``allenai/openbookqa`` config ``main``: id, question_stem,
choices{text, label}, answerKey. Both are read. Offline:
``<root>/openbookqa/test.jsonl``. Ids: ``openbookqa/<split>/<id>``.
"""
from __future__ import annotations

from pathlib import Path
from typing import Any

from calib_eval.data.records import choice_example, labelled_choices
from calib_eval.data.sources import Row, Spec, build, check_opts, load_rows
from calib_eval.types import Example

NAME = "openbookqa"
SPEC = Spec(NAME, upstream="allenai/openbookqa", hub_config="main")


def to_example(row: Row, index: int, split: str, source: str = "") -> Example:
    if isinstance(row.get("question"), dict):  # upstream: nested stem and choice list
        q = row["question"]
        stem = q["stem"]
        options = {"text": [c["text"] for c in q["choices"]], "label": [c["label"] for c in q["choices"]]}
    else:  # hub columns
        stem, options = row["question_stem"], row["choices"]
    choices, answer = labelled_choices(options, row["answerKey"])
    return choice_example(NAME, f"{NAME}/{split}/{row.get('id', index)}", stem, choices, answer,
                          {"split": split, "source": source})


def load(source: str | Path | None = None, split: str = "test", limit: int | None = None,
         data_root: str | Path | None = None, **opts: Any) -> list[Example]:
    """OpenBookQA questions of one split (offline: test, 500 rows)."""
    check_opts(NAME, opts)
    rows, where = load_rows(SPEC, source, split, data_root, opts.get("hub_config"))
    return build(rows, lambda r, i: to_example(r, i, split, where), where, limit)
