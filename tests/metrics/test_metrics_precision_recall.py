"""AUPRC (average precision) vs sklearn.metrics.average_precision_score, both positive classes."""
from __future__ import annotations

import warnings

import numpy as np
import pytest
from sklearn.metrics import average_precision_score

from calib_eval.metrics import UndefinedMetricWarning, average_precision
from metric_cases import make_case

KINDS = ("random", "ties", "all_correct", "all_wrong", "extremes")  # of metric_cases.KINDS


def sklearn_ap(score: np.ndarray, correct: np.ndarray, positive: str) -> float:
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        if positive == "error":
            return float(average_precision_score(~correct, -score))
        return float(average_precision_score(correct, score))


@pytest.mark.parametrize("positive", ["error", "correct"])
@pytest.mark.parametrize("kind", KINDS)
@pytest.mark.parametrize("n", [1, 2, 7, 100, 1000])
def test_matches_sklearn(kind: str, n: int, positive: str) -> None:
    for seed in range(3):
        s, y = make_case(kind, n, seed)
        has_positive = (~y).any() if positive == "error" else y.any()
        if not has_positive:
            with pytest.warns(UndefinedMetricWarning, match="AUPRC undefined"):
                assert np.isnan(average_precision(s, y, positive))
            continue
        assert average_precision(s, y, positive) == pytest.approx(sklearn_ap(s, y, positive), abs=1e-12), seed
        raw = 30.0 * np.log(s + 1e-3) - 4.0  # any real scores, same order, ties kept
        assert average_precision(raw, y, positive) == pytest.approx(sklearn_ap(raw, y, positive), abs=1e-12)


def test_hand_example_and_direction() -> None:
    s, y = np.array([0.9, 0.8, 0.3, 0.2]), np.array([1, 0, 1, 0], dtype=bool)
    # errors ranked by -s: 0.2 (err), 0.3 (ok), 0.8 (err), 0.9 (ok) -> AP = (1 + 2/3) / 2
    assert average_precision(s, y, "error") == pytest.approx((1 + 2 / 3) / 2)
    assert average_precision(s, y, "correct") == pytest.approx((1 + 2 / 3) / 2)
    assert average_precision([0.1, 0.9], [0, 1], "error") == 1.0
    assert average_precision(np.zeros(10), np.arange(10) < 3, "correct") == pytest.approx(0.3)  # one tie = base rate


def test_bad_positive_name() -> None:
    with pytest.raises(ValueError, match="positive must be one of"):
        average_precision([0.1], [1], "errors")
