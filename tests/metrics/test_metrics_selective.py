"""Risk-coverage curve, AURC and selective accuracy vs brute-force references."""
from __future__ import annotations

import itertools
import math

import numpy as np
import pytest

from calib_eval.metrics import aurc, risk_coverage_curve, selective_accuracy


def loop_risks(score: np.ndarray, correct: np.ndarray) -> np.ndarray:
    """Risk at k = 1..n for a fixed order (distinct scores): plain loop."""
    order = sorted(range(len(score)), key=lambda i: -score[i])
    return np.array([sum(not correct[i] for i in order[:k]) / k for k in range(1, len(score) + 1)])


def permutation_mean_risks(score: np.ndarray, correct: np.ndarray) -> np.ndarray:
    """Exact expected risks under uniformly random tie-breaking: average over all input orders."""
    n = len(score)
    total = np.zeros(n)
    perms = list(itertools.permutations(range(n)))
    for perm in perms:
        s, y = score[list(perm)], correct[list(perm)]
        order = np.argsort(-s, kind="stable")  # ties keep (permuted) input order
        errs = np.cumsum(~y[order])
        total += errs / np.arange(1, n + 1)
    return total / len(perms)


@pytest.mark.parametrize("seed", range(5))
@pytest.mark.parametrize("n", [1, 2, 7, 100])
def test_distinct_scores_match_loop(seed: int, n: int) -> None:
    rng = np.random.default_rng([seed, n])
    s, y = rng.normal(size=n), rng.random(n) < 0.6
    curve = risk_coverage_curve(s, y)
    np.testing.assert_allclose(curve.risk, loop_risks(s, y), atol=1e-12)
    np.testing.assert_allclose(curve.coverage, np.arange(1, n + 1) / n)
    assert aurc(s, y) == pytest.approx(loop_risks(s, y).mean(), abs=1e-12)
    assert np.all(np.diff(curve.threshold) <= 0)


@pytest.mark.parametrize("seed", range(4))
def test_ties_are_expected_risk_over_random_tie_breaking(seed: int) -> None:
    rng = np.random.default_rng(seed)
    s, y = rng.integers(0, 3, size=7).astype(float), rng.random(7) < 0.5
    np.testing.assert_allclose(risk_coverage_curve(s, y).risk, permutation_mean_risks(s, y), atol=1e-12)


def test_constant_scorer_aurc_is_error_rate() -> None:
    y = np.array([1, 0, 0, 1, 1, 1, 0, 1, 1, 1], dtype=bool)
    assert aurc(np.zeros(10), y) == pytest.approx(0.3)
    np.testing.assert_allclose(risk_coverage_curve(np.zeros(10), y).risk, 0.3)


def test_perfect_and_all_correct_or_wrong() -> None:
    y = np.array([1, 1, 0, 0], dtype=bool)
    assert aurc([4, 3, 2, 1], y) == pytest.approx((0 + 0 + 1 / 3 + 2 / 4) / 4)
    assert aurc([0.1, 0.2], [1, 1]) == 0.0
    assert aurc([0.1, 0.2], [0, 0]) == 1.0


def test_input_order_invariance_with_ties() -> None:
    rng = np.random.default_rng(9)
    s, y = np.round(rng.random(300), 1), rng.random(300) < 0.5
    perm = rng.permutation(300)
    assert aurc(s, y) == pytest.approx(aurc(s[perm], y[perm]), abs=1e-12)


@pytest.mark.parametrize("coverage,k", [(1.0, 10), (0.7, 7), (0.8, 8), (0.25, 3), (0.01, 1)])
def test_selective_accuracy_takes_ceil_coverage_items(coverage: float, k: int) -> None:
    s = np.arange(10, 0, -1).astype(float)  # item i has the i-th highest score
    y = np.array([1, 1, 0, 1, 1, 1, 0, 1, 0, 0], dtype=bool)
    assert selective_accuracy(s, y, coverage) == pytest.approx(y[:k].mean())
    assert k == max(1, math.ceil(round(coverage * 10, 9)))


def test_selective_accuracy_full_coverage_is_accuracy() -> None:
    rng = np.random.default_rng(1)
    s, y = rng.random(57), rng.random(57) < 0.4
    assert selective_accuracy(s, y, 1.0) == pytest.approx(y.mean())
