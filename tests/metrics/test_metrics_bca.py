"""BCa intervals, their batched (rows) metrics and the shared recalibration refitted per resample."""
from __future__ import annotations

import numpy as np
import pytest
from scipy import stats

from calib_eval.metrics import (
    bootstrap_ci,
    brier_score,
    expected_calibration_error,
    fit_platt,
    recalibrated_summary,
    roc_auc,
)
from calib_eval.metrics.bootstrap import bca_bounds, jackknife_indices
from calib_eval.metrics.recalibration import crossfit_folds, crossfit_recalibrate, fit_platt_rows
from calib_eval.metrics.rows import auroc_rows, brier_rows, ece_rows


def _data(n: int, seed: int, power: float = 2.0) -> tuple[np.ndarray, np.ndarray]:
    rng = np.random.default_rng(seed)
    p = rng.beta(4, 2, n)
    return p, rng.random(n) < p ** power


def test_bca_agrees_with_scipy_on_a_mean() -> None:
    x = np.random.default_rng(0).exponential(size=80)  # skewed: BCa differs from the percentile interval
    ours = bootstrap_ci(np.mean, x, n_resamples=4000, rows_fn=lambda r: r.mean(axis=1))
    ref = stats.bootstrap((x,), np.mean, n_resamples=4000, method="BCa", random_state=1).confidence_interval
    width = ref.high - ref.low
    assert abs(ours.low - ref.low) < 0.05 * width and abs(ours.high - ref.high) < 0.05 * width


@pytest.mark.parametrize("seed", range(12))
def test_intervals_always_contain_their_estimate(seed: int) -> None:
    p, y = _data(30 + 5 * seed, seed)
    for fn, rows in ((expected_calibration_error, ece_rows), (brier_score, brier_rows), (roc_auc, auroc_rows)):
        res = bootstrap_ci(fn, p, y, n_resamples=300, seed=seed, rows_fn=rows)
        assert res.low <= res.estimate <= res.high
    recal = recalibrated_summary(p, y, True, bootstrap=300, seed=seed)
    for key in ("ece", "brier"):
        assert recal[key]["low"] <= recal[key]["estimate"] <= recal[key]["high"]


def test_bounds_widened_to_the_estimate_when_resamples_sit_on_one_side() -> None:
    boot = np.linspace(0.2, 0.3, 500)  # every resample above the estimate (a biased statistic)
    low, high, widened = bca_bounds(0.1, boot, np.linspace(0.09, 0.11, 50), 0.95)
    assert widened and low == 0.1 and high <= 0.3


def test_jackknife_rows() -> None:
    small = jackknife_indices(5)
    assert small.shape == (5, 4) and all(i not in row for i, row in enumerate(small))
    big = jackknife_indices(1003)
    assert big.shape[0] == 200 and len(set(big[0].tolist())) == big.shape[1]


def test_rows_equal_one_sample_metrics() -> None:
    rng = np.random.default_rng(3)
    p = np.round(rng.random((6, 40)), 1)  # ties and exact bin edges
    p[0, :3] = 1.0
    y = rng.random((6, 40)) < p
    y[5] = True  # one class: AUROC undefined
    for mode in ("p_correct", "top_label"):
        expect = [expected_calibration_error(a, b, mode=mode) for a, b in zip(p, y)]
        np.testing.assert_allclose(ece_rows(p, y, mode=mode), expect, atol=1e-12)
    np.testing.assert_allclose(brier_rows(p, y), [brier_score(a, b) for a, b in zip(p, y)])
    with pytest.warns(UserWarning):
        expect = [roc_auc(a, b) for a, b in zip(p, y)]
    np.testing.assert_allclose(auroc_rows(p, y), expect)


def test_batched_platt_equals_fit_platt() -> None:
    rng = np.random.default_rng(4)
    s = rng.normal(size=(3, 60)) * 3
    y = rng.random((3, 60)) < 1 / (1 + np.exp(-s))
    y[2] = s[2] > 0  # separable: Platt's smoothed targets keep the fit finite
    a, b = fit_platt_rows(s, y, np.ones_like(y))
    for i in range(3):
        ref = fit_platt(s[i], y[i])
        assert a[i] == pytest.approx(ref.a, rel=1e-6) and b[i] == pytest.approx(ref.b, rel=1e-6, abs=1e-9)


def test_folds_are_stratified_and_crossfit_needs_two_per_class() -> None:
    y = np.array([True] * 3 + [False] * 47)
    fold = crossfit_folds(y)
    for k in (0, 1):
        assert set(y[fold == k].tolist()) == {True, False}
    assert crossfit_recalibrate(np.arange(50.0), np.array([True] + [False] * 49), False) is None


def test_recalibrated_ece_is_the_same_for_scorers_one_platt_map_apart() -> None:
    """Comparable: two scorers that differ by a map in the family get the same recalibrated ECE."""
    p, y = _data(300, 5)
    logit = np.log(p) - np.log1p(-p)
    squashed = 1 / (1 + np.exp(-(3.0 * logit - 2.0)))  # badly miscalibrated, same ranking
    a = recalibrated_summary(p, y, True, bootstrap=0)["ece"]["estimate"]
    b = recalibrated_summary(squashed, y, True, bootstrap=0)["ece"]["estimate"]
    c = recalibrated_summary(logit, y, False, bootstrap=0)["ece"]["estimate"]  # raw score: Platt on the score
    assert a == pytest.approx(b, abs=1e-6) and a == pytest.approx(c, abs=1e-6)
    assert expected_calibration_error(squashed, y) > 3 * a


def test_recalibration_is_refitted_inside_resamples() -> None:
    """A map refitted per resample adds its own noise: the interval is wider than with the map held fixed."""
    p, y = _data(200, 6)
    refit = recalibrated_summary(p, y, True, bootstrap=500)["brier"]
    fixed_probs = crossfit_recalibrate(p, y, True)
    fixed = bootstrap_ci(brier_score, fixed_probs, y, n_resamples=500, rows_fn=brier_rows)
    assert refit["estimate"] == pytest.approx(fixed.estimate)
    assert refit["high"] - refit["low"] > fixed.high - fixed.low
