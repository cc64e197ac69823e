"""Bad input is refused up front with a message that names the problem."""
from __future__ import annotations

import warnings

import numpy as np
import pytest

from calib_eval.metrics import (
    UndefinedMetricWarning,
    accuracy,
    aurc,
    bootstrap_ci,
    brier_score,
    expected_calibration_error,
    fit_platt,
    fit_temperature,
    reliability_curve,
    roc_auc,
    selective_accuracy,
)

PROB_FNS = [expected_calibration_error, brier_score, reliability_curve]
SCORE_FNS = [roc_auc, aurc, selective_accuracy, fit_platt, fit_temperature]
ALL_FNS = PROB_FNS + SCORE_FNS


@pytest.mark.parametrize("fn", ALL_FNS)
def test_length_mismatch(fn) -> None:
    with pytest.raises(ValueError, match=r"lengths differ: .* has 3, correct has 2"):
        fn([0.1, 0.2, 0.3], [1, 0])


@pytest.mark.parametrize("fn", ALL_FNS)
def test_empty(fn) -> None:
    with pytest.raises(ValueError, match="Empty input"):
        fn([], [])


@pytest.mark.parametrize("fn", ALL_FNS)
def test_nan_in_confidence_or_score(fn) -> None:
    with pytest.raises(ValueError, match=r"contains NaN at 1 position\(s\), first at index 1"):
        fn([0.1, np.nan], [1, 0])


@pytest.mark.parametrize("fn", ALL_FNS)
def test_nan_in_correct(fn) -> None:
    with pytest.raises(ValueError, match="correct contains NaN"):
        fn([0.1, 0.2], [1.0, np.nan])


@pytest.mark.parametrize("fn", ALL_FNS)
@pytest.mark.parametrize("labels", [[0, 2], [0.0, 0.5], [-1, 1]])
def test_non_binary_labels(fn, labels) -> None:
    with pytest.raises(ValueError, match=r"correct must be binary \(bool or 0/1\); found non-binary values"):
        fn([0.1, 0.2], labels)


@pytest.mark.parametrize("fn", PROB_FNS)
@pytest.mark.parametrize("bad", [-0.01, 1.01, 7.0])
def test_confidence_outside_unit_interval(fn, bad) -> None:
    with pytest.raises(ValueError, match=r"confidence must be probabilities in \[0, 1\]; 1 value\(s\) outside"):
        fn([0.5, bad], [1, 0])


@pytest.mark.parametrize("fn", [roc_auc, aurc, selective_accuracy, fit_platt])
def test_scores_may_be_any_real_but_not_inf(fn) -> None:
    fn([-30.0, 12.5], [1, 0])  # fine
    with pytest.raises(ValueError, match="score contains inf"):
        fn([-np.inf, 1.0], [1, 0])


def test_two_dimensional_and_non_numeric_input() -> None:
    with pytest.raises(ValueError, match=r"confidence must be 1-D, got an array of shape \(2, 1\)"):
        brier_score([[0.1], [0.2]], [1, 0])
    with pytest.raises(ValueError, match="correct must be numeric"):
        brier_score([0.1, 0.2], ["yes", "no"])


def test_labels_accept_bool_int_and_float() -> None:
    p = [0.2, 0.9]
    assert brier_score(p, [False, True]) == brier_score(p, [0, 1]) == brier_score(p, np.array([0.0, 1.0]))


@pytest.mark.parametrize("kwargs,match", [
    ({"n_bins": 0}, "n_bins must be a positive integer"),
    ({"n_bins": 2.5}, "n_bins must be a positive integer"),
    ({"strategy": "equal"}, "strategy must be one of 'uniform', 'quantile'; got 'equal'"),
    ({"mode": "toplabel"}, "mode must be one of 'p_correct', 'top_label'; got 'toplabel'"),
])
def test_bad_ece_arguments(kwargs, match) -> None:
    with pytest.raises(ValueError, match=match):
        expected_calibration_error([0.5], [1], **kwargs)


@pytest.mark.parametrize("coverage", [0.0, -0.1, 1.5])
def test_bad_coverage(coverage) -> None:
    with pytest.raises(ValueError, match=r"coverage must be in \(0, 1\]"):
        selective_accuracy([0.5], [1], coverage=coverage)


def test_accuracy_validates() -> None:
    assert accuracy([1, 0, 1, 1]) == 0.75
    with pytest.raises(ValueError, match="Empty input"):
        accuracy([])


@pytest.mark.parametrize("n,which", [(5, "correct"), (1, "correct"), (3, "wrong")])
def test_one_class_auroc_is_nan_with_reason(n: int, which: str) -> None:
    y = np.ones(n) if which == "correct" else np.zeros(n)
    with pytest.warns(UserWarning, match=rf"AUROC undefined: all {n} items are {which} \(one class\)"):
        assert np.isnan(roc_auc(np.linspace(0, 1, n), y))


def test_one_class_warning_is_filterable_by_its_own_category() -> None:
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        warnings.simplefilter("ignore", UndefinedMetricWarning)
        assert np.isnan(roc_auc([0.3], [1]))


@pytest.mark.parametrize("kwargs,match", [
    ({"n_resamples": 0}, "n_resamples must be a positive integer"),
    ({"confidence_level": 1.0}, r"confidence_level must be in \(0, 1\)"),
])
def test_bad_bootstrap_settings(kwargs, match) -> None:
    with pytest.raises(ValueError, match=match):
        bootstrap_ci(brier_score, [0.5], [1], **kwargs)


def test_bootstrap_refuses_mismatched_arrays() -> None:
    with pytest.raises(ValueError, match="lengths differ"):
        bootstrap_ci(brier_score, [0.5, 0.2], [1])
