"""bench/quality.py verdicts come from intervals only; bench/coverage.py runs end to end (smoke, few reps)."""
from __future__ import annotations

import sys
from pathlib import Path
from types import SimpleNamespace

import numpy as np
import pytest

sys.path.insert(0, str(Path(__file__).resolve().parents[1] / "bench"))

quality = pytest.importorskip("quality")
import coverage  # noqa: E402  (bench/coverage.py)


def test_holds_only_when_the_ci_excludes_the_null_in_the_claimed_direction() -> None:
    ci = lambda low, high: SimpleNamespace(estimate=(low + high) / 2, low=low, high=high)  # noqa: E731
    assert quality.verdict(ci(0.01, 0.2)) == "holds"
    assert quality.verdict(ci(-0.2, -0.01)) == "reversed"
    assert quality.verdict(ci(-0.01, 0.2)).startswith("not shown")
    assert quality.verdict(ci(-0.2, -0.01), better="lower") == "holds"
    assert quality.verdict(ci(0.55, 0.7), null=0.5) == "holds"
    assert quality.verdict(ci(float("nan"), float("nan"))).startswith("not shown")


def test_ece_claim_without_a_paired_ci_is_not_a_verdict() -> None:
    card = {"ece": 0.05, "baselines": {"zero_shot_classifier": {"ece": 0.2}}}
    row = quality.ece_claim_row(card, "here")
    assert "holds" not in row[-1] and row[-1].startswith("not tested")
    card["baselines"]["zero_shot_classifier"]["ece_change"] = {"estimate": -0.1, "low": -0.15, "high": -0.04}
    assert quality.ece_claim_row(card, "here")[-1] == "holds"


def test_carried_point_estimate_verdicts_are_dropped() -> None:
    assert quality.carried_verdict("holds (point estimate)").startswith("not tested")
    for kept in ("holds", "reversed", "not shown (CI spans 0)", "not run"):
        assert quality.carried_verdict(kept) == kept


def test_paper_claims_use_top_label_ece() -> None:
    p = np.array([0.1, 0.2, 0.8, 0.9])
    y = np.array([False, False, True, True])
    assert quality.top_label_ece(p, y) == pytest.approx(0.15)  # top-label confidences 0.9, 0.8, 0.8, 0.9


def test_coverage_bench_runs(tmp_path: Path) -> None:
    rows = coverage.table(reps=2, resamples=30, seed=0, processes=1)
    assert len(rows) == len(coverage.SIZES) * (len(coverage.METRICS) + len(coverage.ECE_POPULATIONS))
    contains = coverage.HEADER.index("contains estimate")
    assert all(r[contains] == "100%" for r in rows)  # intervals contain their estimate, always
    assert {r[1] for r in rows if r[0] == "ECE"} == {"inversion"}  # the results files' ECE interval


def test_cached_answers_are_regraded_by_the_current_grader() -> None:
    from dataclasses import asdict

    from calib_eval.training.graded_data import GradedExample
    from calib_eval.types import Example

    ex = Example("q1", "bioasq", "Which vitamin?", references=("Vitamin A",))
    old = [GradedExample("q1", "bioasq", "p", "Vitamin B12", [1], [2], True, "Vitamin A", "", asdict(ex)),
           GradedExample("q2", "bioasq", "p", "Vitamin A.", [1], [2], True, "Vitamin A", "", asdict(ex))]
    rows, changed = quality.regrade(old)
    assert [g.correct for g in rows] == [False, True] and changed == 1  # "Vitamin B12" was accepted before


def test_ece_change_ci_is_bonferroni_of_the_ece_intervals() -> None:
    rng = np.random.default_rng(0)
    p = rng.beta(4, 2, 400)
    y = rng.random(400) < p
    worse = np.clip(p + 0.3, 0, 1)  # overconfident copy, same items
    res = quality.ece_change(p, worse, y)
    assert res.method == "ece-inversion-bonferroni" and res.low <= res.estimate <= res.high
    assert quality.verdict(res, better="lower") == "holds"
    same = quality.ece_change(p, p, y)
    assert same.low < 0 < same.high and same.low == pytest.approx(-same.high)
    assert quality.verdict(same, better="lower").startswith("not shown")


def test_previous_run_column_pairs_rows_by_claim_and_occurrence() -> None:
    text = ("<!-- quality:start -->\n| claim | items | measured | verdict |\n|---|---|---|---|\n"
            "| A | 10 x | 0.6 [0.5, 0.7] | holds |\n| A | 20 y | 0.5 [0.4, 0.6] | not shown (CI spans 0.5) |\n"
            "<!-- quality:end -->")
    before = quality.previous_rows(text)
    assert before[("A", 1)].startswith("not shown") and before[("A", 0)].startswith("holds")
    assert quality.row_keys([["A"], ["B"], ["A"]]) == [("A", 0), ("B", 0), ("A", 1)]
