"""Conformal abstention (Learn-then-Test): unit behaviour, and the guarantee in simulation."""
from __future__ import annotations

import numpy as np
import pytest
from scipy.special import beta as beta_fn
from scipy.special import betainc
from scipy.stats import binom

from calib_eval.conformal import (
    DEFAULT_GRID,
    abstention_record,
    binomial_p_values,
    evaluate_abstention,
    fit_abstention,
    fixed_sequence_rejections,
    stratified_halves,
    threshold_counts,
)


def test_counts_and_p_values_by_hand() -> None:
    s = np.array([0.95, 0.9, 0.9, 0.5, 0.2])
    wrong = np.array([0, 1, 0, 1, 1], dtype=float)
    answered, errors = threshold_counts(s, wrong, np.array([0.0, 0.5, 0.9, 0.96]))
    assert answered.tolist() == [5, 4, 3, 0]
    assert errors.tolist() == [3, 2, 1, 0]
    p = binomial_p_values(errors, answered, 0.1)
    assert p[2] == pytest.approx(binom.cdf(1, 3, 0.1))
    assert p[3] == 1.0  # nothing answered: no evidence


def test_fixed_sequence_walks_stop_at_first_failure() -> None:
    p = np.array([0.5, 0.001, 0.001, 0.5, 0.001, 0.001])  # strict -> lenient
    # 2 starts at 0 and 5, level 0.05 / 2: the walk from 0 stops at once; the one from 5 rejects 5
    assert fixed_sequence_rejections(p, 0.05, n_starts=2).tolist() == [False] * 5 + [True]
    # starts round(0, 1.67, 3.33, 5) = 0, 2, 3, 5: from 2 it rejects 2 and stops at 3; 4 is never reached
    assert fixed_sequence_rejections(p, 0.05, n_starts=4).tolist() == [False, False, True, False, False, True]


def test_degenerate_calibration_sets() -> None:
    assert fit_abstention(np.full(200, 0.9), np.ones(200)).threshold == pytest.approx(0.0)  # all right: answer all
    assert fit_abstention(np.full(200, 0.9), np.zeros(200)).threshold is None  # all wrong: abstain
    assert fit_abstention([0.9], [1]).threshold is None  # n = 1 cannot certify anything
    rule = fit_abstention([0.9], [1])
    assert evaluate_abstention(rule, [0.3, 0.99], [1, 1]) == {"coverage": 0.0, "risk": None, "n_answered": 0}


def test_threshold_separates_when_scores_do() -> None:
    s = np.r_[np.full(300, 0.8), np.full(300, 0.3)]
    y = np.r_[np.ones(300), np.zeros(300)]
    rule = fit_abstention(s, y, alpha=0.05, delta=0.05)
    assert 0.3 < rule.threshold <= 0.8
    assert evaluate_abstention(rule, s, y) == {"coverage": 0.5, "risk": 0.0, "n_answered": 300}


def test_bad_input() -> None:
    with pytest.raises(ValueError, match="alpha must be in"):
        fit_abstention([0.5], [1], alpha=0.0)
    with pytest.raises(ValueError, match="delta must be in"):
        fit_abstention([0.5], [1], delta=1.0)
    with pytest.raises(ValueError, match="explicit thresholds grid"):
        fit_abstention([-2.0, 3.0], [1, 0])


def test_record_splits_stratified_and_handles_raw_scores() -> None:
    rng = np.random.default_rng(0)
    f = rng.beta(8, 2, 400)
    y = rng.random(400) < f
    cal, test = stratified_halves(y, seed=1)
    assert sorted(np.r_[cal, test].tolist()) == list(range(400))
    assert abs(y[cal].sum() - y[test].sum()) <= 1
    prob = abstention_record(f, y, True, alpha=0.2, delta=0.1)
    raw = abstention_record(np.log(f) * 7 - 3, y, False, alpha=0.2, delta=0.1)
    for rec in (prob, raw):
        assert {"alpha", "delta", "threshold", "coverage", "risk", "n_cal", "n_test", "method"} <= set(rec)
        assert rec["n_cal"] + rec["n_test"] == 400
    assert prob["coverage"] > 0.3  # non-vacuous on an easy case


def exact_risk_coverage(a: float, b: float, gamma: float) -> tuple[np.ndarray, np.ndarray]:
    """Selective risk and coverage of each grid threshold for f ~ Beta(a, b), P(correct | f) = f**gamma."""
    coverage = 1.0 - betainc(a, b, DEFAULT_GRID)
    kept_correct = beta_fn(a + gamma, b) / beta_fn(a, b) * (1.0 - betainc(a + gamma, b, DEFAULT_GRID))
    with np.errstate(invalid="ignore", divide="ignore"):
        return np.where(coverage > 0, 1.0 - kept_correct / coverage, np.nan), coverage


@pytest.mark.parametrize("gamma,alpha", [(1.0, 0.15), (2.0, 0.25)])
def test_guarantee_holds_and_is_not_vacuous(gamma: float, alpha: float) -> None:
    """P(R(threshold) > alpha) <= delta over 300 replications, bound delta + 4 s.e. (cannot flake).

    The naive plug-in rule on the same draws violates far more often, which shows
    the check can see a violation; coverage must reach half the oracle's.
    """
    reps, n, delta, a, b = 300, 1000, 0.1, 8.0, 2.0
    risk, coverage = exact_risk_coverage(a, b, gamma)
    rng = np.random.default_rng([7, int(gamma)])
    violated, plug_violated, covered = 0, 0, []
    for _ in range(reps):
        f = rng.beta(a, b, n)
        y = rng.random(n) < f**gamma
        rule = fit_abstention(f, y, alpha, delta)
        k = None if rule.threshold is None else int(np.searchsorted(DEFAULT_GRID, rule.threshold))
        violated += k is not None and risk[k] > alpha
        covered.append(0.0 if k is None else coverage[k])
        answered, errors = threshold_counts(f, (~y).astype(float), DEFAULT_GRID)
        plug = np.flatnonzero((answered > 0) & (errors <= alpha * answered)).min()
        plug_violated += risk[plug] > alpha
    bound = delta + 4 * np.sqrt(delta * (1 - delta) / reps)
    assert violated / reps <= bound
    assert plug_violated / reps > bound
    oracle = coverage[risk <= alpha].max()
    assert np.mean(covered) >= 0.5 * oracle, (np.mean(covered), oracle)
