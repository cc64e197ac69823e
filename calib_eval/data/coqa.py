"""CoQA (conversational QA over a story; the UA-CLM in-distribution set).

Each story holds several turns; every turn becomes one ``open`` Example.
Upstream ``coqa-{train,dev}-v1.0.json``: ``data[]`` with id, story,
questions[{input_text, turn_id}], answers[{input_text, turn_id}], optional
additional_answers{k: [...]}. Hub ``stanfordnlp/coqa``: story, questions[str],
answers{input_text[]}. Both are read. There is no offline copy here; a copy at
``<root>/coqa/coqa-dev-v1.0.json`` is found for split ``validation``.

The question text is the story, then the earlier turns with their gold
answers ("Q: ...\nA: ..."), then "Q: <this turn>"; story, history and turn are
also in metadata for prompts that format their own. Ids:
``coqa/<split>/<story row>/<turn>`` (turn counts from 1).
"""
from __future__ import annotations

from pathlib import Path
from typing import Any

from calib_eval.data.sources import Row, Spec, build, check_opts, load_rows
from calib_eval.types import Example

NAME = "coqa"
SPEC = Spec(NAME, upstream="stanfordnlp/coqa", extensions=(".json", ".jsonl"),
            file_stems={"validation": ("coqa-dev-v1.0", "dev", "validation"),
                        "train": ("coqa-train-v1.0", "train")})


def _turns(row: Row) -> list[tuple[str, list[str]]]:
    """(question, acceptable answers) per turn, for either row style."""
    if isinstance(row["answers"], dict):  # hub: parallel lists
        return [(q, [a]) for q, a in zip(row["questions"], row["answers"]["input_text"], strict=True)]
    extra = list((row.get("additional_answers") or {}).values())
    turns = []
    for i, (q, a) in enumerate(zip(row["questions"], row["answers"], strict=True)):
        refs = [a["input_text"]] + [alt[i]["input_text"] for alt in extra if i < len(alt)]
        turns.append((q["input_text"], list(dict.fromkeys(r.strip() for r in refs if r.strip()))))
    return turns


def format_question(story: str, history: list[tuple[str, str]], question: str) -> str:
    lines = [story.strip(), ""] + [f"Q: {q}\nA: {a}" for q, a in history] + [f"Q: {question}"]
    return "\n".join(lines)


def story_examples(row: Row, index: int, split: str, source: str, history: bool = True) -> list[Example]:
    turns = _turns(row)
    out = []
    for t, (question, refs) in enumerate(turns):
        past = [(q, r[0]) for q, r in turns[:t]] if history else []
        out.append(Example(
            id=f"{NAME}/{split}/{index}/{t + 1}", task=NAME, question=format_question(row["story"], past, question),
            references=tuple(refs), answer_kind="open",
            metadata={"split": split, "source": source, "story": row["story"], "story_id": row.get("id"),
                      "turn": t + 1, "turn_question": question, "history": past},
        ))
    return out


def load(source: str | Path | None = None, split: str = "validation", limit: int | None = None,
         data_root: str | Path | None = None, history: bool = True, **opts: Any) -> list[Example]:
    """CoQA turns of one split, story by story; ``history=False`` drops earlier turns from the question."""
    check_opts(NAME, opts, ("history",))
    rows, where = load_rows(SPEC, source, split, data_root, opts.get("hub_config"))
    stories = build(rows, lambda r, i: story_examples(r, i, split, where, history), where, None)
    examples = [e for story in stories for e in story]
    return examples if limit is None else examples[:limit]
