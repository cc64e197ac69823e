"""The open-ended rule (grader version 2): is a free-text answer one of the references?

An answer is correct when, compared as tokens (:mod:`calib_eval.grading.open_forms`):
1. it equals a reference: the first line or the whole answer, without a leading
   "Answer:", "The answer is", or choice label "(B)", cut at any sentence end
   (so "X. Because ..." and multi-sentence references both match); or
2. it lists several candidates ("X, Y and Z", "X or Y", "either X or Y", "both
   X and Y") and every candidate equals a reference (list questions; synonyms);
   a list with a wrong candidate, or "neither X nor Y", is wrong; or
3. its first sentence holds a reference span with at most ``MAX_EXTRA_WORDS``
   other tokens, where what comes before the span is empty or a lead-in that
   ends in a pointer word ("It is X", "I think the capital is X") and what
   comes after is empty or starts an explanation ("X because ...",
   "X, which ..."). No hedge or negation ("not", "or", "never") and no
   operator may sit outside the span. This rejects qualifiers ("less than 3 A"
   for "3 A", "unit elastic" for "elastic"), sums ("n + 1" for "n") and lists
   ("18 and 20" for "20", "Paris, London" for "Paris"). The price: a
   qualified right answer ("Paris, France", "BRAF mutation" for "BRAF") is
   wrong too, since no rule tells it from a list or a qualifier.
The reverse (answer inside a reference) never counts, nor does a one-letter
answer unless the reference is that letter.
"""
from __future__ import annotations

import re
from typing import Sequence

from calib_eval.grading.open_forms import SEPARATORS, Forms, is_operator, open_forms, same_tokens
from calib_eval.grading.text import _ANSWER_PREFIX, _LABEL_PREFIX, HEDGES, MAX_EXTRA_WORDS, first_line, first_sentence

Grade = tuple[bool, str]

_LEAD_IN = re.compile(r"^\s*(?:so,?\s+)?(?:i think\s+|i believe\s+)?(?:the\s+)?"
                      r"(?:correct\s+|final\s+|best\s+|right\s+)?"
                      r"answer\s+(?:is|would be|will be)\s*:?\s*", re.IGNORECASE)
_SENTENCE_ENDS = re.compile(r"[.!?]+(?=\s|$)")
MAX_CUTS = 40  # sentence ends tried per text (some MMLU law options run to 15 sentences)
# a lead-in before the span must end in one of these ("It is X", "I think X", "known as X")
LEAD_ENDS = frozenset({"is", "are", "was", "were", "be", "being", "its", "thats", "equals", "called", "named", "answer",
                       "think", "believe", "guess", "probably", "likely", "definitely", "certainly", "as"})
# what may follow the span: an explanation, not a qualifier
EXPLAIN = frozenset({"because", "since", "due", "hence", "therefore", "thus", "so", "is", "are", "was", "were", "as"})
# after a comma a verb would be a fragment ("X, is controversial"), so not "is"
EXPLAIN_AFTER_COMMA = (EXPLAIN - {"is", "are", "was", "were"}) | {"which", "who", "whose", "this", "it", "according",
                                                                   "given", "although", "though", "where", "when"}
LIST_WORDS = frozenset({"and", "or"})
LIST_OPENERS = frozenset({"either", "both"})


def _variants(text: str) -> list[str]:
    """The text without "Answer:", and also without a lead-in or a choice label."""
    text = _ANSWER_PREFIX.sub("", text.strip(), count=1)
    out = [text, _LEAD_IN.sub("", text, count=1)]
    out += [_LABEL_PREFIX.sub("", t, count=1) for t in out]
    return list(dict.fromkeys(t.strip() for t in out if t.strip()))


def _cuts(text: str) -> list[str]:
    ends = [m.start() for _, m in zip(range(MAX_CUTS), _SENTENCE_ENDS.finditer(text))]
    return [text[:e] for e in ends if e > 0] + [text]


def _whole_answer_forms(answer: str) -> list[Forms]:
    bases = dict.fromkeys((first_line(answer), answer.strip()))
    texts = dict.fromkeys(cut for base in bases for v in _variants(base) for cut in _cuts(v))
    return [open_forms(t) for t in texts]


