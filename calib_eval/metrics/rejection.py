"""Prediction-rejection ratio (PRR): how much of the oracle's rejection gain a score achieves.

Reject the least confident items first and track the mean quality of what is
kept. The prediction-rejection area (PRA) is that mean averaged over every
number of kept items k = 1..n (most confident first). PRR normalises it
between a random order and the oracle order (sort by quality itself)::

    PRR = (PRA(score) - PRA(random)) / (PRA(oracle) - PRA(random))

This is the definition of Malinin et al. (2017) as used by LM-Polygraph
(Fadeeva et al. 2023; Vashurin et al. 2025): their ``PredictionRejectionArea``
averages the kept-set quality over all rejection rates, and the benchmark
normalises it with the random and oracle areas. 1 = oracle, 0 = no better than
random, negative = worse than random. Differences from LM-Polygraph: the
random area is its exact expectation (the mean quality) instead of an average
over 1000 shuffles; ties in the score are broken uniformly at random *in
expectation* (as in :mod:`calib_eval.metrics.selective`) instead of by
``argsort`` order; and when every item has the same quality (oracle = random,
including n = 1) PRR is NaN with an ``UndefinedMetricWarning`` rather than the
un-normalised area.

Quality is a per-item score, higher is better: 0/1 correctness, or a graded
quality such as ROUGE-L. PRR is invariant to affine rescaling of quality, so
LM-Polygraph's min-max normalisation of the target does not change it.
"""
from __future__ import annotations

import warnings
from typing import Any

import numpy as np

from calib_eval.metrics._validation import UndefinedMetricWarning, as_1d, check_finite, check_lengths


def kept_quality_curve(s: np.ndarray, q: np.ndarray) -> np.ndarray:
    """Expected mean quality of the k highest-scored items, k = 1..n (ties: random order, in expectation)."""
    n = len(s)
    order = np.argsort(-s, kind="mergesort")
    ss, qs = s[order], q[order]
    new_group = np.empty(n, dtype=bool)
    new_group[:1] = True
    new_group[1:] = ss[1:] != ss[:-1]
    gid = np.cumsum(new_group) - 1
    starts = np.flatnonzero(new_group)
    sizes = np.diff(np.append(starts, n))
    group_q = np.bincount(gid, weights=qs)
    before = np.cumsum(group_q) - group_q
    k = np.arange(1, n + 1)
    # a tied group contributes its mean quality for each of its members kept
    kept = before[gid] + (k - starts[gid]) * group_q[gid] / sizes[gid]
    return kept / k


def prediction_rejection_area(score: Any, quality: Any) -> float:
    """Mean kept-set quality over k = 1..n kept items, most confident first; higher is better."""
    s, q = _inputs(score, quality)
    return float(np.mean(kept_quality_curve(s, q)))


def prediction_rejection_ratio(score: Any, quality: Any) -> float:
    """PRR of ``score`` (higher = more confident) for per-item ``quality``; higher is better, 1 = oracle.

    NaN with an ``UndefinedMetricWarning`` when all qualities are equal (one
    class, or n = 1): then no order beats any other.
    """
    s, q = _inputs(score, quality)
    random_area = float(np.mean(q))
    oracle_area = float(np.mean(kept_quality_curve(q, q)))
    if not oracle_area > random_area:
        warnings.warn(
            f"PRR undefined: all {len(q)} items have the same quality, so the oracle is no better "
            "than random; returning NaN.",
            UndefinedMetricWarning,
            stacklevel=2,
        )
        return float("nan")
    area = float(np.mean(kept_quality_curve(s, q)))
    return (area - random_area) / (oracle_area - random_area)


def _inputs(score: Any, quality: Any) -> tuple[np.ndarray, np.ndarray]:
    s, q = as_1d(score, "score"), as_1d(quality, "quality")
    check_lengths(score=s, quality=q)
    check_finite(s, "score")
    check_finite(q, "quality")
    return s, q
