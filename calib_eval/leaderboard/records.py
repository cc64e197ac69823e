"""Leaderboard rows: one (model, adapter, scorer, task) result, flattened from any source.

Every ingest path (our results files, lm-eval output) ends in these records,
so tables, renderers and plots never look at a source format again.
"""
from __future__ import annotations

import math
from dataclasses import asdict, dataclass, field
from datetime import datetime, timezone
from pathlib import Path
from typing import Any

NO_ADAPTER = "none"


@dataclass(frozen=True)
class Estimate:
    """A point estimate with its 95% interval (either bound may be unknown)."""

    estimate: float | None
    low: float | None = None
    high: float | None = None

    @classmethod
    def parse(cls, value: Any) -> Estimate | None:
        """`{"estimate", "low", "high"}` or a bare number -> Estimate; null/NaN -> None."""
        if value is None:
            return None
        if isinstance(value, (int, float)):
            return None if _missing(value) else cls(float(value))
        if isinstance(value, dict):
            point = _number(value.get("estimate"))
            if point is None:
                return None
            return cls(point, _number(value.get("low")), _number(value.get("high")))
        return None


@dataclass(frozen=True)
class Bins:
    """Reliability-diagram data as stored in a results file (one entry per bin)."""

    bin_edges: tuple[float, ...]
    mean_confidence: tuple[float | None, ...]
    accuracy: tuple[float | None, ...]
    count: tuple[int, ...]

    @classmethod
    def parse(cls, value: Any) -> Bins | None:
        """Stored bins -> Bins; None (row kept, no diagram) when malformed.

        calib_eval.metrics' uniform bins carry one extra point bin for confidence
        exactly 1.0 (as many entries as edges); it is folded into the last bin.
        """
        if not isinstance(value, dict):
            return None
        try:
            edges = [float(e) for e in value["bin_edges"]]
            conf = [_number(c) for c in value["mean_confidence"]]
            acc = [_number(a) for a in value["accuracy"]]
            count = [int(c or 0) for c in value["count"]]
        except (KeyError, TypeError, ValueError):
            return None
        if not len(conf) == len(acc) == len(count) or len(edges) < 2:
            return None
        if len(count) == len(edges):
            conf, acc, count = _fold_last(conf, acc, count)
        if len(count) != len(edges) - 1:
            return None
        return cls(tuple(edges), tuple(conf), tuple(acc), tuple(count))


def _fold_last(conf: list, acc: list, count: list) -> tuple[list, list, list]:
    """Merge the final entry into the one before it, count-weighted."""
    (c1, c2), (a1, a2), (n1, n2) = conf[-2:], acc[-2:], count[-2:]
    total = n1 + n2

    def mix(x, y):
        parts = [(v, n) for v, n in ((x, n1), (y, n2)) if v is not None and n > 0]
        return sum(v * n for v, n in parts) / sum(n for _, n in parts) if parts else None

    return conf[:-2] + [mix(c1, c2)], acc[:-2] + [mix(a1, a2)], count[:-2] + [total]


@dataclass(frozen=True)
class Row:
    model: str
    adapter: str  # adapter folder name, or NO_ADAPTER
    scorer: str
    task: str
    accuracy: Estimate | None
    ece: Estimate | None
    auroc: Estimate | None
    brier: Estimate | None
    aurc: Estimate | None
    n: int | None
    is_probability: bool
    calibration: str  # "none" or e.g. "platt, 2-fold cross-fit": how ECE/Brier probabilities were made
    hardware: str
    created: str  # ISO-8601, UTC
    package_version: str
    origin: str  # "calib-eval" or "lm-eval"
    source: str  # file name in the leaderboard's results/ history
    adapter_method: str | None = None
    reliability: Bins | None = None
    note: str = ""  # why a metric is missing (e.g. one-class AUROC), as the results file says
    extended: dict = field(default_factory=dict)  # table.EXTRA_METRICS name -> Estimate | None
    abstain_setting: str = ""  # conformal abstention's alpha, delta and realised risk, when it ran
    stale: bool = False  # grader or metrics version differs from this code's (calib_eval.provenance.stale_reason)

    @property
    def key(self) -> tuple[str, str, str, str]:
        return (self.model, self.adapter, self.scorer, self.task)

    @property
    def timestamp(self) -> float:
        return parse_time(self.created)

    def to_dict(self) -> dict:
        return asdict(self)


def parse_time(value: Any) -> float:
    """ISO string or epoch seconds -> epoch seconds; naive times count as UTC."""
    if isinstance(value, (int, float)) and not isinstance(value, bool):
        return float(value)
    text = str(value).strip().replace("Z", "+00:00")
    stamp = datetime.fromisoformat(text)
    if stamp.tzinfo is None:
        stamp = stamp.replace(tzinfo=timezone.utc)
    return stamp.timestamp()


def iso_utc(epoch: float) -> str:
    return datetime.fromtimestamp(epoch, tz=timezone.utc).isoformat(timespec="seconds")


def display_model_name(name: str) -> str:
    """Zoo aliases -> canonical zoo name; local paths -> folder name; hub ids unchanged."""
    from calib_eval import model_zoo

    if model_zoo.is_zoo_name(name):
        return model_zoo.canonical_name(name)
    if name.startswith(("/", "~", "./", "../")) or "\\" in name:
        return Path(name.rstrip("/\\")).name or name
    return name


def adapter_label(path: str | None) -> str:
    """The adapter's folder name labels it (a path differs between machines)."""
    if not path:
        return NO_ADAPTER
    return Path(str(path).rstrip("/\\")).name or str(path)


def _number(value: Any) -> float | None:
    if isinstance(value, bool) or not isinstance(value, (int, float)):
        return None
    return None if _missing(value) else float(value)


def _missing(value: float) -> bool:
    return math.isnan(value) or math.isinf(value)
