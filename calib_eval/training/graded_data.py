"""Build (and cache) the graded training set: the base model's own answers.

Kapoor et al. train on the model's zero-shot answers to a mix of QA sets
(never MMLU, never an evaluation task), graded against the reference. Here:
multiple-choice sources show their lettered options (:func:`prompts.mc_block`;
without them "Which of these..." has no answer and a 135M model got 0 of 40
ARC items right), the others ``"Question: {q}\\nAnswer:"``. Greedy decoding
up to ``max_new_tokens`` stops at a newline once the answer has text (SmolLM2
opened ~half its answers with "\\n" or EOS), graded with
:func:`calib_eval.grading.grade`. Examples are drawn round-robin across the
sources from a seeded shuffle, so ``max_examples`` is split evenly.

The cache is a JSONL file named by the model fingerprint and the selection
settings; rows are appended per batch, so a killed build resumes where it
stopped and a re-run with the same settings costs nothing.
"""
from __future__ import annotations

import hashlib
import json
import random
import time
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Callable, Sequence

from calib_eval import prompts
from calib_eval.errors import DataError
from calib_eval.types import Example, example_from_dict

# preferred split per training source (the offline copies hold only these)
TRAIN_SPLITS = {"arc_challenge": "train", "strategy_qa": "train", "anli": "train", "boolq": "dev",
                "commonsense_qa": "test", "openbookqa": "test"}
FORBIDDEN = ("mmlu",)  # evaluation data is never trained on
DEFAULT_CACHE = Path("~/.cache/calib-eval/graded").expanduser()
PROMPT_VERSION = "question-answer-v2"  # bump when the answering prompt or grading changes


@dataclass
class GradedExample:
    """One training item: the model's own answer to a question, and its grade."""

    id: str
    source: str
    prompt: str  # text the model answered (no few-shot prefix)
    answer: str  # decoded greedy answer
    prompt_ids: list[int]  # token ids exactly as answered (BOS included when the tokenizer adds one)
    answer_ids: list[int]  # generated token ids (stop token excluded)
    correct: bool
    reference: str  # first reference answer (UA-CLM's target text)
    grade_detail: str = ""
    example: dict = field(default_factory=dict)

    def to_json(self) -> dict:
        return asdict(self)

    @classmethod
    def from_json(cls, row: dict) -> "GradedExample":
        return cls(**row)


def select_examples(sources: Sequence[str], max_examples: int, seed: int, data_root=None) -> list[Example]:
    """Round-robin over per-source seeded shuffles: an even split of max_examples."""
    from calib_eval.data import load_dataset

    bad = [s for s in sources if any(s.startswith(f) for f in FORBIDDEN)]
    if bad:
        raise DataError(f"{bad} are evaluation data and may not be trained on; use the training mix")
    pools = []
    for i, name in enumerate(sources):
        split = {"split": TRAIN_SPLITS[name]} if name in TRAIN_SPLITS else {}
        pool = list(load_dataset(name, data_root=data_root, **split))
        random.Random(seed * 1000 + i).shuffle(pool)
        pools.append(pool)
    chosen: list[Example] = []
    depth = 0
    while len(chosen) < max_examples and any(depth < len(p) for p in pools):
        for pool in pools:
            if depth < len(pool) and len(chosen) < max_examples:
                chosen.append(pool[depth])
        depth += 1
    return chosen


def cache_path(fingerprint: str, sources: Sequence[str], max_examples: int, seed: int, max_new_tokens: int,
               cache_dir: str | Path | None = None) -> Path:
    key = json.dumps([list(sources), max_examples, seed, max_new_tokens, PROMPT_VERSION])
    digest = hashlib.sha256(key.encode()).hexdigest()[:10]
    return Path(cache_dir or DEFAULT_CACHE) / f"{fingerprint}-{digest}.jsonl"


def _read_cache(path: Path) -> dict[str, GradedExample]:
    rows: dict[str, GradedExample] = {}
    if not path.is_file():
        return rows
    for line in path.read_text().splitlines():
        try:
            g = GradedExample.from_json(json.loads(line))
        except (json.JSONDecodeError, TypeError):
            continue  # a line cut off by a killed run: recomputed
        rows[g.id] = g
    return rows


def training_question(example: Example) -> str:
    """Lettered options for multiple-choice sources, the bare question otherwise."""
    if example.answer_kind == "choice" and example.choices:
        return prompts.mc_block(example)
    return prompts.open_question(example)


