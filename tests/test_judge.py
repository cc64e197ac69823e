"""The optional LLM judge: verdict parsing, agreement statistics, and `run --judge` on a tiny model."""
from __future__ import annotations

import json
import random

import pytest

from calib_eval.judge import (JUDGE_PROMPT, JudgeItem, agreement, cohen_kappa, judge_answers, judge_prompt,
                              parse_verdict)


@pytest.mark.parametrize("text, verdict", [
    (" Yes", True), ("No.", False), ("yes, it is", True), (" Correct", True), ("Incorrect", False),
    ("I think no", False), ("Maybe", None), ("", None), ("Yesterday", None),
])
def test_parse_verdict(text: str, verdict: bool | None) -> None:
    assert parse_verdict(text) is verdict


def test_judge_prompt_names_every_reference() -> None:
    text = judge_prompt(JudgeItem("Capital of France?", ("Paris", "City of Light"), " Paris\n"))
    assert "Reference answer: Paris / City of Light" in text and "Student's answer: Paris\n" in text
    assert "no known answer" in judge_prompt(JudgeItem("Will it rain in 2090?", (), "Unknown"))
    assert text.endswith("Reply:") and JUDGE_PROMPT.endswith("Reply:")


def _kappa_by_table(a: list[bool], b: list[bool]) -> float:
    """Cohen's kappa from the 2x2 contingency table, as textbooks define it."""
    n = len(a)
    table = {(x, y): sum(1 for p, q in zip(a, b) if (p, q) == (x, y)) / n for x in (0, 1) for y in (0, 1)}
    po = table[1, 1] + table[0, 0]
    a_yes, b_yes = table[1, 1] + table[1, 0], table[1, 1] + table[0, 1]
    pe = a_yes * b_yes + (1 - a_yes) * (1 - b_yes)
    return (po - pe) / (1 - pe)


def test_cohen_kappa_matches_the_contingency_table() -> None:
    rng = random.Random(0)
    for _ in range(200):
        n = rng.randint(2, 40)
        a = [rng.random() < 0.6 for _ in range(n)]
        b = [x if rng.random() < 0.7 else not x for x in a]
        if len(set(a)) == 1 and set(a) == set(b):
            continue
        assert cohen_kappa(a, b) == pytest.approx(_kappa_by_table(a, b))
    assert cohen_kappa([True, False], [True, False]) == 1.0
    assert cohen_kappa([True, False], [False, True]) == -1.0


def test_cohen_kappa_edge_cases() -> None:
    assert cohen_kappa([True, True], [True, True]) != cohen_kappa([True, True], [True, True])  # NaN: no variation
    with pytest.raises(ValueError, match="one length"):
        cohen_kappa([True], [True, False])
    with pytest.raises(ValueError):
        cohen_kappa([], [])


def test_agreement_leaves_out_unparsed_verdicts() -> None:
    out = agreement([True, False, True, False], [True, None, False, False])
    assert out["n"] == 4 and out["n_judged"] == 3
    assert out["raw_agreement"] == pytest.approx(2 / 3) and out["judge_accuracy"] == pytest.approx(1 / 3)
    assert agreement([True], [None])["raw_agreement"] is None
    with pytest.raises(ValueError):
        agreement([True], [])


def test_judge_answers_on_a_tiny_model(tiny_lm) -> None:
    from calib_eval.models import LoadedModel

    model, tokenizer = tiny_lm
    loaded = LoadedModel(model, tokenizer, "tiny", "tiny", "cpu", "float32")
    items = [JudgeItem("Capital of France?", ("Paris",), a) for a in ("Paris", "London", "Rome")]
    verdicts = judge_answers(loaded, items, batch_size=2)
    assert len(verdicts) == 3 and all(v in (True, False, None) for v in verdicts)


def test_run_with_judge_records_agreement(tiny_model_dir, data_root, tmp_path) -> None:
    from calib_eval.results import read_results
    from calib_eval.runner import RunConfig, run

    cfg = RunConfig(model=str(tiny_model_dir), tasks=("selfaware_calib",), scorers=("perplexity",), limit=3,
                    output=str(tmp_path), bootstrap=20, data_root=str(data_root), judge=str(tiny_model_dir))
    results = read_results(run(cfg)[0])
    judge = results["extra"]["judge"]
    assert judge["model"] == str(tiny_model_dir) and judge["prompt"] == JUDGE_PROMPT
    assert judge["agreement_with_rule_grader"]["n"] == results["n"] == 3
    assert json.dumps(judge)  # JSON-able as written
