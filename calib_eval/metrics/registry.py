"""Extra metrics from installed packages: entry points in group ``calib_eval.metrics``.

The built-in metrics are fixed columns of the results schema (summary.py,
extended.py); a plugin metric is an addition computed beside them for every
scorer: in results files under ``plugin_metrics`` (with a bootstrap interval
like the rest) and, in lm-eval runs of the calib tasks, as ``calib_<name>``.
An entry point names a :class:`Metric`, e.g. in a plugin's pyproject::

    [project.entry-points."calib_eval.metrics"]
    overconfidence = "my_pkg.metrics:OVERCONFIDENCE"
"""
from __future__ import annotations

import re
from dataclasses import dataclass
from typing import Any, Callable

import numpy as np

from calib_eval.registry import Registry

INPUTS = ("probability", "score")


@dataclass(frozen=True)
class Metric:
    """``fn(values, correct) -> float`` over numpy arrays (correct: bool), pure and vectorised."""

    fn: Callable[[np.ndarray, np.ndarray], float]
    # "probability": values are P(correct) in [0, 1] (the scorer's, or its recalibrated map's);
    # "score": any real, higher = more confident (ranking metrics)
    input: str = "probability"
    higher_is_better: bool = False
    description: str = ""


def check_metric(name: str, obj: Any) -> str | None:
    """What keeps a plugin's object from being a metric (None: nothing); the registry names the entry point."""
    if not isinstance(obj, Metric):
        return f"expected a calib_eval.metrics.registry.Metric, got {type(obj).__name__}"
    if not callable(obj.fn):
        return "Metric.fn is not callable"
    if obj.input not in INPUTS:
        return f"Metric.input must be one of {', '.join(INPUTS)}, got {obj.input!r}"
    if not re.fullmatch(r"[a-z][a-z0-9_]*", name):
        return "metric names are lower-case identifiers (they become the lm-eval metric calib_<name>)"
    return None


METRICS: Registry[Metric] = Registry("metric", group="calib_eval.metrics", check=check_metric)
