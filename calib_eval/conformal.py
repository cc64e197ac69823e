"""Conformal abstention: a confidence threshold whose error rate among answered items is <= alpha w.h.p.

Method: Learn-then-Test (Angelopoulos, Bates, Candès, Jordan & Lei 2021,
"Learn then Test: Calibrating Predictive Algorithms to Achieve Risk
Control", arXiv:2110.01052), applied to the selective risk. For each
threshold ``lam`` of a grid fixed before seeing the calibration items, the
null hypothesis is ``H_lam: R(lam) > alpha``, where
``R(lam) = P(wrong | score >= lam)`` is the *selective risk* of answering only
items scored ``>= lam``. Given which calibration items clear ``lam`` (``n``
of them), their errors are Binomial(n, R(lam)), so the exact binomial tail
``p = P(Binomial(n, alpha) <= errors)`` is a valid p-value.

Multiple testing: LTT's fixed-sequence test, run from several starting
points. The grid, strict to lenient, gets ``N_STARTS`` evenly spaced
starts; from each, thresholds are tested in order
at level ``delta / N_STARTS`` until the first non-rejection. Each walk is a
fixed-sequence procedure, so by Bonferroni over the walks the family-wise
error is <= delta: with probability >= 1 - delta *every* certified threshold
has ``R <= alpha``, and the rule answers at the lowest certified one (most
coverage). If none is certified it abstains on everything. One walk from the
strictest end would mostly stop at once (too few calibration items clear a
strict threshold to reject anything); plain Bonferroni over all 101
thresholds pays delta/101 everywhere.

The guarantee is about the population selective risk at the chosen threshold
(new items from the same distribution); the error rate on a finite test split
scatters around it. The grid must not depend on the calibration items: the
default grid (0.00, 0.01, ..., 1.00) suits probabilities; for raw scores pass
one built from other data (e.g. quantiles of the test split's scores).
"""
from __future__ import annotations

from dataclasses import asdict, dataclass
from typing import Any

import numpy as np
from scipy.stats import binom

from calib_eval.metrics._validation import as_1d, check_finite, check_lengths, score_inputs

DEFAULT_GRID = np.linspace(0.0, 1.0, 101)
N_STARTS = 10
METHOD = ("learn-then-test (Angelopoulos et al. 2021): exact binomial p-values, fixed-sequence "
          f"testing from {N_STARTS} evenly spaced starts, strict to lenient")


@dataclass(frozen=True)
class AbstentionRule:
    """Answer items scored ``>= threshold``; ``threshold is None`` means abstain on all."""

    threshold: float | None
    alpha: float
    delta: float
    n_cal: int
    n_thresholds: int

    def answers(self, score: Any) -> np.ndarray:
        s = as_1d(score, "score")
        check_finite(s, "score")
        return np.zeros(len(s), dtype=bool) if self.threshold is None else s >= self.threshold


def _check_level(value: float, name: str) -> None:
    if not 0.0 < value < 1.0:
        raise ValueError(f"{name} must be in (0, 1), got {value!r}.")


def binomial_p_values(errors: np.ndarray, answered: np.ndarray, alpha: float) -> np.ndarray:
    """P(Binomial(answered, alpha) <= errors) per threshold; 1.0 where nothing is answered."""
    p = binom.cdf(errors, answered, alpha)
    return np.where(answered > 0, p, 1.0)


