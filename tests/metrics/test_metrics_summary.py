"""summarize(): one leaderboard row per scorer."""
from __future__ import annotations

import numpy as np
import pytest

import calib_eval.metrics as metrics
from calib_eval.metrics import aurc, brier_score, expected_calibration_error, fit_platt, roc_auc, summarize


def _data(n: int = 300) -> tuple[np.ndarray, np.ndarray]:
    rng = np.random.default_rng(0)
    p = rng.random(n)
    return p, rng.random(n) < p


def test_probabilities_get_every_metric() -> None:
    p, y = _data()
    out = summarize(p, y, is_probability=True, bootstrap=200)
    assert out["n"] == 300 and out["probability_source"] == "input"
    assert out["accuracy"]["estimate"] == pytest.approx(y.mean())
    assert out["ece"]["estimate"] == expected_calibration_error(p, y)
    assert out["brier"]["estimate"] == brier_score(p, y)
    assert out["auroc"]["estimate"] == roc_auc(p, y)
    assert out["aurc"]["estimate"] == aurc(p, y)
    for key in ("accuracy", "ece", "brier", "auroc", "aurc"):
        entry = out[key]
        assert entry["low"] <= entry["estimate"] <= entry["high"] and entry["n_valid"] == 200


def test_raw_scores_have_no_ece_without_a_map() -> None:
    p, y = _data()
    score = 10 * np.log(p)
    out = summarize(score, y, is_probability=False, bootstrap=0)
    assert out["ece"] is None and out["brier"] is None and out["probability_source"] is None
    assert out["auroc"] == {"estimate": roc_auc(p, y), "low": None, "high": None, "n_valid": 0}
    with pytest.raises(ValueError, match=r"confidence_or_score must be probabilities in \[0, 1\]"):
        summarize(score, y, is_probability=True, bootstrap=0)


def test_raw_scores_with_a_calibration_map() -> None:
    p, y = _data()
    score = 10 * np.log(p)
    platt = fit_platt(score[:150], y[:150])
    out = summarize(score[150:], y[150:], is_probability=False, bootstrap=0, calibration_map=platt)
    assert out["probability_source"] == "calibration_map"
    assert out["ece"]["estimate"] == expected_calibration_error(platt.apply(score[150:]), y[150:])


def test_public_api_is_exported() -> None:
    for name in metrics.__all__:
        assert hasattr(metrics, name), name
