"""The open-ended grader, version 2: one test per bug of issue #12 and the rules that fix them."""
from __future__ import annotations

import pytest

from calib_eval.grading import grade, match_open
from calib_eval.grading.open_forms import canonical_number, open_forms, same_tokens
from calib_eval.grading.open_match import list_candidates, span_match
from calib_eval.types import Example


@pytest.mark.parametrize("answer, ref, correct", [
    ("(x + 1)(x + 4)(x − 2)", "(x + 1)(x − 4)(x − 2)", False),  # issue #12: signs were dropped
    ("(x - 1)(x − 4)(x − 2)", "(x + 1)(x − 4)(x − 2)", False),
    ("(x+1)(x-4)(x-2)", "(x + 1)(x − 4)(x − 2)", True),  # U+2212 is a minus; spacing does not matter
    ("-i", "i", False), ("i", "-i", False), ("−i", "-i", True),
    ("7", "–7", False), ("-7", "–7", True),  # an en dash before a digit is a minus too
    ("p+3", "p-3", False), ("120h", "120/h", False), ("3^y", "3y", False),
    ("f (c) ≠ f (d)", "f (c) = f (d)", False),  # NFKD would turn "≠" into "="
    ("h > c log2(N)", "h < c log2(N)", False),
    ("a[i] != max", "a[i] == max", False),
    ("HBr(g) → H+(g) + Br−(g)", "HBr(g) → H(g) + Br(g)", False),
    ("~P", "P", False), ("Bej", "~Bej", False),
    ("(5 × 19) + 12", "5 × (19 + 12)", False), ("5 * (19 + 12)", "5 × (19 + 12)", True),
    ("6''", "6'", False), ("6", "6'", False),
    ("n + 1", "n", False),  # an operator outside the reference span
])
def test_signs_and_operators_count(answer: str, ref: str, correct: bool) -> None:
    assert match_open(answer, [ref])[0] is correct


@pytest.mark.parametrize("answer, ref, correct", [
    ("Vitamin B12", "Vitamin A", False),  # issue #12: the letter was stripped as an article
    ("Hepatitis B", "Hepatitis A", False),
    ("Vitamin A", "Vitamin A", True), ("vitamin a", "Vitamin A", True), ("The answer is Vitamin A.", "Vitamin A", True),
    ("Vitamin", "Vitamin A", False),
    ("Type 2", "Type 1", False), ("type 1 diabetes", "Type 1 diabetes", True),
    ("Vitamin deficiency", "Vitamin A deficiency", False),
    ("the Eiffel Tower", "Eiffel Tower", True),  # a real article still goes
    ("a = g sin θ", "a = g sin θ", True),
])
def test_letters_that_carry_meaning_stay(answer: str, ref: str, correct: bool) -> None:
    assert match_open(answer, [ref])[0] is correct


@pytest.mark.parametrize("answer, refs, correct", [
    ("Paris, London, Berlin", ["Paris"], False),  # issue #12: several candidates
    ("18 and 20", ["20"], False),
    ("Paris or London", ["Paris"], False), ("either Paris or London", ["Paris"], False),
    ("Paris and London", ["Paris"], False), ("Mars and Earth", ["Earth"], False),
    ("neither Paris nor London", ["Paris", "London"], False),
    ("hemophilia A and hemophilia B", ["hemophilia A", "hemophilia B"], True),  # every candidate is a reference
    ("Hemophilia A, hemophilia B.", ["hemophilia A", "hemophilia B"], True),
    ("hemophilia A and hemophilia C", ["hemophilia A", "hemophilia B"], False),
    ("either BRCA1 or BRCA-1", ["BRCA1", "BRCA-1"], True),  # synonyms of one answer
    ("salt and pepper", ["salt and pepper"], True),  # a reference may itself be a list
    ("Both SRAM and DRAM", ["DRAM"], False),
])
def test_multi_candidate_answers(answer: str, refs: list[str], correct: bool) -> None:
    assert match_open(answer, refs)[0] is correct


@pytest.mark.parametrize("answer, ref, correct", [
    ("0.5", "1/2", True), ("1/2", "0.5", True), ("50%", "0.5", True), ("0.5", "50 %", True),  # issue #12
    ("0.25", "1/2", False), ("2.0", "2", True), (".5", "0.5", True),
    ("5 cm", "5.0 cm", True), ("5 mm", "5 cm", False), ("5", "5 cm", False),  # units kept
    ("1,000", "1000", True), ("1.56", "15.6", False), ("3:30", "330", False),
    ("The answer is 1/2.", "0.5", True),
])
def test_numbers_compare_by_value(answer: str, ref: str, correct: bool) -> None:
    assert match_open(answer, [ref])[0] is correct