def answer_and_grade(loaded, examples: Sequence[Example], max_new_tokens: int = 32,
                     batch_size: int = 8) -> list[GradedExample]:
    """Greedy zero-shot answers for `examples`, graded (order kept)."""
    from calib_eval.grading import grade
    from calib_eval.inference import encode_batch, greedy_decode, length_sorted_batches
    from calib_eval.inference.tokens import prompt_ids

    tok = loaded.tokenizer
    texts = [training_question(ex) for ex in examples]
    ids = [prompt_ids(tok, "", t)[1] for t in texts]
    out: list[GradedExample | None] = [None] * len(examples)
    for batch in length_sorted_batches([len(i) for i in ids], batch_size):
        state = encode_batch(loaded.model, [], [ids[i] for i in batch], tok.pad_token_id)
        result = greedy_decode(state, tok, max_new_tokens, ("\n",), stop_after_text=True)
        for row, i in enumerate(batch):
            ex, answer = examples[i], result.texts[row]
            correct, detail = grade(ex, answer) if answer.strip() else (False, "empty answer")
            out[i] = GradedExample(ex.id, ex.task, texts[i], answer, ids[i], result.token_ids[row], bool(correct),
                                   ex.references[0] if ex.references else "", detail,
                                   json.loads(json.dumps(asdict(ex), default=str)))
    return out  # type: ignore[return-value]


def build_graded(loaded, sources: Sequence[str] | None = None, max_examples: int = 1000, seed: int = 0,
                 max_new_tokens: int = 32, batch_size: int = 8, data_root=None, cache_dir=None,
                 on_progress: Callable[[int, int], None] | None = None) -> list[GradedExample]:
    """Graded examples for `loaded`, from the cache where possible (appended per batch)."""
    from calib_eval.data import TRAINING_MIX

    sources = tuple(sources or TRAINING_MIX)
    examples = select_examples(sources, max_examples, seed, data_root)
    path = cache_path(loaded.fingerprint, sources, max_examples, seed, max_new_tokens, cache_dir)
    done = _read_cache(path)
    todo = [ex for ex in examples if ex.id not in done]
    path.parent.mkdir(parents=True, exist_ok=True)
    chunk = max(batch_size * 4, 1)
    started = time.perf_counter()
    with path.open("a") as fh:
        for s in range(0, len(todo), chunk):
            for g in answer_and_grade(loaded, todo[s: s + chunk], max_new_tokens, batch_size):
                fh.write(json.dumps(g.to_json()) + "\n")
                done[g.id] = g
            fh.flush()
            if on_progress:
                on_progress(min(s + chunk, len(todo)), len(todo))
    if todo:
        print(f"graded {len(todo)} new examples in {time.perf_counter() - started:.1f}s -> {path}")
    return [done[ex.id] for ex in examples]


def balance_classes(rows: Sequence[GradedExample], seed: int = 0) -> list[GradedExample]:
    """Down-sample the majority class to the minority's size (order shuffled, seeded)."""
    pos = [r for r in rows if r.correct]
    neg = [r for r in rows if not r.correct]
    rng = random.Random(seed)
    n = min(len(pos), len(neg))
    kept = rng.sample(pos, n) + rng.sample(neg, n)
    rng.shuffle(kept)
    return kept


def require_two_classes(rows: Sequence[GradedExample], what: str = "training set") -> None:
    require_two_classes_labels([r.correct for r in rows], what)


def require_two_classes_labels(correct: Sequence[bool], what: str = "training set") -> None:
    """TrainingError unless both correct and incorrect answers are present."""
    from calib_eval.training.errors import TrainingError

    n_pos = sum(bool(c) for c in correct)
    if n_pos == 0 or n_pos == len(correct):
        cls = "correct" if n_pos else "incorrect"
        raise TrainingError(
            f"the {what} has {len(correct)} examples and all are {cls}: a calibration method needs both correct "
            f"and incorrect answers. Use more examples (--max-examples) or other sources.")


def split_holdout(rows: Sequence[GradedExample], fraction: float, seed: int) -> tuple[list, list]:
    """(train, held-out) split, seeded; held-out is empty when fraction is 0."""
    rows = list(rows)
    random.Random(seed + 7).shuffle(rows)
    n_hold = int(round(len(rows) * fraction))
    return rows[n_hold:], rows[:n_hold]


def to_example(g: GradedExample) -> Example:
    return example_from_dict(g.example)
