"""Rows -> per-task tables with the best value of each metric marked (pure, no I/O)."""
from __future__ import annotations

import math
from dataclasses import dataclass

from calib_eval.leaderboard.paired import compare_to_best
from calib_eval.leaderboard.records import Estimate, Row

METRICS = ("accuracy", "ece", "auroc", "brier")
# issue #15 metrics (Row.extended); the HTML page offers them as optional columns. "ece" is every
# scorer's ECE after the same recalibration (rank on it); "ece_raw" is ECE as produced (probability scorers)
EXTRA_METRICS = ("ece_raw", "prr", "auprc_err", "auprc_correct", "nll", "ece_em", "rms_ce", "smece",
                 "sel_acc_50", "sel_acc_80", "sel_acc_90", "abstain_coverage")
LOWER_IS_BETTER = frozenset({"ece", "ece_raw", "brier", "nll", "ece_em", "rms_ce", "smece"})
_TIE = 1e-12


@dataclass(frozen=True)
class TaskTable:
    task: str
    rows: tuple[Row, ...]  # best ECE first
    best: tuple[frozenset[str], ...]  # per row: the metrics on which it is (jointly) best
    paired: tuple = ()  # per row: paired.PairedDiff to its model's best untrained scorer, or None


def build_tables(rows: list[Row], items: dict | None = None) -> list[TaskTable]:
    """One table per task, tasks in name order, rows by ECE then name.

    `items`: per-item scores by results file name (item_scores); with them each
    row gets its paired AUROC difference to the best untrained scorer.
    """
    by_task: dict[str, list[Row]] = {}
    for row in rows:
        by_task.setdefault(row.task, []).append(row)
    tables = []
    for task in sorted(by_task):
        ordered = tuple(sorted(by_task[task], key=_row_order))
        paired = tuple(compare_to_best(ordered, items or {}))
        tables.append(TaskTable(task, ordered, tuple(best_marks(ordered)), paired))
    return tables


def best_marks(rows: tuple[Row, ...] | list[Row]) -> list[frozenset[str]]:
    """For each row, the metrics where it ties for best (lowest ECE/Brier, highest AUROC/accuracy)."""
    marks: list[set[str]] = [set() for _ in rows]
    for metric in (*METRICS, *EXTRA_METRICS):
        values = [metric_value(row, metric) for row in rows]
        known = [v for v in values if v is not None]
        if not known:
            continue
        target = min(known) if metric in LOWER_IS_BETTER else max(known)
        for mark, value in zip(marks, values):
            if value is not None and abs(value - target) <= _TIE:
                mark.add(metric)
    return [frozenset(m) for m in marks]


def format_estimate(value: Estimate | None, digits: int = 3) -> str:
    """`0.123 [0.10, 0.15]`; the point alone when the interval is unknown; '–' when missing."""
    if value is None or value.estimate is None:
        return "–"
    point = f"{value.estimate:.{digits}f}"
    if value.low is None or value.high is None:
        return point
    return f"{point} [{value.low:.2f}, {value.high:.2f}]"


def raw_score_notes(rows: list[Row] | tuple[Row, ...]) -> list[str]:
    """'scorer: calibration' for raw (non-probability) scorers, whose ECE/Brier follow a fitted map."""
    notes = {f"{r.scorer}: {r.calibration}" for r in rows if not r.is_probability}
    return sorted(notes)


def scorer_notes(rows: list[Row] | tuple[Row, ...]) -> list[str]:
    """'model / scorer: note' for rows whose results explain a missing metric."""
    return sorted({f"{r.model} / {r.scorer}: {r.note}" for r in rows if r.note})


def metric_value(row: Row, metric: str) -> float | None:
    """The point estimate, or None when missing/NaN (so it is never 'best')."""
    estimate = row.extended.get(metric) if metric in EXTRA_METRICS else getattr(row, metric)
    if estimate is None or estimate.estimate is None or math.isnan(estimate.estimate):
        return None
    return estimate.estimate


def _row_order(row: Row):
    ece = metric_value(row, "ece")
    return (ece is None, ece if ece is not None else 0.0, row.model, row.adapter, row.scorer)