def threshold_counts(s: np.ndarray, wrong: np.ndarray, grid: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """(answered, errors) at each grid threshold: items with score >= threshold."""
    order = np.argsort(s, kind="mergesort")
    ss = s[order]
    wrong_from = np.concatenate((np.cumsum(wrong[order][::-1])[::-1], [0]))  # errors among ss[i:]
    first = np.searchsorted(ss, grid, side="left")
    return len(s) - first, wrong_from[first]


def fit_abstention(score: Any, correct: Any, alpha: float = 0.1, delta: float = 0.1,
                   thresholds: Any = None) -> AbstentionRule:
    """Learn-then-Test threshold from calibration items (see the module docstring)."""
    _check_level(alpha, "alpha")
    _check_level(delta, "delta")
    s, y = score_inputs(score, correct)
    grid = _grid(thresholds, s)
    answered, errors = threshold_counts(s, (~y).astype(np.float64), grid)
    certified = fixed_sequence_rejections(binomial_p_values(errors, answered, alpha)[::-1], delta)[::-1]
    threshold = float(grid[certified].min()) if certified.any() else None
    return AbstentionRule(threshold, float(alpha), float(delta), len(s), len(grid))


def fixed_sequence_rejections(p_values: np.ndarray, delta: float, n_starts: int = N_STARTS) -> np.ndarray:
    """Rejected hypotheses (in the given order) of fixed-sequence walks from ``n_starts`` even starts.

    Each walk tests from its start onwards at ``delta / n_starts`` and stops at
    its first p-value above that level; FWER <= delta (Bonferroni over walks).
    """
    m = len(p_values)
    starts = np.unique(np.linspace(0, m - 1, min(n_starts, m)).round().astype(int))
    level = delta / len(starts)
    rejected = np.zeros(m, dtype=bool)
    for start in starts:
        for i in range(start, m):
            if p_values[i] > level:
                break
            rejected[i] = True
    return rejected


def _grid(thresholds: Any, s: np.ndarray) -> np.ndarray:
    if thresholds is None:
        if (s < 0).any() or (s > 1).any():
            raise ValueError("Scores outside [0, 1] need an explicit thresholds grid (fixed before "
                             "looking at the calibration items, e.g. quantiles of other items' scores).")
        return DEFAULT_GRID
    grid = np.unique(as_1d(thresholds, "thresholds"))
    check_lengths(thresholds=grid)
    check_finite(grid, "thresholds")
    return grid


def evaluate_abstention(rule: AbstentionRule, score: Any, correct: Any) -> dict[str, Any]:
    """Coverage (share answered) and realised risk (error rate among answered; None if none) on test items."""
    s, y = score_inputs(score, correct)
    answered = rule.answers(s)
    n_answered = int(answered.sum())
    risk = float(np.mean(~y[answered])) if n_answered else None
    return {"coverage": n_answered / len(s), "risk": risk, "n_answered": n_answered}


def stratified_halves(correct: np.ndarray, seed: int = 0) -> tuple[np.ndarray, np.ndarray]:
    """(calibration, test) indices: each class shuffled and dealt alternately, so both halves hold both."""
    rng = np.random.default_rng(seed)
    halves: list[list[int]] = [[], []]
    for label in (False, True):
        members = rng.permutation(np.flatnonzero(correct == label))
        halves[0] += members[0::2].tolist()
        halves[1] += members[1::2].tolist()
    return np.sort(np.array(halves[0], dtype=int)), np.sort(np.array(halves[1], dtype=int))


def abstention_record(score: Any, correct: Any, is_probability: bool, alpha: float, delta: float = 0.1,
                      seed: int = 0) -> dict[str, Any]:
    """Split a task's items in calibration/test halves, fit on one, report on the other.

    Probabilities use the fixed grid; raw scores use 101 quantiles of the
    *test* half's scores (label-free and independent of the calibration half).
    """
    s, y = score_inputs(score, correct)
    cal, test = stratified_halves(y, seed)
    if len(cal) == 0 or len(test) == 0:
        raise ValueError(f"Abstention needs at least 2 items to split; got {len(y)}.")
    grid = None if is_probability else np.quantile(s[test], DEFAULT_GRID)
    rule = fit_abstention(s[cal], y[cal], alpha, delta, grid)
    result = evaluate_abstention(rule, s[test], y[test])
    return {**asdict(rule), **result, "n_test": len(test), "method": METHOD,
            "grid": "probabilities 0.00..1.00 step 0.01" if is_probability else "101 quantiles of test-half scores"}
