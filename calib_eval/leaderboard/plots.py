"""Leaderboard figures, sklearn-style: `*Data` objects are computed from rows (pure),
`*Display.plot()` draws them. Matplotlib's Agg canvas only; no pyplot global state.
File names come from `plot_files`.
"""
from __future__ import annotations

from dataclasses import dataclass
from itertools import cycle
from pathlib import Path

import numpy as np
from matplotlib.backends.backend_agg import FigureCanvasAgg
from matplotlib.figure import Figure

from calib_eval.leaderboard.plot_files import PlotPaths, model_label, scatter_rows
from calib_eval.leaderboard.records import Row
from calib_eval.leaderboard.table import TaskTable, format_estimate, metric_value

PALETTE = ("#4c72b0", "#dd8452", "#55a868", "#c44e52", "#8172b3",
           "#937860", "#da8bc3", "#8c8c8c", "#ccb974", "#64b5cd")


@dataclass(frozen=True)
class ReliabilityData:
    """Per-bin accuracy and counts of one (model, adapter, scorer, task), from stored bins."""

    bin_edges: np.ndarray
    mean_confidence: np.ndarray  # NaN for empty bins
    accuracy: np.ndarray  # NaN for empty bins
    count: np.ndarray
    title: str
    subtitle: str

    @classmethod
    def from_row(cls, row: Row) -> ReliabilityData | None:
        bins = row.reliability
        if bins is None:
            return None
        as_float = lambda xs: np.array([np.nan if x is None else x for x in xs], dtype=float)
        after_map = "" if row.is_probability else f" (after {row.calibration})"
        return cls(
            bin_edges=np.asarray(bins.bin_edges, dtype=float),
            mean_confidence=as_float(bins.mean_confidence),
            accuracy=as_float(bins.accuracy),
            count=np.asarray(bins.count, dtype=float),
            title=f"{model_label(row)} · {row.scorer}",
            subtitle=f"{row.task}   ECE {format_estimate(row.ece)}{after_map}   n={row.n or int(sum(bins.count))}",
        )


class ReliabilityDisplay:
    """Accuracy per confidence bin against the diagonal, with a count histogram below."""

    def __init__(self, data: ReliabilityData) -> None:
        self.data = data

    @classmethod
    def from_row(cls, row: Row) -> ReliabilityDisplay | None:
        data = ReliabilityData.from_row(row)
        return None if data is None else cls(data)

    def plot(self, figure: Figure | None = None) -> ReliabilityDisplay:
        d = self.data
        fig = figure or Figure(figsize=(5.6, 6.0), dpi=100)
        ax, ax_hist = fig.subplots(2, 1, sharex=True, gridspec_kw={"height_ratios": [3, 1], "hspace": 0.08})
        left, widths = d.bin_edges[:-1], np.diff(d.bin_edges)
        filled = ~np.isnan(d.accuracy)
        ax.bar(left[filled], d.accuracy[filled], width=widths[filled], align="edge",
               color="#4c72b0", edgecolor="white", label="accuracy in bin")
        has_conf = filled & ~np.isnan(d.mean_confidence)
        # the gap makes a zero-accuracy bin visible: without it a full bin looks empty
        gap = d.mean_confidence[has_conf] - d.accuracy[has_conf]
        ax.bar(left[has_conf], gap, bottom=d.accuracy[has_conf], width=widths[has_conf], align="edge",
               color="#c44e52", alpha=0.25, edgecolor="#c44e52", hatch="//", label="gap to mean confidence")
        ax.plot([0, 1], [0, 1], linestyle="--", color="#555555", linewidth=1, label="perfect calibration")
        ax.plot(d.mean_confidence[has_conf], d.accuracy[has_conf], "o", color="#dd8452", markersize=4,
                clip_on=False, zorder=3, label="bin: (mean confidence, accuracy)")
        ax.set(xlim=(0, 1), ylim=(0, 1), ylabel="accuracy")
        ax.set_title(f"{d.title}\n{d.subtitle}", fontsize=9)
        ax.legend(loc="upper left", fontsize=8, frameon=False)
        ax.grid(alpha=0.25)
        ax_hist.bar(left, d.count, width=widths, align="edge", color="#8c8c8c", edgecolor="white")
        ax_hist.set(xlabel="confidence", ylabel="count")
        ax_hist.grid(alpha=0.25)
        self.figure_, self.ax_, self.ax_hist_ = fig, ax, ax_hist
        return self


@dataclass(frozen=True)
class ScatterData:
    """ECE (x, lower is better) against AUROC (y, higher is better) for one task."""

    task: str
    models: tuple[str, ...]
    labels: tuple[str, ...]  # point annotations: the scorer
    ece: np.ndarray
    auroc: np.ndarray

    @classmethod
    def from_table(cls, table: TaskTable) -> ScatterData | None:
        rows = scatter_rows(table)
        if not rows:
            return None
        return cls(
            task=table.task,
            models=tuple(model_label(r) for r in rows),
            labels=tuple(r.scorer for r in rows),
            ece=np.array([metric_value(r, "ece") for r in rows]),
            auroc=np.array([metric_value(r, "auroc") for r in rows]),
        )


class ScatterDisplay:
    def __init__(self, data: ScatterData) -> None:
        self.data = data

    def plot(self, figure: Figure | None = None) -> ScatterDisplay:
        d = self.data
        fig = figure or Figure(figsize=(7.0, 5.0), dpi=100)
        ax = fig.subplots()
        colours = dict(zip(sorted(set(d.models)), cycle(PALETTE)))
        for model in sorted(set(d.models)):
            mask = np.array([m == model for m in d.models])
            ax.scatter(d.ece[mask], d.auroc[mask], s=36, color=colours[model], label=model, zorder=3)
        for rank, i in enumerate(np.argsort(d.ece, kind="stable")):
            # alternate above/below along the x axis so neighbouring labels overlap less
            offset = (4, 4) if rank % 2 == 0 else (4, -10)
            ax.annotate(d.labels[i], (d.ece[i], d.auroc[i]), xytext=offset, textcoords="offset points", fontsize=7)
        ax.set(xlabel="ECE (lower is better)", ylabel="AUROC (higher is better)",
               xlim=(0, max(0.05, float(np.max(d.ece)) * 1.25)),
               ylim=(min(0.4, float(np.min(d.auroc)) - 0.05), 1.0))
        ax.axhline(0.5, color="#999999", linewidth=0.8, linestyle=":")
        ax.set_title(f"{d.task}: ECE vs AUROC (better: top left)", fontsize=10)
        # below the axes: a legend inside would hide points, one beside them squeezes the plot
        ax.legend(fontsize=8, loc="upper center", bbox_to_anchor=(0.5, -0.13), ncol=2, frameon=False)
        ax.grid(alpha=0.25)
        self.figure_, self.ax_ = fig, ax
        return self


def draw_plots(tables: list[TaskTable], paths: PlotPaths, root: Path) -> list[Path]:
    """Draw every figure named in `paths` under `root`; returns the files written."""
    written = []
    for table in tables:
        for row in table.rows:
            if row.key in paths.reliability:
                written.append(_save(ReliabilityDisplay.from_row(row).plot(), root / paths.reliability[row.key]))
        if table.task in paths.scatter:
            written.append(_save(ScatterDisplay(ScatterData.from_table(table)).plot(), root / paths.scatter[table.task]))
    return written


def _save(display, path: Path) -> Path:
    path.parent.mkdir(parents=True, exist_ok=True)
    FigureCanvasAgg(display.figure_)
    display.figure_.savefig(path, format="png", bbox_inches="tight")
    return path
