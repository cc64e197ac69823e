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


def _graded(i: int, correct: bool):
    from calib_eval.training.graded_data import GradedExample

    return GradedExample(f"q{i}", "arc_challenge", "p", "a", [1], [2], correct, "a")


def test_sampled_rows_keep_only_questions_both_models_answered() -> None:
    rng = np.random.default_rng(0)
    n, n_bio = 60, 30
    before_rows = [_graded(i, i % 2 == 0) for i in range(n)]
    after_rows = [_graded(i, i % 3 == 0) for i in range(n)]
    b_ent, a_ent = rng.random(n), rng.random(n)
    a_ent[:5] = np.nan  # the tuned model gave five empty answers: those questions leave both sides
    b_bio, a_bio = rng.random(n_bio) + 1, rng.random(n_bio) + 2
    b_bio[0] = np.nan
    rows = quality.sampled_rows(((before_rows, [None] * n_bio), (b_ent, b_bio)),
                                ((after_rows, [None] * n_bio), (a_ent, a_bio)), "(ce_weight 0)", 0.3)
    assert [r[1].split()[0] for r in rows] == ["55", "55"]
    assert rows[1][1].endswith(f"vs {n_bio - 1} BioASQ questions")
    # BioASQ entropies are higher than every in-distribution one: -entropy separates them perfectly
    assert rows[1][2].startswith("1.000 -> 1.000")
    assert all(r[3] for r in rows)


def test_sampled_rows_with_one_class_make_no_verdict() -> None:
    rows_all_right = [_graded(i, True) for i in range(20)]
    ent = np.linspace(0, 1, 20)
    rows = quality.sampled_rows(((rows_all_right, []), (ent, np.array([]))),
                                ((rows_all_right, []), (ent, np.array([]))), "(ce_weight 0)", 0.3)
    assert rows[0][3] == "not tested"


def test_quality_sections_are_read_separately() -> None:
    text = ("<!-- quality:start -->\n| claim | items | measured | verdict | previous run |\n"
            "| UA-CLM: old | 10 | 0.5 | holds | - |\n<!-- quality:end -->\n"
            "<!-- quality-qwen:start -->\n| UA-CLM (ce_weight 1): new | 20 | 0.6 | reversed | - |\n"
            "| Kapoor: x | 20 | 0.7 | not run | - |\n<!-- quality-qwen:end -->\n")
    assert quality.carried_rows(text, {"ua-clm"}, "quality-qwen") == [["UA-CLM (ce_weight 1): new", "20", "0.6",
                                                                       "reversed"]]
    assert quality.carried_rows(text, {"ua-clm"}) == [["UA-CLM: old", "10", "0.5", "holds"]]
    assert quality.previous_rows(text, "quality-qwen")[("Kapoor: x", 0)] == "not run (0.7)"
    assert quality.previous_rows(text, "absent") == {}


def test_kapoor_rows_name_the_task_of_the_items(tmp_path: Path) -> None:
    import json

    rng = np.random.default_rng(1)
    y = rng.random(200) < 0.4
    lines = [{"id": f"q{i}", "task": "mmlu_mc_calib", "correct": bool(c),
              "scores": {"lora_prompt": float(np.clip(0.3 + 0.4 * c + rng.normal(0, 0.2), 0.01, 0.99)),
                         "zero_shot_classifier": float(rng.random()), "max_softmax": float(rng.random())}}
             for i, c in enumerate(y)]
    path = tmp_path / "items.jsonl"
    path.write_text("\n".join(json.dumps(r) for r in lines) + "\n")
    rows = quality.kapoor_mmlu(quality.joined_items([path])["mmlu_mc_calib"], tmp_path / "no-adapters")
    assert [r[0] for r in rows] == ["Kapoor: LoRA+Prompt AUROC > zero_shot_classifier (MMLU-MC, trained on other data)",
                                    "Kapoor: LoRA+Prompt AUROC > max_softmax (MMLU-MC, trained on other data)",
                                    "Kapoor: LoRA+Prompt ECE < zero-shot ECE (MMLU-MC)"]
    assert rows[0][1] == f"200 MMLU-MC test items, acc {y.mean():.2f}"
    assert rows[0][3] == "holds"  # an informative score against a random one


