"""Agreement with independent references over a parametrised grid of inputs.

ECE (p_correct, uniform) vs torchmetrics, AUROC vs sklearn, Brier vs sklearn,
and top-label / quantile ECE vs plain-Python loop implementations.
"""
from __future__ import annotations

import numpy as np
import pytest
import torch
from sklearn.metrics import brier_score_loss as sk_brier
from sklearn.metrics import roc_auc_score
from torchmetrics.functional.classification import binary_calibration_error, multiclass_calibration_error
from torchmetrics.functional.classification.calibration_error import _ce_compute

from calib_eval.metrics import brier_score, expected_calibration_error, reliability_curve, roc_auc
from metric_cases import KINDS, make_case

SEEDS = (0, 1, 2)
SIZES = (1, 2, 7, 100, 1000)
N_BINS = (1, 5, 10, 15, 20)
TOL = 1e-9


def torchmetrics_ece(p: np.ndarray, y: np.ndarray, n_bins: int) -> float:
    """torchmetrics binary ECE in float64.

    torch.linspace can be one ulp off k/n (3/10 -> 0.30000000000000004); for
    inputs sitting exactly on such an edge we run torchmetrics' own binning
    with the exact k/n edges, which is our documented convention.
    """
    pt, yt = torch.tensor(p, dtype=torch.float64), torch.tensor(y.astype(np.int64))
    exact = torch.arange(n_bins + 1, dtype=torch.float64) / n_bins
    off = exact[exact != torch.linspace(0, 1, n_bins + 1, dtype=torch.float64)].numpy()
    if not np.isin(p, off).any():
        return binary_calibration_error(pt, yt, n_bins=n_bins, norm="l1").item()
    return _ce_compute(pt, yt.to(torch.float64), exact, norm="l1").item()


def loop_top_label_ece(p: np.ndarray, y: np.ndarray, n_bins: int) -> float:
    """Top-label ECE spelled out item by item."""
    conf = [max(pi, 1.0 - pi) for pi in p]
    hit = [float((pi >= 0.5) == yi) for pi, yi in zip(p, y)]
    bins = [(k / n_bins, (k + 1) / n_bins) for k in range(n_bins)]
    members = [[i for i, c in enumerate(conf) if lo <= c < hi] for lo, hi in bins]
    members.append([i for i, c in enumerate(conf) if c == 1.0])
    total = 0.0
    for m in members:
        if m:
            total += len(m) / len(p) * abs(sum(hit[i] for i in m) / len(m) - sum(conf[i] for i in m) / len(m))
    return total


def loop_quantile_ece(p: np.ndarray, y: np.ndarray, n_bins: int) -> float:
    """Equal-count bins: [e_k, e_k+1), last bin closed, edges from np.quantile."""
    edges = np.quantile(p, np.linspace(0, 1, n_bins + 1))
    total = 0.0
    for k in range(n_bins):
        last = k == n_bins - 1
        m = [i for i, c in enumerate(p) if edges[k] <= c and (c < edges[k + 1] or (last and c <= edges[k + 1]))]
        if m:
            acc = sum(float(y[i]) for i in m) / len(m)
            total += len(m) / len(p) * abs(acc - sum(p[i] for i in m) / len(m))
    return total


GRID = [(k, n) for k in KINDS for n in SIZES]  # seeds and bin counts loop inside: fewer, fuller tests


def cases(kind: str, n: int, bin_counts=(10,)):
    """(label, confidence, correct, n_bins) for every seed and bin count of one grid cell."""
    for seed in SEEDS:
        for n_bins in bin_counts:
            p, y = make_case(kind, n, seed, n_bins)
            yield f"seed={seed} n_bins={n_bins}", p, y, n_bins


@pytest.mark.parametrize("kind,n", GRID)
def test_ece_matches_torchmetrics(kind: str, n: int) -> None:
    for label, p, y, n_bins in cases(kind, n, N_BINS):
        ours = expected_calibration_error(p, y, n_bins=n_bins)
        assert ours == pytest.approx(torchmetrics_ece(p, y, n_bins), abs=TOL), label