def equal_forms(a: Forms, b: Forms) -> bool:
    """Same tokens, with or without articles; list separators ignored."""
    return ((a.keep_key == b.keep_key and same_tokens(a.keep_bare, b.keep_bare))
            or (a.strip_key == b.strip_key and same_tokens(a.strip_bare, b.strip_bare)))


def _lead_ok(lead: Sequence[str]) -> bool:
    """Nothing, or a lead-in ending in a pointer word and listing nothing ("X and it is Y" is a list)."""
    return not lead or (lead[-1].lower() in LEAD_ENDS and not any(_is_list_mark(t) for t in lead))


def _tail_ok(tail: Sequence[str]) -> bool:
    """Nothing, or one explanation that lists nothing further ("X, because Y, Z" may be a list)."""
    if not tail:
        return True
    if tail[0] in SEPARATORS:
        return len(tail) > 1 and tail[1].lower() in EXPLAIN_AFTER_COMMA and not any(t in SEPARATORS for t in tail[1:])
    return tail[0].lower() in EXPLAIN and not any(t in SEPARATORS for t in tail)


def _is_list_mark(token: str) -> bool:
    return token in SEPARATORS or token.lower() in LIST_WORDS


def _outside_ok(outside: Sequence[str]) -> bool:
    return not any(t.lower() in HEDGES or is_operator(t) for t in outside)


def span_match(answer: Sequence[str], ref: Sequence[str]) -> bool:
    """The reference as a span of a short answer, with only a lead-in before it and an explanation after."""
    n, m = len(answer), len(ref)
    if m == 0 or n > m + MAX_EXTRA_WORDS:
        return False
    for i in range(n - m + 1):
        if same_tokens(tuple(answer[i:i + m]), tuple(ref)):
            lead, tail = answer[:i], answer[i + m:]
            if _lead_ok(lead) and _tail_ok(tail) and _outside_ok([*lead, *tail]):
                return True
    return False


def list_candidates(toks: Sequence[str]) -> list[tuple[str, ...]]:
    """The parts of "X, Y and Z" / "either X or Y" / "both X and Y"; one part when it is no list."""
    toks = list(toks)
    if toks and toks[0].lower() in LIST_OPENERS:
        toks = toks[1:]
    parts, cur = [], []
    for t in toks:
        if t in SEPARATORS or t.lower() in LIST_WORDS:
            parts.append(tuple(cur))
            cur = []
        else:
            cur.append(t)
    parts.append(tuple(cur))
    return [p for p in parts if p]


def _core_forms(answer: str) -> Forms:
    """The answer's first sentence, without "Answer:", a lead-in or a label."""
    line = _ANSWER_PREFIX.sub("", first_line(answer), count=1)
    line = _LABEL_PREFIX.sub("", _LEAD_IN.sub("", line, count=1), count=1)
    return open_forms(first_sentence(line))


def _all_listed_are_references(core: Forms, refs: list[tuple[str, Forms]]) -> bool:
    parts = list_candidates(core.strip)
    if len(parts) < 2 or any(t.lower() in {"neither", "nor"} for t in core.strip):
        return False
    ref_forms = [f for _, f in refs]
    return all(any(equal_forms(open_forms(" ".join(p)), f) for f in ref_forms) for p in parts)


def match_open(answer: str, references: Sequence[str]) -> Grade:
    """Token equality, a list of nothing but references, or a reference in a short plain first sentence."""
    if not first_line(answer):
        return False, "empty answer"
    refs = [(r, open_forms(r)) for r in references]
    refs = [(r, f) for r, f in refs if f.keep_bare]
    if not refs:
        return False, "no usable reference"
    answers = _whole_answer_forms(answer)
    for ref, rf in refs:
        if any(equal_forms(a, rf) for a in answers):
            return True, f"exact match {ref!r}"
    core = _core_forms(answer)
    if not core.keep_bare or (len(core.keep_bare) == 1 and len(core.keep_bare[0]) == 1 and core.keep[0].isalpha()):
        return False, "single-letter or empty answer after normalisation"
    if _all_listed_are_references(core, refs):
        return True, "every listed candidate is a reference"
    for ref, rf in refs:
        if span_match(core.strip, rf.strip) or span_match(core.keep, rf.keep):
            return True, f"answer contains {ref!r}"
    return False, "lists several candidates" if len(list_candidates(core.strip)) > 1 else "no reference matched"
