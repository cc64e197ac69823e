"""Measure the open-ended grader on real data: false accepts of wrong answers, acceptance of right ones.

A probe grades many (item, answer) pairs and counts acceptances. False-accept
probes give wrong answers (MMLU's wrong options, other items' answers); accept
probes give the right answer in several phrasings (:data:`PHRASINGS`). The rates
are what bench/grader_rates.py prints and what tests/test_grading_rates.py bounds.
"""
from __future__ import annotations

import random
from dataclasses import dataclass, field
from pathlib import Path
from typing import Callable, Iterable, Sequence

from calib_eval.types import Example

GradeFn = Callable[[Example, str], tuple[bool, str]]


def _bare(x: str) -> str:
    return x


def _period(x: str) -> str:
    return x.rstrip(". ") + "."


def _stated(x: str) -> str:
    return f"The answer is {x.rstrip('. ')}."


def _lower(x: str) -> str:
    return x.lower()


def _explained(x: str) -> str:
    return f"{x.rstrip('. ')}. This follows from the facts given in the question."


# the right answer, as a model might phrase it
PHRASINGS: dict[str, Callable[[str], str]] = {
    "bare": _bare, "period": _period, "stated": _stated, "lower": _lower, "explained": _explained,
}
ABSTENTIONS = ("Unknown.", "No one knows.", "I don't know.", "It is impossible to say.",
               "There is no definitive answer to this question.")
OTHERS_PER_ITEM = 20  # SelfAware: wrong answers drawn from other items, per item


@dataclass
class Probe:
    """Acceptances over (item, answer) pairs; ``false_accept`` says which way is bad."""

    name: str
    false_accept: bool
    pairs: int = 0
    accepted: int = 0
    items: int = 0
    items_accepted: int = 0  # items with at least one accepted pair
    failures: list[tuple[str, str, str]] = field(default_factory=list)  # (id, answer, why bad)

    def add_item(self, example: Example, answers: Iterable[str], grade: GradeFn) -> None:
        hit = False
        for answer in answers:
            ok, detail = grade(example, answer)
            self.pairs += 1
            self.accepted += ok
            hit |= ok
            if ok == self.false_accept:
                self.failures.append((example.id, answer, detail))
        self.items += 1
        self.items_accepted += hit

    @property
    def pair_rate(self) -> float:
        return self.accepted / self.pairs if self.pairs else float("nan")

    @property
    def item_rate(self) -> float:
        return self.items_accepted / self.items if self.items else float("nan")


def phrasings(reference: str) -> list[str]:
    return [f(reference) for f in PHRASINGS.values()]


def accept_probes(name: str, examples: Sequence[Example], grade: GradeFn,
                  answer_of: Callable[[Example], str]) -> list[Probe]:
    """One accept probe per phrasing of each item's right answer."""
    probes = []
    for key, phrase in PHRASINGS.items():
        probe = Probe(f"{name} accept [{key}]", false_accept=False)
        for ex in examples:
            probe.add_item(ex, [phrase(answer_of(ex))], grade)
        probes.append(probe)
    return probes


def mmlu_probes(examples: Sequence[Example], grade: GradeFn) -> list[Probe]:
    """Every wrong option's text as the answer; the right option's text in every phrasing."""
    wrong = Probe("mmlu wrong options", false_accept=True)
    for ex in examples:
        right = ex.choices[ex.answer_index]
        wrong.add_item(ex, [c for i, c in enumerate(ex.choices) if i != ex.answer_index and c != right], grade)
    return [wrong, *accept_probes("mmlu", examples, grade, lambda ex: ex.choices[ex.answer_index])]


def _same_answer(candidate: str, example: Example) -> bool:
    return candidate.strip().lower() in {r.strip().lower() for r in example.references}


