"""RMS calibration error vs torchmetrics (norm="l2") and equal-mass ECE vs a plain loop."""
from __future__ import annotations

import numpy as np
import pytest
import torch
from torchmetrics.functional.classification import binary_calibration_error

from calib_eval.metrics import equal_mass_ece, expected_calibration_error, rms_calibration_error
from metric_cases import make_case

KINDS = ("random", "ties", "all_correct", "all_wrong", "extremes")  # of metric_cases.KINDS


def loop_equal_mass_ece(p: np.ndarray, y: np.ndarray, n_bins: int) -> float:
    """Equal-count bins from np.quantile edges, [e_k, e_k+1), last closed; item by item."""
    edges = np.quantile(p, np.linspace(0, 1, n_bins + 1))
    total = 0.0
    for k in range(n_bins):
        last = k == n_bins - 1
        members = [i for i in range(len(p))
                   if edges[k] <= p[i] and (p[i] < edges[k + 1] or (last and p[i] <= edges[k + 1]))]
        if members:
            gap = abs(np.mean(y[members].astype(float)) - np.mean(p[members]))
            total += len(members) / len(p) * gap
    return total


@pytest.mark.parametrize("kind", KINDS)
@pytest.mark.parametrize("n", [1, 2, 7, 100, 1000])
def test_rms_matches_torchmetrics_l2(kind: str, n: int) -> None:
    for seed in range(3):
        for n_bins in (2, 4, 8):  # torch.linspace edges are exact for these: no edge convention involved
            p, y = make_case(kind, n, seed)
            tm = binary_calibration_error(torch.tensor(p), torch.tensor(y.astype(np.int64)), n_bins=n_bins, norm="l2")
            assert rms_calibration_error(p, y, n_bins=n_bins) == pytest.approx(tm.item(), abs=1e-9), (seed, n_bins)


@pytest.mark.parametrize("kind", KINDS)
@pytest.mark.parametrize("n", [1, 2, 7, 100, 1000])
def test_equal_mass_ece_matches_loop(kind: str, n: int) -> None:
    for seed in range(3):
        for n_bins in (1, 3, 10, 15):
            p, y = make_case(kind, n, seed)
            assert equal_mass_ece(p, y, n_bins) == pytest.approx(loop_equal_mass_ece(p, y, n_bins), abs=1e-12)


def test_rms_bounds_ece_and_one_bin() -> None:
    rng = np.random.default_rng(4)
    p, y = rng.random(500), rng.random(500) < 0.5
    assert rms_calibration_error(p, y) >= expected_calibration_error(p, y) - 1e-12  # L2 mean >= L1 mean
    assert rms_calibration_error(p, y, n_bins=1) == pytest.approx(abs(p.mean() - y.mean()))
    assert equal_mass_ece(p, y, n_bins=1) == pytest.approx(abs(p.mean() - y.mean()))
