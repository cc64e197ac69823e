"""The ECE interval (test inversion around the plug-in): its pieces, its guarantees, and its coverage."""
from __future__ import annotations

import numpy as np
import pytest
from scipy import integrate, stats

from calib_eval.metrics import expected_calibration_error, recalibrated_summary, summarize
from calib_eval.metrics.bootstrap import bootstrap_ci
from calib_eval.metrics.ece_interval import ece_interval, equal_se_shape, inversion_bounds, nearest_shape
from calib_eval.metrics.rows import bin_gap_rows, ece_rows


def _interval(p: np.ndarray, y: np.ndarray, resamples: int = 500, seed: int = 0):
    return ece_interval(expected_calibration_error(p, y), lambda i: bin_gap_rows(p[i], y[i]), len(p),
                        n_resamples=resamples, seed=seed)


def _draw(n: int, seed: int, power: float) -> tuple[np.ndarray, np.ndarray]:
    rng = np.random.default_rng(seed)
    p = rng.beta(4, 2, n)
    return p, rng.random(n) < p ** power


def test_bin_gaps_sum_to_ece_in_both_modes() -> None:
    rng = np.random.default_rng(1)
    p = np.round(rng.random((5, 37)), 1)  # exact bin edges and the 1.0 point bin
    p[0, :4] = 1.0
    y = rng.random((5, 37)) < p
    for mode in ("p_correct", "top_label"):
        gaps = bin_gap_rows(p, y, mode=mode)
        assert gaps.shape == (5, 11)
        expect = [expected_calibration_error(a, b, mode=mode) for a, b in zip(p, y)]
        np.testing.assert_allclose(np.abs(gaps).sum(axis=1), expect, atol=1e-12)
        np.testing.assert_allclose(ece_rows(p, y, mode=mode), expect, atol=1e-12)


def test_null_shapes_have_the_requested_ece() -> None:
    gaps = np.array([0.03, -0.01, 0.0, 0.002, 0.05])
    s = np.array([0.01, 0.02, 0.0, 0.004, 0.01])
    nearest, equal = nearest_shape(s, gaps), equal_se_shape(s, gaps)
    for theta in (0.0, 0.01, 0.04, np.abs(gaps).sum(), 0.5):
        assert np.abs(nearest(theta)).sum() == pytest.approx(theta, abs=1e-9)
        assert np.abs(equal(theta)).sum() == pytest.approx(theta, abs=1e-12)
    np.testing.assert_allclose(nearest(np.abs(gaps).sum()), gaps, atol=1e-9)  # the data is its own nearest shape
    np.testing.assert_allclose(equal(1.0), np.array([1, -2, 0, 0.4, 1]) / 4.4)  # proportional to s, observed sign
    shrunk = nearest(0.03)
    assert shrunk[1] == 0.0 and shrunk[3] == 0.0  # the bins nearest zero in s.e. units are zeroed first


@pytest.mark.parametrize("seed", range(10))
def test_interval_contains_the_plugin_estimate(seed: int) -> None:
    p, y = _draw(20 + 30 * seed, seed, 1.0 + 0.1 * seed)
    res = _interval(p, y, 300, seed)
    assert res.method == "ece-inversion"
    assert 0.0 <= res.low <= res.estimate <= res.high
    assert res.estimate == pytest.approx(expected_calibration_error(p, y))
    for entry in (summarize(p, y, True, bootstrap=200, seed=seed)["ece"],
                  recalibrated_summary(p, y, True, bootstrap=200, seed=seed)["ece"]):
        assert 0.0 <= entry["low"] <= entry["estimate"] <= entry["high"]


def test_honest_near_zero_where_bca_is_not() -> None:
    """Calibrated data (true ECE 0): the plug-in is all bias. BCa's lower bound sits above 0; the inversion's reaches it."""
    bca_zero, inv_zero = [], []
    for seed in range(30):
        p, y = _draw(300, seed, 1.0)
        bca_zero.append(bootstrap_ci(expected_calibration_error, p, y, n_resamples=300, rows_fn=ece_rows).low == 0.0)
        inv_zero.append(_interval(p, y, 300, seed).low == 0.0)
    assert sum(bca_zero) == 0 and sum(inv_zero) >= 25  # 95% nominal: ~1.5 misses expected in 30


def test_clear_miscalibration_is_bounded_away_from_zero_around_the_truth() -> None:
    rng = np.random.default_rng(2)
    p = np.full(600, 0.9)
    y = rng.random(600) < 0.5  # one filled bin, true ECE 0.4
    res = _interval(p, y)
    assert 0.3 < res.low < 0.4 < res.high < 0.5


def test_no_sampling_noise_gives_a_point() -> None:
    gaps = np.array([0.0, 0.1, -0.05])
    low, high = inversion_bounds(gaps, np.tile(gaps, (50, 1)), 0.95)
    assert low == pytest.approx(0.15, abs=1e-9) and high == pytest.approx(0.15, abs=1e-9)


def _population_ece(power: float) -> float:
    pdf = stats.beta(4, 2).pdf
    return sum(abs(integrate.quad(lambda x: (x - x ** power) * pdf(x), k / 10, (k + 1) / 10)[0]) for k in range(10))


@pytest.mark.slow
def test_coverage_of_the_population_ece_is_near_nominal() -> None:
    """200 replications at n = 200 (bench/coverage.py runs 1,000 at three sizes): BCa covered ~87% here."""
    truth = _population_ece(1.5)
    covered = [(lambda r: r.low <= truth <= r.high)(_interval(*_draw(200, 1000 + rep, 1.5), 400, rep))
               for rep in range(200)]
    assert 0.90 <= np.mean(covered) <= 0.99  # +-3 Monte Carlo s.e. around 95% at 200 replications
