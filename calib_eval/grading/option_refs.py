"""References that only make sense next to the options ("All of the above", "A and B", "I and III only").

MMLU-OE takes the correct option's text as the reference and never shows the
options. When that text points at other options ("Both A and B", "None of
these"), at numbered statements by number ("1 and 3", "II only") or is one
cell of an options grid ("True, False", "Wrong, Not wrong"), no free answer can
be graded against it fairly. Policy (:data:`POLICY`): such items are *excluded*
from open-ended tasks whose references are option texts, and the count is
reported per task (:func:`option_reference_report`). Excluding, rather than
grading against the options the text stands for, because half of them stand for
nothing a free answer could say ("None of the above", "Wrong, Not wrong").
"""
from __future__ import annotations

import re
from collections import Counter
from typing import Iterable

from calib_eval.types import Example

POLICY = "excluded"
POLICY_NOTE = ("excluded from the task: the correct option's text refers to other options or to statements by "
               "number, so a free answer cannot be graded against it")
_LETTER = r"\(?[a-e]\)?"
_ROMAN = r"\(?[ivx]+\s*\)?"
_DIGIT = r"\(?\d\s*\)?"
_PATTERNS = {
    # "All of the above", "None of these options", "Both of the above are correct", "Neither" (whole text)
    "of the above": re.compile(r"^(?:all|none|any|both|either|neither|each|one)(?:\s+of\s+(?:the\s+)?"
                               r"(?:above|these|them|the\s+above)(?:\s+(?:options|choices|answers))?"
                               r"(?:\s+(?:are|is)\s+(?:correct|true))?)?$"),
    # "All the above", "none of the above are true statements", "moons contribute to all of the above",
    # "all of the options given are correct", "both of the statements are correct", "all of below":
    # the text points at the other options wherever it sits in the sentence
    "mentions the other options": re.compile(
        r"^(?:.*?\s)?(?:all|none|any|both|either|neither|each|one|combinations?)\b.*?"
        r"\b(?:(?:of|to)\s+(?:the\s+)?(?:above|below)|the\s+above)\b"
        r"|^(?:all|none|both|neither|any)\s+(?:of\s+)?(?:the\s+|these\s+)?(?:options|statements|choices|answers)"
        r"(?:\s+(?:given|listed|above))?(?:\s+(?:are|is)\s+(?:correct|true))?$"
        r"|^none\s+of\s+these\b|^options?\s+" + _LETTER + r"\s+(?:and|or)\s+" + _LETTER + r"$"),
    # "A and B", "both a and c", "(A), (B), and (C) are part of the theory", "a or b"
    "letters": re.compile(rf"^(?:both\s+|only\s+|either\s+)?{_LETTER}(?:\s*(?:,|and|or|&)\s*(?:and\s+)?{_LETTER})+"
                          r"(?:$|\s+(?:only|both|are|is)\b)"),
    # "I, II, and III", "(i) and (iv) only", "II only"
    "numbered statements": re.compile(rf"^{_ROMAN}(?:(?:\s*(?:,|and|&)\s*(?:and\s+)?{_ROMAN})+(?:\s+only)?"
                                      r"|\s+only)$"),
    # "1 and 3", "1, 2 and 3 only", "2 only"; not a bare comma list ("0,4", "(1, 6)", "5, 5" are values)
    "numbered statements (digits)": re.compile(rf"^{_DIGIT}(?:(?:\s*,\s*{_DIGIT})*\s*,?\s*(?:and|&)\s*{_DIGIT}"
                                               r"(?:\s+only)?|\s+only)$"),
    # "True, False", "Wrong, Not wrong" (two-statement grids)
    "truth-value grid": re.compile(r"^(?:(?:not\s+)?(?:true|false|wrong|right|correct|incorrect)\s*[,;/]\s*)+"
                                   r"(?:not\s+)?(?:true|false|wrong|right|correct|incorrect)$"),
}


def option_reference_kind(example: Example) -> str | None:
    """Which kind of option-bound reference the item has (None: its reference stands alone)."""
    if example.answer_index is None or not example.choices:
        return None  # the reference is not an option's text
    text = " ".join(example.choices[example.answer_index].lower().split()).rstrip(". ")
    return next((kind for kind, pattern in _PATTERNS.items() if pattern.match(text)), None)


def is_open_gradable(example: Example) -> bool:
    """False for items whose reference only makes sense next to the options (the task drops them)."""
    return option_reference_kind(example) is None


def option_reference_report(examples: Iterable[Example]) -> dict:
    """{"flagged_option_reference": n, "policy": ..., "by_kind": {...}} for a task's unfiltered items."""
    kinds = Counter(k for k in map(option_reference_kind, examples) if k is not None)
    return {"flagged_option_reference": sum(kinds.values()), "policy": POLICY, "policy_note": POLICY_NOTE,
            "by_kind": dict(sorted(kinds.items()))}


def task_option_reference_report(task: str, data_root=None, source=None) -> dict:
    """The report for a task by name, over all its items before the task's filter (for results files).

    Tasks whose references are not option texts report 0 flagged with policy "not applicable".
    """
    from calib_eval.data import load_dataset
    from calib_eval.task_specs import get_task

    spec = get_task(task)
    if spec.keep is None:
        return {"flagged_option_reference": 0, "policy": "not applicable", "by_kind": {}}
    split = {} if spec.split is None else {"split": spec.split}
    return option_reference_report(load_dataset(spec.dataset, source=source, data_root=data_root, **split))
