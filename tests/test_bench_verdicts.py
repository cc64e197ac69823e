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
    assert len(rows) == len(coverage.SIZES) * len(coverage.METRICS)
    assert all(r[-2] == "100%" for r in rows)  # intervals contain their estimate, always
