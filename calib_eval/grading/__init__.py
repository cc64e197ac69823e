"""Is a model's answer correct? One entry point, :func:`grade`, dispatching on
``Example.answer_kind``; every rule is a small pure function.

Normalisation
-------------
``normalize_text`` is SQuAD-style, extended to Unicode: NFKD and drop accents
("Zürich" == "Zurich"), lowercase, delete punctuation (ASCII and every Unicode
P* character, so "don’t" == "don't" == "dont"), drop the articles a/an/the,
collapse whitespace. Unlike SQuAD it keeps numbers apart: thousands commas go
("1,000" == "1000") but a decimal point, ":", "/", "-" or "+" between digits
and a leading sign stay ("1.56" != "156", "-1" != "1"). Choice, yes/no and
summary grading use it; open answers use the token forms of
:mod:`calib_eval.grading.open_forms` instead.

``normalize_answer`` first cleans a model's free text, because models keep
talking and echo prompt scaffolding: keep the first non-blank line, strip a
leading "Answer:" / "Final answer:" and a leading choice label "(B)", "(b)",
"B.", "B)", "B:"; then ``normalize_text``. Matchers also compare the forms
without the label stripped, so a reference that itself starts like a label
("B. F. Skinner") still matches itself.

Rules per kind
--------------
- ``open`` (:func:`match_open`, grader version 2, in
  :mod:`calib_eval.grading.open_match`): answers and references become tokens
  that keep signs, operators, brackets in formulas, numbers' values ("0.5" ==
  "1/2" == "50%") and letters that carry meaning ("Vitamin A"); correct if the
  answer equals a reference (first line or whole answer, after "Answer:" / "The
  answer is" / a label, cut at any sentence end), if it lists candidates that
  are all references, or if its first sentence is a reference with only a
  lead-in before ("It is X") and an explanation after ("X, because ..."),
  no hedge, negation or operator outside the span, at most
  ``MAX_EXTRA_WORDS`` = 10 extra tokens. Lists with a wrong candidate ("Paris,
  London"), qualifiers ("less than 3 A") and sums ("n + 1") are wrong.
  MMLU-OE drops items whose reference only makes sense next to the options
  ("All of the above"; :mod:`calib_eval.grading.option_refs`).
  Measured by bench/grader_rates.py; bounded in tests/test_grading_rates.py.
- ``choice`` (:func:`match_choice`), in order: a punctuated label alone
  ("(C)", "C.", "C)") is that label; an answer equal to a choice's text is
  that choice (even a bare letter: "B" among As/P/Sb/B; or "(A) and (B)");
  else a letter label ("B", "(B) ...", "The answer is B") decides; else the
  answer must mention exactly one choice (choices that are part of a longer
  mentioned one are dropped) under the short-answer rule.
  When ``normalize_text`` would merge two different choices ("RR"/"rr",
  "~A"/"A", "h > c"/"h < c") the choices are compared case- and
  punctuation-sensitively instead (:func:`choice_normalizer`).
- ``yesno`` (:func:`match_yesno`): the first yes/no/maybe word of the first
  line (true/false count as yes/no); a letter label picks from the choices.
- ``summary`` (:func:`match_summary`): best ROUGE-L F1 against the references
  >= 0.3 (the UA-CLM criterion), over the whole answer.
- ``unanswerable`` (:func:`match_abstention`): correct when the answer anywhere
  expresses abstention ("unknown", "no one knows", "I don't know", "cannot be
  answered", "there is no definitive answer", ...). This is a keyword
  heuristic in the spirit of SelfAware's uncertain-sentence check; it misses
  paraphrases and can fire on a hedged but committed answer.
"""
from __future__ import annotations

import re
import string
from typing import Callable, Sequence

from calib_eval.errors import unknown_name
from calib_eval.grading.text import (  # noqa: F401 (some are re-exported)
    _ANSWER_PREFIX, _LABEL_PREFIX, _STATED, _STATED_LABEL, _WHOLE_LABEL, HEDGES, MAX_EXTRA_WORDS, first_line,
    first_sentence, normalize_answer, normalize_text, strict_text, strip_answer_prefix)
from calib_eval.grading.open_match import match_open  # noqa: F401 (re-exported)
from calib_eval.grading.option_refs import (  # noqa: F401 (re-exported)
    is_open_gradable, option_reference_kind, option_reference_report, task_option_reference_report)
from calib_eval.types import Example

Grade = tuple[bool, str]

