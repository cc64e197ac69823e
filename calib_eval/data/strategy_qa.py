"""StrategyQA (implicit multi-step yes/no questions), part of the training mix.

JSONL rows: qid, term, description, question, answer (bool), facts,
decomposition (the hub's ``ChilleD/StrategyQA`` has the same columns).
Offline: ``<root>/strategy_qa/{train,test}.jsonl``. Ids: ``strategy_qa/<split>/<qid>``.
"""
from __future__ import annotations

from pathlib import Path
from typing import Any

from calib_eval.data.records import as_bool, yesno_example
from calib_eval.data.sources import Row, Spec, build, check_opts, load_rows
from calib_eval.types import Example

NAME = "strategy_qa"
SPEC = Spec(NAME, upstream="ChilleD/StrategyQA")


def to_example(row: Row, index: int, split: str, source: str = "") -> Example:
    meta = {"split": split, "source": source, "term": row.get("term"), "facts": list(row.get("facts") or [])}
    return yesno_example(NAME, f"{NAME}/{split}/{row.get('qid', index)}", row["question"],
                         as_bool(row["answer"]), meta)


def load(source: str | Path | None = None, split: str = "test", limit: int | None = None,
         data_root: str | Path | None = None, **opts: Any) -> list[Example]:
    """StrategyQA questions of one split (offline: train 1,656, test 229)."""
    check_opts(NAME, opts)
    rows, where = load_rows(SPEC, source, split, data_root, opts.get("hub_config"))
    return build(rows, lambda r, i: to_example(r, i, split, where), where, limit)
