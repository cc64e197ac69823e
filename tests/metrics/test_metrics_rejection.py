"""PRR against a hand-computed case and a plain-loop reading of LM-Polygraph's published definition."""
from __future__ import annotations

import itertools

import numpy as np
import pytest

from calib_eval.metrics import UndefinedMetricWarning, prediction_rejection_area, prediction_rejection_ratio


def loop_area(uncertainty: list[float], quality: list[float]) -> float:
    """LM-Polygraph's rejection area, spelled out: keep the j least uncertain, average, then average over j."""
    order = sorted(range(len(quality)), key=lambda i: uncertainty[i])
    kept_means = [sum(quality[i] for i in order[:j]) / j for j in range(1, len(quality) + 1)]
    return sum(kept_means) / len(quality)


def loop_prr(score: list[float], quality: list[float]) -> float:
    """(area - random) / (oracle - random); random = mean over *all* orders (exact, no shuffling)."""
    area = loop_area([-s for s in score], quality)
    oracle = loop_area([-q for q in quality], quality)
    orders = list(itertools.permutations(range(len(quality))))
    random = sum(loop_area(list(o), quality) for o in orders) / len(orders)
    return (area - random) / (oracle - random)


def test_hand_computed_example() -> None:
    # scores rank the items B > A > C > D; qualities A=1, B=0, C=1, D=0
    score, correct = [0.8, 0.9, 0.5, 0.1], [1, 0, 1, 0]
    area = (0 / 1 + 1 / 2 + 2 / 3 + 2 / 4) / 4  # kept sets {B}, {B,A}, {B,A,C}, all
    oracle = (1 + 1 + 2 / 3 + 2 / 4) / 4
    random = 0.5
    assert prediction_rejection_area(score, correct) == pytest.approx(area)
    assert prediction_rejection_ratio(score, correct) == pytest.approx((area - random) / (oracle - random))


@pytest.mark.parametrize("seed", range(6))
@pytest.mark.parametrize("n", [2, 3, 5, 6])
def test_matches_loop_definition(seed: int, n: int) -> None:
    rng = np.random.default_rng([seed, n])
    s = rng.normal(size=n)  # distinct scores: no tie convention involved
    q = rng.random(n) if seed % 2 else (rng.random(n) < 0.5).astype(float)
    if np.ptp(q) == 0:
        q[0] = 1.0 - q[0]
    assert prediction_rejection_ratio(s, q) == pytest.approx(loop_prr(s.tolist(), q.tolist()), abs=1e-12)


@pytest.mark.parametrize("seed", range(3))
def test_ties_average_over_tie_orders(seed: int) -> None:
    rng = np.random.default_rng(seed)
    s, q = rng.integers(0, 3, size=6).astype(float), np.array([1, 0, 1, 0, 1, 1], dtype=float)
    areas = []
    for perm in itertools.permutations(range(6)):  # every tie-breaking order, equally likely
        jitter = np.empty(6)
        jitter[list(perm)] = np.arange(6) * 1e-3
        areas.append(loop_area((-(s + jitter)).tolist(), q.tolist()))
    assert prediction_rejection_area(s, q) == pytest.approx(np.mean(areas), abs=1e-12)


def test_oracle_random_and_reversed() -> None:
    y = np.array([1, 1, 0, 1, 0, 0, 1, 0], dtype=float)
    assert prediction_rejection_ratio(y + 0.01 * np.arange(8), y) == pytest.approx(1.0)
    assert prediction_rejection_ratio(np.zeros(8), y) == pytest.approx(0.0)  # constant score = random
    assert prediction_rejection_ratio(-y, y) == pytest.approx(-1.0)  # worst order, balanced classes
    # affine rescaling of quality (LM-Polygraph min-max normalises it) leaves PRR unchanged
    s = np.linspace(0, 1, 8)
    assert prediction_rejection_ratio(s, 3 * y + 2) == pytest.approx(prediction_rejection_ratio(s, y))


@pytest.mark.parametrize("quality", [[1, 1, 1], [0, 0, 0], [0.4]])
def test_one_class_and_n1_are_nan_with_warning(quality) -> None:
    with pytest.warns(UndefinedMetricWarning, match="same quality"):
        assert np.isnan(prediction_rejection_ratio(np.arange(len(quality), dtype=float), quality))


def test_bad_input() -> None:
    with pytest.raises(ValueError, match="lengths differ"):
        prediction_rejection_ratio([0.1, 0.2], [1])
    with pytest.raises(ValueError, match="NaN"):
        prediction_rejection_ratio([0.1, np.nan], [1, 0])
