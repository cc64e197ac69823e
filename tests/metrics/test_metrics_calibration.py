"""Binning conventions of the reliability curve and ECE."""
from __future__ import annotations

import numpy as np
import pytest

from calib_eval.metrics import ece_from_curve, expected_calibration_error, reliability_curve


def test_uniform_curve_layout_and_point_bin_for_one() -> None:
    p = np.array([0.0, 0.05, 0.1, 0.95, 1.0, 1.0])
    y = np.array([0, 0, 1, 1, 1, 0])
    curve = reliability_curve(p, y, n_bins=10)
    assert len(curve.bin_edges) == 11 and len(curve.count) == 11
    assert curve.count.tolist() == [2, 1, 0, 0, 0, 0, 0, 0, 0, 1, 2]
    assert curve.bin_lower[-1] == curve.bin_upper[-1] == 1.0  # confidences of exactly 1.0
    assert curve.mean_confidence[-1] == 1.0 and curve.accuracy[-1] == 0.5
    assert np.isnan(curve.mean_confidence[2]) and np.isnan(curve.accuracy[2])


@pytest.mark.parametrize("k", range(11))
def test_decimal_edges_open_their_own_bin(k: int) -> None:
    """k/10 as written (e.g. 0.3, a verbalised "30%") lands in bin k, never k-1."""
    p = np.array([float(f"0.{k}") if k < 10 else 1.0])
    assert reliability_curve(p, [1], n_bins=10).count[k] == 1


def test_ece_is_computed_from_the_curve() -> None:
    rng = np.random.default_rng(3)
    p, y = rng.random(300), rng.random(300) < 0.5
    for strategy in ("uniform", "quantile"):
        for mode in ("p_correct", "top_label"):
            curve = reliability_curve(p, y, 7, strategy=strategy, mode=mode)
            assert ece_from_curve(curve) == expected_calibration_error(p, y, 7, strategy, mode)
            assert curve.n == 300 and curve.strategy == strategy and curve.mode == mode


def test_perfectly_calibrated_bins_give_zero() -> None:
    p = np.array([0.25] * 4 + [0.75] * 4)
    y = np.array([1, 0, 0, 0, 1, 1, 1, 0])
    assert expected_calibration_error(p, y, n_bins=4) == pytest.approx(0.0, abs=1e-15)


def test_single_item() -> None:
    assert expected_calibration_error([0.8], [True]) == pytest.approx(0.2)
    assert expected_calibration_error([0.8], [True], mode="top_label") == pytest.approx(0.2)
    assert expected_calibration_error([0.2], [True], mode="top_label") == pytest.approx(0.8)


def test_top_label_folds_low_confidence_into_upper_half() -> None:
    """p=0.1 and wrong: predicted "wrong" with confidence 0.9, and that prediction is right."""
    curve = reliability_curve([0.1], [0], n_bins=10, mode="top_label")
    assert curve.count[9] == 1 and curve.accuracy[9] == 1.0
    assert curve.mean_confidence[9] == pytest.approx(0.9)


def test_top_label_half_counts_as_predicting_correct() -> None:
    assert reliability_curve([0.5], [1], n_bins=2, mode="top_label").accuracy[1] == 1.0
    assert reliability_curve([0.5], [0], n_bins=2, mode="top_label").accuracy[1] == 0.0


def test_quantile_bins_have_equal_counts_without_ties() -> None:
    p = np.random.default_rng(0).random(1000)
    curve = reliability_curve(p, p > 0.5, n_bins=10, strategy="quantile")
    assert curve.count.tolist() == [100] * 10
    assert len(curve.count) == 10 and curve.bin_edges[0] == p.min() and curve.bin_edges[-1] == p.max()


def test_quantile_ties_share_a_bin() -> None:
    p = np.array([0.7] * 9 + [0.9])
    curve = reliability_curve(p, [1] * 10, n_bins=4, strategy="quantile")
    # every quantile edge but the last is 0.7, so all items share the closed last bin
    assert curve.count.tolist() == [0, 0, 0, 10]


def test_input_order_does_not_matter() -> None:
    rng = np.random.default_rng(5)
    p, y = np.round(rng.random(200), 1), rng.random(200) < 0.4
    perm = rng.permutation(200)
    for strategy in ("uniform", "quantile"):
        assert expected_calibration_error(p, y, strategy=strategy) == pytest.approx(
            expected_calibration_error(p[perm], y[perm], strategy=strategy), abs=1e-12
        )
