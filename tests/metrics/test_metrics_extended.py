"""extended_summary: every key present, estimates equal the metric functions, intervals bracket them."""
from __future__ import annotations

import warnings

import numpy as np
import pytest

from calib_eval.metrics import (
    average_precision,
    equal_mass_ece,
    log_loss,
    prediction_rejection_ratio,
    rms_calibration_error,
    selective_accuracy,
    smooth_ece,
)
from calib_eval.metrics.extended import PROBABILITY_KEYS, RANKING_KEYS, extended_summary


def test_estimates_match_functions_and_cis_bracket() -> None:
    rng = np.random.default_rng(0)
    p = rng.random(120)
    y = rng.random(120) < p
    out = extended_summary(p, y, p, n_bins=5, bootstrap=50)
    expected = {
        "prr": prediction_rejection_ratio(p, y), "auprc_err": average_precision(p, y, "error"),
        "auprc_correct": average_precision(p, y, "correct"), "sel_acc_50": selective_accuracy(p, y, 0.5),
        "sel_acc_80": selective_accuracy(p, y, 0.8), "sel_acc_90": selective_accuracy(p, y, 0.9),
        "nll": log_loss(p, y), "ece_em": equal_mass_ece(p, y, 5), "rms_ce": rms_calibration_error(p, y, 5),
        "smece": smooth_ece(p, y),
    }
    assert set(out) == set(RANKING_KEYS) | set(PROBABILITY_KEYS) == set(expected)
    for key, value in expected.items():
        assert out[key]["estimate"] == pytest.approx(value), key
        assert out[key]["low"] <= out[key]["high"], key
        assert out[key]["n_valid"] == 50, key


def test_raw_scores_without_probabilities_and_one_class() -> None:
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        out = extended_summary([3.0, -1.0, 2.0], [1, 1, 1], None, bootstrap=0)
    assert all(out[k] is None for k in PROBABILITY_KEYS)
    assert np.isnan(out["prr"]["estimate"]) and np.isnan(out["auprc_err"]["estimate"])
    assert out["auprc_correct"]["estimate"] == 1.0 and out["sel_acc_50"]["low"] is None
