"""Per-item blocks -> the compact JSON index.html's compare control reads (pure).

AUROC depends only on the order of scores, so the page gets each scorer's
dense ranks (0 = lowest, ties share a rank), not the scores. Integer arrays
are strings of fixed-width base-36 digits after their width (`"2:0a0b1z"`),
about a third of the size of JSON numbers. Items are matched across rows by
an index into one id list per task (the ids themselves are not needed).

    {"blocks": {"<results file>": {"task", "idx": code, "correct": "0110...",
                                   "ranks": {"<scorer>": code}}}}

Only blocks and scorers that some table row shows are embedded.
"""
from __future__ import annotations

import numpy as np

from calib_eval.leaderboard.item_scores import ItemScores


def page_items(tables, items: dict[str, ItemScores]) -> dict:
    used: dict[str, set[str]] = {}  # results file -> scorers shown in some row
    for table in tables:
        for row in table.rows:
            block = items.get(row.source)
            if block is not None and block.task == row.task and row.scorer in block.scores:
                used.setdefault(row.source, set()).add(row.scorer)
    index_by_task: dict[str, dict[str, int]] = {}
    blocks = {}
    for source in sorted(used):
        block = items[source]
        index = index_by_task.setdefault(block.task, {})
        blocks[source] = {
            "task": block.task,
            "idx": int_code([index.setdefault(item, len(index)) for item in block.ids]),
            "correct": "".join("1" if c else "0" for c in block.correct),
            "ranks": {name: int_code(dense_ranks(block.scores[name])) for name in sorted(used[source])},
        }
    return {"blocks": blocks}


def has_items(row, items: dict[str, ItemScores]) -> bool:
    block = items.get(row.source)
    return block is not None and block.task == row.task and row.scorer in block.scores


def dense_ranks(values) -> np.ndarray:
    return np.unique(np.asarray(values), return_inverse=True)[1].reshape(-1)


def int_code(values) -> str:
    """Non-negative integers -> '<width>:' + fixed-width base-36 digits (decoded by the page script)."""
    values = [int(v) for v in values]
    top, width = max(values, default=0), 1
    while 36 ** width <= top:
        width += 1
    return f"{width}:" + "".join(np.base_repr(v, 36).lower().rjust(width, "0") for v in values)
