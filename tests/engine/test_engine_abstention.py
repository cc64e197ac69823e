"""SelfAware abstention reported beside correctness (issue #15 part 4)."""
from __future__ import annotations

import pytest

from calib_eval.runner.abstention import abstention_entry, abstention_report


def _row(kind, answer, correct, conf):
    return {"answer_kind": kind, "answer": answer, "correct": correct, "scores": {"p": conf, "flat": 0.5}}


ROWS = [
    _row("unanswerable", "No one knows.", True, 0.1),
    _row("unanswerable", "It is unknown", True, 0.2),
    _row("unanswerable", "Tuesday", False, 0.6),
    _row("open", "Paris", True, 0.9),
    _row("open", "I don't know", False, 0.3),
    _row("open", "Rome", False, 0.7),
    _row("open", "Berlin", True, 0.8),
]


def test_rates_by_hand():
    block = abstention_report(ROWS, ["p", "flat"])
    assert block["n_answerable"] == 4 and block["n_unanswerable"] == 3
    assert block["abstain_rate_unanswerable"] == pytest.approx(2 / 3)
    assert block["abstain_rate_answerable"] == pytest.approx(1 / 4)
    assert block["answerable"] == pytest.approx({"correct": 0.5, "incorrect": 0.25, "not_attempted": 0.25,
                                                 "correct_given_attempted": 2 / 3})


def test_answerable_auroc_by_hand():
    block = abstention_report(ROWS, ["p", "flat"])
    # answerable confidences 0.9, 0.3, 0.7, 0.8 vs unanswerable 0.1, 0.2, 0.6: 11 of 12 pairs ordered
    assert block["answerable_auroc"]["p"]["estimate"] == pytest.approx(11 / 12)
    assert block["answerable_auroc"]["flat"]["estimate"] == pytest.approx(0.5)  # all tied
    with_ci = abstention_report(ROWS, ["p"], bootstrap=200)["answerable_auroc"]["p"]
    assert with_ci["low"] <= with_ci["estimate"] <= with_ci["high"]


def test_only_for_tasks_that_mix_answerable_and_unanswerable_items():
    assert abstention_entry([r for r in ROWS if r["answer_kind"] == "open"], ["p"]) == {}
    assert abstention_entry([{k: v for k, v in r.items() if k != "answer_kind"} for r in ROWS], ["p"]) == {}
    assert set(abstention_entry(ROWS, ["p"])) == {"abstention"}


def test_selfaware_results_carry_the_block(tiny_lm, data_root):
    from test_engine_scorers import _batch

    from calib_eval.runner.batch_work import run_batch
    from calib_eval.runner.report import build_payload
    from calib_eval.scorers import ScorerConfig
    from calib_eval.task_specs import get_task, load_task_examples

    examples = load_task_examples(get_task("selfaware_calib"), 40, data_root)
    kinds = {e.answer_kind for e in examples}
    assert kinds == {"open", "unanswerable"}
    loaded, spec, examples, suffix_ids, texts, scorers = _batch(tiny_lm, data_root, task="selfaware_calib", n=40,
                                                                scorers=("perplexity",))
    out = run_batch(loaded, spec, examples, [], suffix_ids, texts, scorers, ScorerConfig(), None, None)
    payload = build_payload("selfaware_calib", loaded, {}, out.rows, scorers, None, {}, {}, 10, 0)
    block = payload["abstention"]
    assert block["n_answerable"] + block["n_unanswerable"] == 40
    assert set(block["answerable_auroc"]) == {"perplexity"}
    # every unanswerable item is graded by the same matcher, so the rate is that task's accuracy on them
    unans = [r for r in out.rows if r["answer_kind"] == "unanswerable"]
    assert block["abstain_rate_unanswerable"] == pytest.approx(sum(r["correct"] for r in unans) / len(unans))
