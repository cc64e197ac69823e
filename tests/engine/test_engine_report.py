"""Raw scores get ECE from a Platt map cross-fitted on the other half, with stratified folds."""
import numpy as np
import pytest

from calib_eval import metrics
from calib_eval.metrics.recalibration import crossfit_recalibrate
from calib_eval.runner.report import scorer_metrics


@pytest.mark.parametrize("seed", range(20))
def test_crossfit_folds_hold_both_classes_when_each_class_has_two(seed):
    """3 right of 50 (SmolLM2 on MMLU-OE): a random split often left a fold all-wrong; a stratified one never."""
    rng = np.random.default_rng(seed)
    correct = np.zeros(50, dtype=bool)
    correct[rng.choice(50, size=3, replace=False)] = True
    scores = rng.normal(size=50) + correct
    probs = crossfit_recalibrate(scores, correct, False, seed=seed)
    assert probs is not None and probs.shape == (50,)
    assert np.all((probs > 0) & (probs < 1))


def test_crossfit_uses_only_the_other_fold():
    """Moving one item's score refits only its own fold's map, which maps the *other* fold: the rest of its
    own fold keeps its probabilities, the other half's change."""
    rng = np.random.default_rng(0)
    correct = rng.random(40) < 0.4
    scores = rng.normal(size=40) + correct
    base = crossfit_recalibrate(scores, correct, False, seed=0)
    moved_scores = scores.copy()
    moved_scores[0] += 5.0
    moved = crossfit_recalibrate(moved_scores, correct, False, seed=0)
    changed = ~np.isclose(base, moved, rtol=0, atol=1e-12)
    others = np.arange(1, 40)
    assert changed[0]  # its own score moved
    assert changed[others].sum() == 20  # the other fold: 40 items dealt into two folds of 20
    assert (~changed[others]).sum() == 19  # its own fold, minus itself


def test_single_right_answer_leaves_ece_unavailable_and_says_why():
    correct = np.zeros(50, dtype=bool)
    correct[7] = True
    assert crossfit_recalibrate(np.arange(50.0), correct, False) is None
    entry = scorer_metrics(np.arange(50.0), correct, is_probability=False, n_bins=10, bootstrap=0)
    assert entry["ece"] is None and entry["reliability"] is None
    assert entry["calibration"] == "unavailable (a class has < 2 items)"


def test_scorer_metrics_carry_extended_metrics_and_conformal_abstention() -> None:
    import numpy as np

    from calib_eval.metrics.extended import PROBABILITY_KEYS, RANKING_KEYS
    from calib_eval.runner.report import scorer_metrics

    rng = np.random.default_rng(0)
    p = rng.beta(8, 2, 300)
    y = rng.random(300) < p
    entry = scorer_metrics(p, y, True, n_bins=10, bootstrap=20, abstain_alpha=0.2, abstain_delta=0.1)
    for key in (*RANKING_KEYS, *PROBABILITY_KEYS):
        assert np.isfinite(entry[key]["estimate"]) and entry[key]["low"] <= entry[key]["high"], key
    rec = entry["conformal_abstention"]
    assert rec["alpha"] == 0.2 and rec["n_cal"] + rec["n_test"] == 300 and 0.0 <= rec["coverage"] <= 1.0
    raw = scorer_metrics(np.log(p), y, False, n_bins=10, bootstrap=0)
    assert raw["conformal_abstention"] is None and raw["nll"]["estimate"] > 0  # Platt cross-fit probabilities


def test_every_scorer_gets_the_same_recalibration_and_a_raw_ece_only_for_probabilities() -> None:
    rng = np.random.default_rng(1)
    p = rng.beta(4, 2, 120)
    y = rng.random(120) < p ** 2
    prob = scorer_metrics(p, y, True, n_bins=10, bootstrap=50)
    raw = scorer_metrics(np.log(p) - np.log1p(-p), y, False, n_bins=10, bootstrap=50)
    assert prob["ece_convention"] == raw["ece_convention"] == "p_correct"
    assert prob["recalibration"].startswith("platt, 2-fold cross-fit") and raw["recalibration"].startswith(
        "platt, 2-fold cross-fit")
    assert raw["ece_raw"] is None and raw["brier_raw"] is None and raw["reliability_raw"] is None
    assert prob["ece_raw"]["estimate"] == pytest.approx(metrics.expected_calibration_error(p, y))
    # Platt on logit(p) and Platt on the logit as a raw score are the same map: comparable numbers
    assert prob["ece"]["estimate"] == pytest.approx(raw["ece"]["estimate"], abs=1e-9)
    for entry in (prob["ece"], prob["ece_raw"], raw["ece"], prob["brier"]):
        assert entry["low"] <= entry["estimate"] <= entry["high"]
    assert sum(prob["reliability"]["count"]) == sum(prob["reliability_raw"]["count"]) == 120


def test_table_labels_both_ece_columns() -> None:
    from rich.console import Console

    from calib_eval.runner.report import render_table

    rng = np.random.default_rng(2)
    p = rng.beta(4, 2, 60)
    y = rng.random(60) < p
    payload = {"task": "t", "model": {"name": "m"}, "n": 60, "accuracy": {"estimate": 0.5, "low": None, "high": None},
               "scorers": {"p_true": scorer_metrics(p, y, True, n_bins=10, bootstrap=0)}}
    console = Console(width=200, record=True)
    console.print(render_table(payload))
    text = console.export_text()
    assert "ECE recal." in text and "ECE raw" in text and "rank on this" in text
