"""Plain records that every pipeline stage speaks.

task -> Example -> Generation -> Graded -> Scored. Each stage adds fields, so a
saved file of any stage can feed the next one (see DESIGN.md section 3).
"""
from __future__ import annotations

import dataclasses
from dataclasses import dataclass, field
from typing import Any


@dataclass(frozen=True)
class Example:
    """One evaluation or training item, as a loader returns it."""

    id: str
    task: str
    question: str
    references: tuple[str, ...] = ()  # acceptable answers (texts)
    choices: tuple[str, ...] = ()  # multiple-choice options, in order
    answer_index: int | None = None  # index into choices, when there are choices
    answer_kind: str = "open"  # open | choice | yesno | summary | unanswerable
    metadata: dict[str, Any] = field(default_factory=dict)


@dataclass(frozen=True)
class Generation:
    """The model's answer to an example, with the prompt it answered."""

    example: Example
    prompt: str
    answer: str
    # per-token log-probs and entropies of the generated answer (greedy pass)
    token_logprobs: tuple[float, ...] = ()
    token_entropies: tuple[float, ...] = ()
    # choice tasks: log-likelihood of each option continuation, in choice order
    choice_logprobs: tuple[float, ...] = ()


@dataclass(frozen=True)
class Graded:
    generation: Generation
    correct: bool
    grade_detail: str = ""  # e.g. which reference matched, or the ROUGE-L value


@dataclass(frozen=True)
class Scored:
    graded: Graded
    scores: dict[str, float]  # scorer name -> score, higher = more likely correct


def to_dict(record: Any) -> dict[str, Any]:
    """Dataclass -> JSON-able dict (tuples become lists)."""
    return dataclasses.asdict(record)


def example_from_dict(d: dict[str, Any]) -> Example:
    return Example(
        id=str(d["id"]),
        task=d["task"],
        question=d["question"],
        references=tuple(d.get("references", ())),
        choices=tuple(d.get("choices", ())),
        answer_index=d.get("answer_index"),
        answer_kind=d.get("answer_kind", "open"),
        metadata=dict(d.get("metadata", {})),
    )
