"""Issue #12's measured targets, on the real files: false accepts of wrong answers, acceptance of right ones.

The same probes as bench/grader_rates.py (calib_eval.grading.audit). MMLU: every
wrong option's text of all 14,042 test items as the answer, and the right one in
five phrasings; BioASQ factoid/list and SelfAware likewise.
"""
from __future__ import annotations

import pytest

from calib_eval.grading.audit import PHRASINGS, bioasq_probes, mmlu_open_examples, mmlu_probes, selfaware_probes
from calib_eval.grading.open_match import EXPLAIN_AFTER_COMMA
from calib_eval.grading.option_refs import is_open_gradable, option_reference_kind, option_reference_report
from calib_eval.types import Example

MAX_FALSE_ACCEPT = 0.0005  # issue #12: <= 0.05% of items
# Lower-casing erases what these answers say, so the grader must not accept the lower-cased text:
AMBIGUOUS_LOWER = {
    "mmlu/test/high_school_biology/32": "'Bb Bb' -> 'bb bb', the text of the wrong option 'BB BB' lower-cased",
    "mmlu/test/high_school_biology/300": "'Bb × Bb' -> 'bb × bb', which is the wrong option 'bb × bb'",
    "mmlu/test/formal_logic/66": "'Fe ⊃ Ss': predicate letter S of constant s becomes 'ss'",
    "mmlu/test/formal_logic/76": "'Lm • ~(Lj ∨ Ll)': predicate letter L of constant l becomes 'll'",
    "mmlu/test/clinical_knowledge/235": "'1 - 3 mM' (millimolar) becomes '1 - 3 mm' (millimetres)",
    "mmlu/test/college_medicine/168": "'1 - 3 mM' (millimolar) becomes '1 - 3 mm' (millimetres)",
}
# SelfAware lists these as the answers of some answerable questions; given to an unanswerable one they abstain
NONCOMMITTAL_REFERENCES = {"subjective", "no consensus"}


@pytest.fixture(scope="module")
def mmlu(data_root):
    examples, grade = mmlu_open_examples(data_root)
    return examples, {p.name: p for p in mmlu_probes(examples, grade)}


def test_mmlu_wrong_options_are_rejected(mmlu) -> None:
    examples, probes = mmlu
    wrong = probes["mmlu wrong options"]
    assert wrong.items == len(examples) == 14042
    assert wrong.item_rate <= MAX_FALSE_ACCEPT, wrong.failures[:10]


@pytest.mark.parametrize("phrasing", list(PHRASINGS))
def test_mmlu_right_option_is_accepted_in_every_phrasing(mmlu, phrasing: str) -> None:
    _, probes = mmlu
    failed = {item for item, _, _ in probes[f"mmlu accept [{phrasing}]"].failures}
    allowed = set(AMBIGUOUS_LOWER) if phrasing == "lower" else set()
    assert failed <= allowed, sorted(failed - allowed)[:10]


def test_ambiguous_lower_case_items_really_carry_case(mmlu) -> None:
    examples, _ = mmlu
    by_id = {ex.id: ex for ex in examples}
    for item in AMBIGUOUS_LOWER:
        right = by_id[item].choices[by_id[item].answer_index]
        assert right != right.lower()


def test_bioasq_rates(data_root) -> None:
    from calib_eval.data import load_dataset
    from calib_eval.grading import grade

    probes = bioasq_probes(load_dataset("bioasq", data_root=data_root), grade)
    for p in probes:
        assert p.items > 0
        if p.false_accept:
            assert p.item_rate <= MAX_FALSE_ACCEPT, (p.name, p.failures[:5])
        else:
            assert p.item_rate == 1.0, (p.name, p.failures[:5])


def test_selfaware_rates(data_root) -> None:
    from calib_eval.data import load_dataset
    from calib_eval.grading import grade

    probes = {p.name: p for p in selfaware_probes(load_dataset("selfaware", data_root=data_root), grade)}
    assert probes["selfaware answerable other items' answers"].item_rate <= MAX_FALSE_ACCEPT
    for name, p in probes.items():
        if not p.false_accept:
            assert p.item_rate == 1.0, (name, p.failures[:5])
    # "X, as many as half", "X, because things are impermanent": the other item's answer reads as an explanation
    mixed = probes["selfaware answerable right answer mixed with a wrong one"]
    assert mixed.item_rate <= 0.005
    for _, answer, _ in mixed.failures:
        assert answer.split(", ", 1)[1].split()[0] in EXPLAIN_AFTER_COMMA, answer
    committed = probes["selfaware unanswerable: committed other items' answers"]
    assert {answer.lower() for _, answer, _ in committed.failures} <= NONCOMMITTAL_REFERENCES


def _mc(right: str, others: tuple[str, ...] = ("x", "y", "z")) -> Example:
    return Example(id="t/1", task="mmlu", question="q", references=(right,), choices=(right, *others),
                   answer_index=0, answer_kind="choice")


@pytest.mark.parametrize("text, kind", [
    ("All of the above", "of the above"), ("none of the above.", "of the above"),
    ("All of these options.", "of the above"),
    ("Neither of these", "of the above"), ("Both A and B", "letters"), ("a and c only", "letters"),
    ("(A), (B), and (C) are part of the theory", "letters"), ("I and III only", "numbered statements"),
    ("(i), (ii), and (iv)", "numbered statements"), ("II only", "numbered statements"),
    ("1 and 2 only", "numbered statements (digits)"), ("True, False", "truth-value grid"),
    ("Not wrong, Wrong", "truth-value grid"),
    ("All the above", "mentions the other options"), ("All of below", "mentions the other options"),
    ("Moons contribute to all of the above", "mentions the other options"),
    ("None of the above are true statements", "mentions the other options"),
    ("All of the options given are correct", "mentions the other options"),
    ("Both of the statements are correct", "mentions the other options"), ("Options A and B", "mentions the other options"),
    ("The long-run price is above minimum average total cost", None), ("None of the offspring will be affected", None),
    ("Red below the mucogingival junction and light pink above it", None),
    ("Both the Mongols and the Persians allowed local traditions", None), ("0,4", None), ("(1, 6)", None),
    ("5, 5", None), ("Vitamin A", None), ("a,b in H=> a * b^-1 in H", None), ("II", None), ("True", None),
])
def test_option_reference_kinds(text: str, kind: str | None) -> None:
    assert option_reference_kind(_mc(text)) == kind


def test_mmlu_oe_task_excludes_option_references(data_root) -> None:
    from calib_eval.data import load_dataset
    from calib_eval.grading import task_option_reference_report
    from calib_eval.task_specs import get_task, load_task_examples

    report = task_option_reference_report("mmlu_oe_calib", data_root)
    assert report == option_reference_report(load_dataset("mmlu", data_root=data_root, split="test"))
    assert report["policy"] == "excluded" and report["flagged_option_reference"] == sum(report["by_kind"].values())
    kept = load_task_examples(get_task("mmlu_oe_calib"), None, data_root)
    assert len(kept) == 14042 - report["flagged_option_reference"] and all(map(is_open_gradable, kept))
    assert len(load_task_examples(get_task("mmlu_mc_calib"), None, data_root)) == 14042  # options shown: all kept
    assert task_option_reference_report("selfaware_calib", data_root)["flagged_option_reference"] == 0