@pytest.mark.parametrize("kind,n", GRID)
def test_ece_public_torchmetrics_on_exact_edges(kind: str, n: int) -> None:
    """n_bins whose torch.linspace edges are exact: the public torchmetrics call, no fallback."""
    for label, p, y, n_bins in cases(kind, n, (2, 4, 8)):
        tm = binary_calibration_error(torch.tensor(p), torch.tensor(y.astype(np.int64)), n_bins=n_bins).item()
        assert expected_calibration_error(p, y, n_bins=n_bins) == pytest.approx(tm, abs=TOL), label


@pytest.mark.parametrize("kind,n", GRID)
def test_top_label_ece_matches_loop(kind: str, n: int) -> None:
    for label, p, y, n_bins in cases(kind, n, (1, 10, 15)):
        ours = expected_calibration_error(p, y, n_bins=n_bins, mode="top_label")
        assert ours == pytest.approx(loop_top_label_ece(p, y, n_bins), abs=TOL), label


@pytest.mark.parametrize("kind,n", [(k, n) for k, n in GRID if k in ("random", "all_correct", "all_wrong")])
def test_top_label_ece_matches_torchmetrics_multiclass(kind: str, n: int) -> None:
    """Two-class torchmetrics ECE on [1-p, p] is top-label ECE (argmax ties at 0.5 differ, so avoided).

    torchmetrics' multiclass path casts confidences to float32, hence the looser tolerance.
    """
    for label, p, y, _ in cases(kind, n):
        probs = torch.tensor(np.stack([1.0 - p, p], axis=1))
        tm = multiclass_calibration_error(probs, torch.tensor(y.astype(np.int64)), num_classes=2, n_bins=8).item()
        assert expected_calibration_error(p, y, n_bins=8, mode="top_label") == pytest.approx(tm, abs=1e-6), label


@pytest.mark.parametrize("kind,n", GRID)
def test_quantile_ece_matches_loop(kind: str, n: int) -> None:
    for label, p, y, n_bins in cases(kind, n, (1, 3, 10)):
        ours = expected_calibration_error(p, y, n_bins=n_bins, strategy="quantile")
        assert ours == pytest.approx(loop_quantile_ece(p, y, n_bins), abs=TOL), label
        assert reliability_curve(p, y, n_bins, strategy="quantile").count.sum() == n


@pytest.mark.parametrize("kind,n", GRID)
def test_brier_matches_sklearn(kind: str, n: int) -> None:
    for label, p, y, _ in cases(kind, n):
        assert brier_score(p, y) == pytest.approx(sk_brier(y, p), abs=TOL), label


@pytest.mark.parametrize("kind,n", [(k, n) for k, n in GRID if k not in ("all_correct", "all_wrong") and n > 1])
def test_roc_auc_matches_sklearn(kind: str, n: int) -> None:
    compared = 0
    for label, p, y, _ in cases(kind, n):
        if y.all() or not y.any():
            continue  # one class: covered by the NaN tests
        compared += 1
        assert roc_auc(p, y) == pytest.approx(roc_auc_score(y, p), abs=TOL), label
        scores = 50.0 * np.log(p + 1e-3) - 7.0  # any real scores, same order; ties stay ties
        assert roc_auc(scores, y) == pytest.approx(roc_auc_score(y, scores), abs=TOL), label
    assert compared or n <= 2


@pytest.mark.parametrize("seed", SEEDS)
def test_roc_auc_heavy_ties_matches_sklearn(seed: int) -> None:
    rng = np.random.default_rng(seed)
    s = rng.integers(0, 3, size=500).astype(float)  # only three distinct scores
    y = rng.random(500) < 0.3 + 0.2 * s
    assert roc_auc(s, y) == pytest.approx(roc_auc_score(y, s), abs=TOL)
