"""Example builders shared by loaders, so every set encodes a kind the same way."""
from __future__ import annotations

from typing import Any

from calib_eval.data.sources import letter_index
from calib_eval.types import Example

YES_NO = ("yes", "no")


def labelled_choices(choices: Any, answer_key: str) -> tuple[tuple[str, ...], int]:
    """``{text: [...], label: [...]}`` plus an answer key -> (choice texts, answer index)."""
    texts, labels = list(choices["text"]), [str(lab) for lab in choices["label"]]
    if len(texts) != len(labels):
        raise ValueError(f"{len(texts)} choice texts but {len(labels)} labels")
    return tuple(str(t) for t in texts), letter_index(answer_key, labels)


def choice_example(task: str, id_: str, question: str, choices: tuple[str, ...], answer: int,
                   metadata: dict[str, Any]) -> Example:
    """Multiple choice; the open-ended reference is the correct choice's text."""
    return Example(id=id_, task=task, question=question, references=(choices[answer],), choices=choices,
                   answer_index=answer, answer_kind="choice", metadata=metadata)


def as_bool(value: Any) -> bool:
    """True/False from a bool or the strings yes/no/true/false (rows differ across copies)."""
    if isinstance(value, bool):
        return value
    text = str(value).strip().lower()
    if text in ("yes", "true", "1"):
        return True
    if text in ("no", "false", "0"):
        return False
    raise ValueError(f"expected a yes/no answer, found {value!r}")


def yesno_example(task: str, id_: str, question: str, answer: bool, metadata: dict[str, Any]) -> Example:
    """Yes/no question with choices (yes, no); the reference is the word."""
    word = "yes" if answer else "no"
    return Example(id=id_, task=task, question=question, references=(word,), choices=YES_NO,
                   answer_index=YES_NO.index(word), answer_kind="yesno", metadata=metadata)