# Bumped whenever a rule changes what counts as correct; results record it so a
# leaderboard can tell labels made by an older grader (stale) from current ones.
GRADER_VERSION = "3"  # 2: open answers keep signs, operators, numbers' values and meaningful letters;
# 3: option-bound references phrased without "of" ("All the above", "all of the options given") are excluded too
KINDS = ("open", "choice", "yesno", "summary", "unanswerable")
OPEN_METRICS = ("match", "rouge_l")
LETTERS = string.ascii_uppercase
SUMMARY_THRESHOLD = 0.3
_YESNO = {"yes": "yes", "no": "no", "maybe": "maybe", "true": "yes", "false": "no"}


def _contains(tokens: Sequence[str], ref: Sequence[str]) -> bool:
    """Whole-word span match in a short, unhedged answer."""
    n, m = len(tokens), len(ref)
    if m == 0 or n > m + MAX_EXTRA_WORDS:
        return False
    for i in range(n - m + 1):
        if list(tokens[i:i + m]) == list(ref) and not HEDGES.intersection([*tokens[:i], *tokens[i + m:]]):
            return True
    return False


Normalizer = Callable[[str], str]


def _answer_forms(answer: str, norm: Normalizer = normalize_text) -> tuple[set[str], str, list[str]]:
    """(label-free exact forms, form with any choice label stripped, tokens of the first sentence).

    Exact forms are the first line and the whole answer (for references that span
    lines), both without a leading "Answer:"; neither drops a leading label.
    """
    line = _ANSWER_PREFIX.sub("", first_line(answer), count=1)
    cleaned = _LABEL_PREFIX.sub("", line, count=1)
    exact = {norm(line), norm(_ANSWER_PREFIX.sub("", answer.strip(), count=1))} - {""}
    return exact, norm(cleaned), norm(first_sentence(cleaned)).split()


def choice_label(answer: str, n_choices: int) -> int | None:
    """Index of a letter label the answer gives ("B", "(b)", "B. text", "The answer is C"), if any."""
    line = _ANSWER_PREFIX.sub("", first_line(answer), count=1)
    stated = _STATED.sub("", line, count=1)
    m = _WHOLE_LABEL.match(stated) or _LABEL_PREFIX.match(stated)
    if m is None and stated != line:
        m = _STATED_LABEL.match(stated)
    if m is None:
        return None
    index = LETTERS.index((m.group(1) or m.group(2) or "").upper())
    return index if index < n_choices else None


def _is_subspan(short: str, long: str) -> bool:
    return short != long and f" {short} " in f" {long} "


def choice_normalizer(choices: Sequence[str]) -> Normalizer:
    """``normalize_text``, unless it would merge different choices ("1.5"/"15", "RR"/"rr", "~A"/"A")."""
    distinct = {strict_text(c) for c in choices}
    merged = {normalize_text(c) for c in distinct}
    return normalize_text if len(merged) == len(distinct) and "" not in merged else strict_text


def match_choice(answer: str, choices: Sequence[str], answer_index: int) -> Grade:
    """A bare punctuated label, else a choice's exact text, else any label, else the one choice mentioned."""
    if not first_line(answer):
        return False, "empty answer"
    norm = choice_normalizer(choices)
    normed = [norm(c) for c in choices]
    exact, cleaned, sentence = _answer_forms(answer, norm)
    label = choice_label(answer, len(choices))
    line = _ANSWER_PREFIX.sub("", first_line(answer), count=1).strip()
    if label is not None and _WHOLE_LABEL.match(line) and len(line) > 1:  # "(C)", "C." are labels
        return label == answer_index, f"label {LETTERS[label]}"
    hits = [i for i, c in enumerate(normed) if c and c in exact]  # text first: "B. F. Skinner" is no label
    if hits:
        return answer_index in hits, f"choice text {LETTERS[hits[0]]}"
    if label is not None:
        return label == answer_index, f"label {LETTERS[label]}"
    hits = [i for i, c in enumerate(normed) if c and c == cleaned]
    if hits:
        return answer_index in hits, f"choice text {LETTERS[hits[0]]}"
    hits = [i for i, c in enumerate(normed) if c and _contains(sentence, c.split())]
    hits = [i for i in hits if not any(_is_subspan(normed[i], normed[j]) for j in hits)]
    if len({normed[i] for i in hits}) == 1:
        return answer_index in hits, f"mentions choice {LETTERS[hits[0]]}"
    return False, "mentions several choices" if hits else "no choice matched"