def others_probe(name: str, examples: Sequence[Example], pool: Sequence[Example], grade: GradeFn,
                 per_item: int | None = None, seed: int = 0) -> Probe:
    """Other items' first answers given as this item's answer (all of them, or ``per_item`` drawn)."""
    rng = random.Random(seed)
    probe = Probe(f"{name} other items' answers", false_accept=True)
    for ex in examples:
        others = [o for o in pool if o.id != ex.id and o.references]
        if per_item is not None and len(others) > per_item:
            others = rng.sample(others, per_item)
        answers = [o.references[0] for o in others if not _same_answer(o.references[0], ex)]
        probe.add_item(ex, answers, grade)
    return probe


def mixed_probe(name: str, examples: Sequence[Example], grade: GradeFn, seed: int = 0) -> Probe:
    """The right answer hedged, negated or listed with another item's answer: "X, Y", "Y or X", "not X"."""
    rng = random.Random(seed)
    probe = Probe(f"{name} right answer mixed with a wrong one", false_accept=True)
    for ex in examples:
        others = [o.references[0] for o in examples if o.id != ex.id and not _same_answer(o.references[0], ex)]
        right, wrong = ex.references[0], rng.choice(others)
        probe.add_item(ex, [f"{right}, {wrong}", f"{wrong} and {right}", f"{wrong} or {right}",
                            f"either {right} or {wrong}", f"not {right}"], grade)
    return probe


def bioasq_probes(examples: Sequence[Example], grade: GradeFn) -> list[Probe]:
    out = []
    for qtype in ("factoid", "list"):
        items = [e for e in examples if e.metadata.get("type") == qtype and e.references]
        out.append(others_probe(f"bioasq {qtype}", items, items, grade))
        out.append(mixed_probe(f"bioasq {qtype}", items, grade))
        out.extend(accept_probes(f"bioasq {qtype}", items, grade, lambda ex: ex.references[0]))
    return out


def selfaware_probes(examples: Sequence[Example], grade: GradeFn) -> list[Probe]:
    answerable = [e for e in examples if e.answer_kind == "open" and e.references]
    unanswerable = [e for e in examples if e.answer_kind == "unanswerable"]
    out = [others_probe("selfaware answerable", answerable, answerable, grade, OTHERS_PER_ITEM),
           mixed_probe("selfaware answerable", answerable, grade)]
    out.extend(accept_probes("selfaware answerable", answerable, grade, lambda ex: ex.references[0]))
    out.append(others_probe("selfaware unanswerable: committed", unanswerable, answerable, grade, OTHERS_PER_ITEM))
    abstain = Probe("selfaware unanswerable: abstentions", false_accept=False)
    for ex in unanswerable:
        abstain.add_item(ex, ABSTENTIONS, grade)
    return out + [abstain]


def mmlu_open_examples(data_root: str | Path) -> tuple[list[Example], GradeFn]:
    """MMLU test items as mmlu_oe_calib grades them, and its grader."""
    from calib_eval.data import load_dataset
    from calib_eval.task_specs import get_task

    spec = get_task("mmlu_oe_calib")
    return load_dataset("mmlu", data_root=data_root, split="test"), spec.grade


def audit_all(data_root: str | Path) -> list[Probe]:
    from calib_eval.data import load_dataset
    from calib_eval.grading import grade

    mmlu, mmlu_grade = mmlu_open_examples(data_root)
    return [*mmlu_probes(mmlu, mmlu_grade),
            *bioasq_probes(load_dataset("bioasq", data_root=data_root), grade),
            *selfaware_probes(load_dataset("selfaware", data_root=data_root), grade)]


def format_rows(probes: Sequence[Probe], show: int = 0) -> str:
    lines = [f"{'probe':48} {'items':>6} {'item rate':>9} {'pairs':>7} {'pair rate':>9}"]
    for p in probes:
        lines.append(f"{p.name:48} {p.items:6d} {p.item_rate:9.4%} {p.pairs:7d} {p.pair_rate:9.4%}")
        lines.extend(f"    {i}: {a!r} ({d})" for i, a, d in p.failures[:show])
    return "\n".join(lines)
