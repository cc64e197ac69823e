"""Platt and temperature maps: fitted on one split, they improve another."""
from __future__ import annotations

import numpy as np
import pytest
from sklearn.metrics import log_loss

from calib_eval.metrics import (
    PlattMap,
    TemperatureMap,
    apply_temperature,
    expected_calibration_error,
    fit_platt,
    fit_temperature,
)


def _split(n: int, seed: int) -> tuple[np.ndarray, np.ndarray]:
    """True P(correct) and sampled correctness."""
    rng = np.random.default_rng(seed)
    p = rng.uniform(0.02, 0.98, n)
    return p, rng.random(n) < p


def _logit(p: np.ndarray) -> np.ndarray:
    return np.log(p) - np.log1p(-p)


def test_temperature_fixes_miscalibrated_probabilities() -> None:
    p_fit, y_fit = _split(4000, 0)
    p_test, y_test = _split(4000, 1)
    reported_fit, reported_test = p_fit**3, p_test**3  # systematically underconfident about "correct"
    temp = fit_temperature(reported_fit, y_fit, is_probability=True)
    fixed = apply_temperature(reported_test, temp, is_probability=True)
    assert log_loss(y_test, fixed) < log_loss(y_test, reported_test)
    assert expected_calibration_error(fixed, y_test) < expected_calibration_error(reported_test, y_test)


def test_temperature_recovers_known_scale() -> None:
    p, y = _split(20000, 2)
    assert fit_temperature(_logit(p), y) == pytest.approx(1.0, abs=0.1)
    assert fit_temperature(3.0 * _logit(p), y) == pytest.approx(3.0, rel=0.1)
    assert TemperatureMap(2.0).apply(np.array([2.0]))[0] == pytest.approx(1 / (1 + np.exp(-1.0)))


def test_temperature_minimises_nll() -> None:
    p, y = _split(2000, 3)
    z = 2.0 * _logit(p)
    best = fit_temperature(z, y)
    nll = lambda t: log_loss(y, apply_temperature(z, t))  # noqa: E731
    assert nll(best) <= min(nll(best * 0.95), nll(best * 1.05))


def test_temperature_is_finite_on_degenerate_splits() -> None:
    assert fit_temperature([2.0, -1.0, 3.0], [1, 0, 1]) == pytest.approx(1e-3)  # separable: runs to T_MIN
    assert fit_temperature([0.0, 1.0], [1, 0], is_probability=True) > 0  # clipped 0/1 probabilities
    with pytest.raises(ValueError, match="temperature must be positive"):
        apply_temperature([0.5], 0.0)


def test_platt_maps_raw_scores_to_calibrated_probabilities() -> None:
    p_fit, y_fit = _split(4000, 4)
    p_test, y_test = _split(4000, 5)
    raw = lambda p: 0.5 * _logit(p) - 3.0  # noqa: E731 - e.g. a log-likelihood: ranks well, not a probability
    platt = fit_platt(raw(p_fit), y_fit)
    assert platt.a == pytest.approx(2.0, rel=0.15) and platt.b == pytest.approx(6.0, rel=0.15)
    fixed = platt.apply(raw(p_test))
    assert log_loss(y_test, fixed) == pytest.approx(log_loss(y_test, p_test), abs=0.01)
    assert expected_calibration_error(fixed, y_test) < 0.05


def test_platt_is_finite_on_degenerate_splits() -> None:
    separable = fit_platt([1.0, 2.0, 3.0, 4.0], [0, 0, 1, 1])
    assert np.isfinite([separable.a, separable.b]).all() and separable.a > 0
    one_class = fit_platt([0.3, 0.5, 0.9], [1, 1, 1])
    assert np.all(one_class.apply([0.3, 0.9]) > 0.5)
    constant = fit_platt([2.0, 2.0, 2.0, 2.0], [1, 0, 1, 1])
    assert constant.a == pytest.approx(0.0, abs=1e-6)
    assert constant.apply([2.0])[0] == pytest.approx((3 * 4 / 5 + 1 / 3) / 4)  # mean Platt target: 4/5 and 1/3


def test_platt_map_is_plain_data() -> None:
    m = PlattMap(a=1.0, b=0.0)
    assert m == PlattMap(1.0, 0.0)
    np.testing.assert_allclose(m.apply([0.0, 50.0, -800.0]), [0.5, 1.0, 0.0])