@pytest.mark.parametrize("answer, ref, correct", [
    ("less than 3 A", "3 A", False), ("more than 20 years.", "20 years.", False),  # qualifiers before
    ("unit elastic.", "elastic.", False), ("a ray in the open first quadrant", "the open first quadrant", False),
    ("All county residents with school-aged children", "All county residents", False),  # qualifiers after
    ("BRAF mutation", "BRAF", False),
    ("It is Paris", "Paris", True), ("I think it is Paris.", "Paris", True),  # lead-ins
    ("Paris, because it is the capital.", "Paris", True), ("Paris, which is in France", "Paris", True),  # explanations
    ("Paris is the capital of France", "Paris", True),
    ("Paris, not London", "Paris", False),
])
def test_span_needs_a_lead_in_or_an_explanation(answer: str, ref: str, correct: bool) -> None:
    assert match_open(answer, [ref])[0] is correct


@pytest.mark.parametrize("answer, ref, correct", [
    ("Bb bb", "Bb Bb", False), ("bb × bb", "Bb × Bb", False), ("BB Bb", "Bb Bb", False),  # genotypes
    ("Sc ≡ Ej", "sC ≡ eJ", False), ("CO", "Co", False),  # logic constants, formula vs element
    ("PARIS", "Paris", True), ("dna", "DNA", True), ("The answer is DNA.", "dna", True),
    ("40 kj/min", "40 kJ/min", True),
])
def test_case_counts_only_for_short_symbols(answer: str, ref: str, correct: bool) -> None:
    assert match_open(answer, [ref])[0] is correct


@pytest.mark.parametrize("answer, ref, correct", [
    ("**Paris**", "Paris", True), ("The answer is *Paris*.", "Paris", True),  # markdown emphasis
    ('The answer is "42".', "42", True), ("$\\frac{1}{2}$", "0.5", True),
    ("x*y*z", "x * y * z", True), ("2 ** 3", "2 * 3", False),
])
def test_chat_model_formatting(answer: str, ref: str, correct: bool) -> None:
    assert match_open(answer, [ref])[0] is correct


@pytest.mark.parametrize("answer", [
    "Invalid. Counterexample when L is true and K is false.",
    "The answer is Invalid. Counterexample when L is true and K is false.",
    "Invalid. Counterexample when L is true and K is false. This follows from the question.",
    "invalid. counterexample when l is true and k is false.",
])
def test_multi_sentence_references(answer: str) -> None:
    ref = "Invalid. Counterexample when L is true and K is false."
    assert match_open(answer, [ref])[0]
    assert not match_open("Invalid. Counterexample when K is true and L is false.", [ref])[0]


@pytest.mark.parametrize("text, expected", [
    ("0.5", "1/2"), ("1/2", "1/2"), ("50%", "1/2"), ("50 %", "1/2"), ("2.0", "2"), (".25", "1/4"), ("1/0", "1/0"),
])
def test_canonical_number(text: str, expected: str) -> None:
    assert canonical_number(text) == expected


def test_open_forms() -> None:
    assert open_forms("(x + 1)(x − 4)").keep == ("(", "x", "+", "1", ")", "(", "x", "-", "4", ")")
    assert open_forms("(I) and (IV )").keep == ("I", "and", "IV")  # brackets only matter in formulas
    assert open_forms("The Paris").strip == ("Paris",) and open_forms("Vitamin A").strip == ("Vitamin", "A")
    assert open_forms("don’t well-known U.S. p-q").keep == ("dont", "wellknown", "US", "p", "-", "q")
    assert open_forms("Paris, London").keep_bare == ("Paris", "London")
    assert open_forms("1,000").keep == ("1000",)


def test_same_tokens_and_span_helpers() -> None:
    assert same_tokens(("Paris",), ("PARIS",)) and not same_tokens(("Bb",), ("bb",))
    assert list_candidates(("either", "X", "or", "Y")) == [("X",), ("Y",)]
    assert list_candidates(("X", ",", "Y", "and", "Z")) == [("X",), ("Y",), ("Z",)]
    assert span_match(("it", "is", "Paris"), ("Paris",)) and not span_match(("not", "Paris"), ("Paris",))


def test_grade_dispatches_open_answers_to_v2() -> None:
    ex = Example(id="t/1", task="t", question="q", references=("-i",), answer_kind="open")
    assert grade(ex, "−i")[0] and not grade(ex, "i")[0]
