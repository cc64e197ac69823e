"""BCa bootstrap and paired differences."""
from __future__ import annotations

import warnings

import numpy as np
import pytest

from calib_eval.metrics import (
    BootstrapResult,
    accuracy,
    aurc,
    bootstrap_ci,
    brier_score,
    expected_calibration_error,
    paired_bootstrap_diff,
    roc_auc,
)


def _data(n: int = 400, seed: int = 0) -> tuple[np.ndarray, np.ndarray]:
    rng = np.random.default_rng(seed)
    p = rng.random(n)
    return p, rng.random(n) < p


@pytest.mark.parametrize("fn", [brier_score, roc_auc, aurc, expected_calibration_error])
def test_ci_contains_estimate(fn) -> None:
    p, y = _data()
    res = bootstrap_ci(fn, p, y, n_resamples=300)
    assert res.low <= res.estimate <= res.high
    assert res.estimate == fn(p, y)
    assert res.n_resamples == res.n_valid == 300 and res.confidence_level == 0.95


def test_single_array_metric() -> None:
    _, y = _data()
    res = bootstrap_ci(accuracy, y, n_resamples=300)
    assert res.low < y.mean() < res.high and 0.0 < res.high - res.low < 0.2


def test_deterministic_for_a_seed() -> None:
    p, y = _data()
    a = bootstrap_ci(roc_auc, p, y, n_resamples=200, seed=7)
    assert a == bootstrap_ci(roc_auc, p, y, n_resamples=200, seed=7)
    assert a != bootstrap_ci(roc_auc, p, y, n_resamples=200, seed=8)


def test_wider_level_gives_wider_interval() -> None:
    p, y = _data()
    narrow = bootstrap_ci(brier_score, p, y, n_resamples=300, confidence_level=0.5)
    wide = bootstrap_ci(brier_score, p, y, n_resamples=300, confidence_level=0.99)
    assert wide.low < narrow.low and narrow.high < wide.high


def test_undefined_resamples_are_dropped_silently() -> None:
    p = np.array([0.9, 0.1, 0.2, 0.3, 0.4, 0.5])
    y = np.array([1, 0, 0, 0, 0, 0], dtype=bool)  # resamples often miss the only positive
    with warnings.catch_warnings():
        warnings.simplefilter("error")  # any warning from resampling would fail the test
        res = bootstrap_ci(roc_auc, p, y, n_resamples=200)
    assert 0 < res.n_valid < 200 and res.estimate == 1.0
    assert res.low == res.high == 1.0


def test_all_undefined_gives_nan_interval() -> None:
    with pytest.warns(UserWarning, match="AUROC undefined"):  # once, for the estimate
        res = bootstrap_ci(roc_auc, [0.2, 0.4], [1, 1], n_resamples=50)
    assert np.isnan(res.estimate) and np.isnan(res.low) and np.isnan(res.high) and res.n_valid == 0


def test_paired_diff_of_identical_scorers_is_zero() -> None:
    p, y = _data()
    res = paired_bootstrap_diff(roc_auc, p, p.copy(), y, n_resamples=200)
    assert (res.estimate, res.low, res.high) == (0.0, 0.0, 0.0)


def test_paired_diff_detects_a_better_scorer() -> None:
    p, y = _data(n=500)
    noise = np.random.default_rng(1).random(500)
    res = paired_bootstrap_diff(roc_auc, p, noise, y, n_resamples=300)
    assert res.low > 0 and res.estimate == pytest.approx(roc_auc(p, y) - roc_auc(noise, y))
    worse = paired_bootstrap_diff(brier_score, noise, p, y, n_resamples=300)
    assert worse.low > 0  # Brier: positive difference means the first scorer is worse


def test_paired_diff_is_tighter_than_separate_cis() -> None:
    p, y = _data(n=500)
    q = np.clip(p + np.random.default_rng(2).normal(0, 0.05, 500), 0, 1)
    diff = paired_bootstrap_diff(roc_auc, p, q, y, n_resamples=300)
    single = bootstrap_ci(roc_auc, p, y, n_resamples=300)
    assert diff.high - diff.low < (single.high - single.low) / 2


def test_result_as_dict() -> None:
    res = BootstrapResult(0.5, 0.4, 0.6, 10, 9)
    assert res.as_dict() == {
        "estimate": 0.5, "low": 0.4, "high": 0.6, "n_resamples": 10, "n_valid": 9, "confidence_level": 0.95,
        "method": "bca", "widened": False,
    }
