"""Prompt texts, shared by the calib-eval runner and the lm-eval tasks.

Both paths must build byte-identical strings, or their numbers stop being
comparable; so every prompt lives here and nowhere else. The open-ended MMLU
prompt and the uncertainty query follow Kapoor et al. 2024 (DESIGN.md s.2).
"""
from __future__ import annotations

from typing import Sequence

from calib_eval.types import Example

LETTERS = "ABCDEFGHIJ"

# Appended after "{prompt}{answer}"; the model's next token is `i` (no) or `ii` (yes).
UNCERTAINTY_QUERY = "\n\nIs the proposed answer correct?\nChoices:\n(i): no\n(ii): yes\nAnswer:"
QUERY_NO, QUERY_YES = " i", " ii"

VERBALIZED_QUERY = (
    "\n\nHow confident are you that the proposed answer is correct? "
    "Reply with a number from 0 to 100.\nConfidence (0-100):"
)

PAIRWISE_QUERY = (
    "Here are two questions.\nQuestion 1: {first}\nQuestion 2: {second}\n"
    "Which of the two questions are you more likely to answer correctly? Reply 1 or 2.\nAnswer:"
)
# The two replies to PAIRWISE_QUERY, as pairwise-sft's targets spell them.
PAIRWISE_FIRST, PAIRWISE_SECOND = " 1", " 2"


def _subject_title(subject: str) -> str:
    return subject.replace("_", " ")


def mmlu_oe_prefix(subject: str, shots: Sequence[Example]) -> str:
    """The 5-shot open-ended header for one subject (shared by all its questions)."""
    lines = [f"The following are questions (with answers) about {_subject_title(subject)}.\n\n"]
    for shot in shots:
        lines.append(f"Question: {shot.question}\nAnswer: {shot.references[0]}\n\n")
    lines.append("Now, answer the next question.\n\n")
    return "".join(lines)


def open_question(example: Example) -> str:
    """The per-item part of an open-ended prompt; the answer follows `Answer:`."""
    return f"Question: {example.question}\nAnswer:"


def mc_block(example: Example) -> str:
    options = "".join(f"\n{LETTERS[i]}. {c}" for i, c in enumerate(example.choices))
    return f"Question: {example.question}{options}\nAnswer:"


def mmlu_mc_prefix(subject: str, shots: Sequence[Example]) -> str:
    lines = [f"The following are multiple choice questions (with answers) about {_subject_title(subject)}.\n\n"]
    for shot in shots:
        lines.append(f"{mc_block(shot)} {LETTERS[shot.answer_index]}\n\n")
    return "".join(lines)


def mc_choice_continuations(example: Example) -> list[str]:
    """What an MC prompt may be continued with: ' A', ' B', ..."""
    return [f" {LETTERS[i]}" for i in range(len(example.choices))]