def match_yesno(answer: str, reference: str) -> Grade:
    """The first yes/no/maybe (or true/false) word of the answer's first line decides."""
    word = next((w for w in normalize_answer(answer).split() if w in _YESNO), None)
    if word is None:
        return False, "empty answer" if not normalize_answer(answer) else "no yes/no/maybe word"
    ref = normalize_text(reference)
    got = _YESNO[word]
    return got == _YESNO.get(ref, ref), f"answered {got}"


def _tokens(text: str) -> list[str]:
    return normalize_text(text).split()


def lcs_length(a: Sequence[str], b: Sequence[str]) -> int:
    """Longest common subsequence length, bit-parallel (Hyyrö 2004): one big-int step per token of b."""
    masks: dict[str, int] = {}
    for i, tok in enumerate(a):
        masks[tok] = masks.get(tok, 0) | (1 << i)
    full = (1 << len(a)) - 1
    v = full  # zero bits in v mark the LCS matches so far
    for tok in b:
        u = v & masks.get(tok, 0)
        v = ((v + u) | (v - u)) & full
    return len(a) - bin(v).count("1")


def rouge_l(prediction: str, reference: str) -> float:
    """ROUGE-L F1: longest common subsequence over normalised tokens (no stemming)."""
    pred, ref = _tokens(prediction), _tokens(reference)
    lcs = lcs_length(pred, ref) if pred and ref else 0
    if lcs == 0:
        return 0.0
    precision, recall = lcs / len(pred), lcs / len(ref)
    return 2 * precision * recall / (precision + recall)


def match_summary(answer: str, references: Sequence[str], threshold: float = SUMMARY_THRESHOLD) -> Grade:
    """Best ROUGE-L against any reference reaches ``threshold`` (whole answer, all lines)."""
    text = _ANSWER_PREFIX.sub("", answer.strip(), count=1)
    if not _tokens(text):
        return False, "empty answer"
    if not references:
        return False, "no usable reference"
    best = max(rouge_l(text, r) for r in references)
    return best >= threshold, f"rouge_l={best:.3f}"


_ABSTAIN = re.compile(
    r"\b(?:unknown|unknowable|not known|no one (?:really |truly )?knows|nobody (?:really )?knows"
    r"|(?:i|we) (?:do not|don't|dont|cannot|can't) (?:really )?know|(?:i am|i'm) not sure|not certain"
    r"|(?:cannot|can't|can not|could not|couldn't) (?:be )?(?:answered|determined|known|predicted|say|know|tell)"
    r"|(?:impossible|not possible|no way) (?:to|of) (?:know|say|determine|answer|predict|tell|knowing)"
    r"|there (?:is|'s) no (?:\w+ ){0,2}answer|no (?:definitive|definite|clear|single|known|correct|right) answer"
    r"|unanswerable|not answerable|(?:is|are|remains?) (?:uncertain|unclear|a mystery)"
    r"|(?:insufficient|not enough) (?:information|evidence|data)|no (?:scientific )?consensus"
    r"|(?:a matter of|depends on) (?:personal )?(?:opinion|perspective|interpretation|preference)"
    r"|it depends|subjective|(?:i am|i'm) unable to)\b",
    re.IGNORECASE,
)


def match_abstention(answer: str) -> Grade:
    """Unanswerable question: correct when the answer abstains (keyword heuristic, see module doc)."""
    text = answer.replace("\u2019", "'").replace("\u2018", "'").strip()
    if not text:
        return False, "empty answer"
    m = _ABSTAIN.search(text)
    return (True, f"abstains ({m.group(0)!r})") if m else (False, "no abstention phrase")


def grade(example: Example, answer: str, *, open_metric: str = "match",
          threshold: float = SUMMARY_THRESHOLD) -> Grade:
    """(correct, detail) for a model's answer; ``open_metric='rouge_l'`` grades open answers as UA-CLM does."""
    if open_metric not in OPEN_METRICS:
        raise unknown_name("open metric", open_metric, OPEN_METRICS)
    kind = example.answer_kind
    has_choices = bool(example.choices) and example.answer_index is not None
    if kind == "choice" and has_choices:
        return match_choice(answer, example.choices, example.answer_index)
    if kind == "yesno":
        if has_choices and choice_label(answer, len(example.choices)) is not None:
            return match_choice(answer, example.choices, example.answer_index)
        return match_yesno(answer, example.references[0] if example.references else "")
    if kind in ("open", "choice"):
        if open_metric == "rouge_l":
            return match_summary(answer, example.references, threshold)
        return match_open(answer, example.references)
    if kind == "summary":
        return match_summary(answer, example.references, threshold)
    if kind == "unanswerable":
        return match_abstention(answer)
    raise unknown_name("answer kind", kind, KINDS)