def _write_items(path: Path, rows: list[dict]) -> Path:
    import json

    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text("".join(json.dumps(r) + "\n" for r in rows))
    return path


def test_mmlu_items_of_one_task_are_joined_by_id(tmp_path: Path) -> None:
    base = _write_items(tmp_path / "base" / "items.jsonl", [
        {"id": f"q{i}", "task": "mmlu_oe_calib", "correct": i % 2 == 0, "scores": {"perplexity": i / 10}}
        for i in range(4)])
    adapted = _write_items(tmp_path / "adapted" / "items.jsonl", [
        {"id": f"q{i}", "task": "mmlu_oe_calib", "correct": i % 2 == 0, "scores": {"lora_prompt": 1 - i / 10}}
        for i in (3, 1, 2)])
    mc = _write_items(tmp_path / "mc" / "items.jsonl", [
        {"id": "q0", "task": "mmlu_mc_calib", "correct": True, "scores": {"max_softmax": 0.5}}])
    joined = quality.joined_items([base, adapted, mc])
    assert sorted(joined) == ["mmlu_mc_calib", "mmlu_oe_calib"]
    oe = {r["id"]: r["scores"] for r in joined["mmlu_oe_calib"]}
    assert oe == {"q1": {"perplexity": 0.1, "lora_prompt": 0.9}, "q2": {"perplexity": 0.2, "lora_prompt": 0.8},
                  "q3": {"perplexity": 0.3, "lora_prompt": 0.7}}  # q0 is not in the adapters' file


def test_mmlu_items_graded_differently_are_refused(tmp_path: Path) -> None:
    from calib_eval.errors import DataError

    row = {"id": "q0", "task": "mmlu_oe_calib", "scores": {"perplexity": 0.5}}
    one = _write_items(tmp_path / "a" / "items.jsonl", [{**row, "correct": True}])
    other = _write_items(tmp_path / "b" / "items.jsonl", [{**row, "correct": False}])
    with pytest.raises(DataError, match="graded"):
        quality.joined_items([one, other])
    with pytest.raises(DataError, match="no such file"):
        quality.joined_items([tmp_path / "missing.jsonl"])


def test_sampled_answers_regrade_each_new_answer(tiny_lm, data_root) -> None:
    from dataclasses import asdict

    from calib_eval.training.graded_data import GradedExample
    from calib_eval.types import Example

    model, tokenizer = tiny_lm
    rows = []
    for i in range(5):
        ex = Example(f"q{i}", "boolq", f"Is {i} even?", references=("yes" if i % 2 == 0 else "no",))
        ids = tokenizer(f"Question: Is {i} even?\nAnswer:")["input_ids"]
        rows.append(GradedExample(ex.id, "boolq", "p", "yes", ids, [5], True, "yes", "", asdict(ex)))
    first, entropy = quality.sampled_answers(model, tokenizer, rows, temperature=0.3, seed=0, max_new_tokens=4)
    again, _ = quality.sampled_answers(model, tokenizer, rows, temperature=0.3, seed=0, max_new_tokens=4)
    assert entropy.shape == (5,) and all((e >= 0) == bool(g.answer_ids) for e, g in zip(entropy, first))
    assert [g.id for g in first] == [g.id for g in rows]
    assert [g.answer_ids for g in first] == [g.answer_ids for g in again]  # seeded
    assert all(g.correct is False for g in first if g.answer.strip().lower() not in ("yes", "no"))
    assert all(g.answer == tokenizer.decode(g.answer_ids, skip_special_tokens=True) for g in first)


def test_trained_answers_view_reads_the_training_loads_caches(tiny_lm, tmp_path: Path) -> None:
    import json

    from calib_eval.models import LoadedModel

    model, tokenizer = tiny_lm
    loaded = LoadedModel(model, tokenizer, "tiny", "tiny", "cpu", "bfloat16")
    assert quality.trained_answers_view(loaded, tmp_path) is loaded  # no cards: nothing to pin
    (tmp_path / "ua-clm").mkdir()
    (tmp_path / "ua-clm" / "calib_card.json").write_text(json.dumps({"base_fingerprint": "trained-fp32"}))
    view = quality.trained_answers_view(loaded, tmp_path)
    assert view.fingerprint == "trained-fp32" and view.model is model and view.dtype == "bfloat16"
