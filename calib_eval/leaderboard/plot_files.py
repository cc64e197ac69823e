"""Which figures the leaderboard has and where they live (pure; no matplotlib).

Paths are relative to the leaderboard folder and deterministic:
  plots/reliability/<task>__<model>[+<adapter>]__<scorer>.png
  plots/scatter_<task>.png
"""
from __future__ import annotations

import hashlib
from dataclasses import dataclass

from calib_eval.leaderboard.history import safe_name
from calib_eval.leaderboard.records import NO_ADAPTER, Row
from calib_eval.leaderboard.table import TaskTable, metric_value

PLOTS_DIR = "plots"


@dataclass(frozen=True)
class PlotPaths:
    reliability: dict  # row key -> relative path (rows with stored reliability bins)
    scatter: dict  # task -> relative path (tasks with at least one ECE and AUROC)


def model_label(row: Row) -> str:
    return row.model if row.adapter == NO_ADAPTER else f"{row.model}+{row.adapter}"


def scatter_rows(table: TaskTable) -> list[Row]:
    """Rows that can be placed on the ECE-vs-AUROC plane."""
    return [r for r in table.rows if metric_value(r, "ece") is not None and metric_value(r, "auroc") is not None]


def plot_paths(tables: list[TaskTable]) -> PlotPaths:
    """Collision-free file names for every figure the tables call for."""
    reliability, used = {}, set()
    for table in tables:
        for row in table.rows:
            if row.reliability is None:
                continue
            stem = "__".join(safe_name(p) for p in (row.task, model_label(row), row.scorer))
            if stem in used:  # two keys sanitised to one name: disambiguate by the raw key
                stem += "-" + hashlib.sha256("\0".join(row.key).encode()).hexdigest()[:8]
            used.add(stem)
            reliability[row.key] = f"{PLOTS_DIR}/reliability/{stem}.png"
    scatter = {t.task: f"{PLOTS_DIR}/scatter_{safe_name(t.task)}.png" for t in tables if scatter_rows(t)}
    return PlotPaths(reliability, scatter)
