"""What each calibration task is: which data, which prompt, how it is answered.

One spec per task, used by both the calib-eval runner and the lm-eval YAML
helpers (calib_eval.harness), so the two paths see the same items and prompts.
A prompt is split into a `prefix` shared by many items (the few-shot header,
encoded once and cached) and a per-item `suffix`.
"""
from __future__ import annotations

import hashlib
import re
from dataclasses import dataclass, field
from functools import lru_cache
from pathlib import Path
from typing import Callable

from calib_eval import prompts
from calib_eval.errors import unknown_name
from calib_eval.registry import Registry
from calib_eval.types import Example


def cut_at_stop(text: str, stop) -> str:
    """The answer as the grader sees it: everything before the first stop sequence."""
    for s in stop:
        if s:
            text = text.split(s, 1)[0]
    return text


@dataclass(frozen=True)
class TaskSpec:
    name: str
    dataset: str  # name in calib_eval.data's registry
    split: str | None  # None: the loader's default (sets with one split)
    mode: str  # "generate" (open-ended answer) or "choice" (pick one continuation)
    description: str
    build_prefix: Callable[[Example, str | Path | None], str] = field(repr=False, default=lambda ex, root: "")
    build_suffix: Callable[[Example], str] = field(repr=False, default=prompts.open_question)
    # choice mode: the continuations to compare (default: option letters)
    continuations: Callable[[Example], list[str]] = field(repr=False, default=prompts.mc_choice_continuations)
    max_new_tokens: int = 32
    stop: tuple[str, ...] = ("\n",)
    grader: Callable[[Example, str], tuple[bool, str]] = field(repr=False, default=None)
    # which loaded items the task keeps (None: all); see calib_eval.grading.option_refs
    keep: Callable[[Example], bool] | None = field(repr=False, default=None)

    def prompt(self, example: Example, data_root: str | Path | None = None) -> str:
        return self.build_prefix(example, data_root) + self.build_suffix(example)

    def grade(self, example: Example, answer: str) -> tuple[bool, str]:
        """Grade an answer; empty answers are wrong and say so."""
        from calib_eval import grading

        if not answer.strip():
            return False, "empty answer"
        return (self.grader or grading.grade)(example, answer)

    def regrade(self, example: Example, answer: str, stored_correct: bool) -> tuple[bool, str]:
        """Today's label for a stored answer: open answers are graded again with the current grader, so
        labels never lag a grader change; choice labels come from log-likelihoods and are kept."""
        if self.mode != "generate":
            return stored_correct, "from file"
        return self.grade(example, answer)


@lru_cache(maxsize=None)
def _mmlu_shots(subject: str, data_root: str | None) -> tuple[Example, ...]:
    from calib_eval.data import mmlu

    return tuple(mmlu.few_shot(subject, k=5, data_root=data_root))


def _root_key(data_root) -> str | None:
    return None if data_root is None else str(data_root)


def _mmlu_oe_prefix(example: Example, data_root) -> str:
    subject = example.metadata["subject"]
    return prompts.mmlu_oe_prefix(subject, _mmlu_shots(subject, _root_key(data_root)))


def _mmlu_mc_prefix(example: Example, data_root) -> str:
    subject = example.metadata["subject"]
    return prompts.mmlu_mc_prefix(subject, _mmlu_shots(subject, _root_key(data_root)))


def _selfaware_prefix(example: Example, data_root) -> str:
    return ("Answer the question in a few words. If the question has no known or "
            "definite answer, say that it is unknown.\n\n")


def _bio_prefix(example: Example, data_root) -> str:
    return "Answer the biomedical question in a few words.\n\n"


def _pubmedqa_suffix(example: Example) -> str:
    context = example.metadata.get("context", "")
    return f"Context: {context}\nQuestion: {example.question}\nAnswer (yes, no or maybe):"


def _grade_open_against_choice_text(example: Example, answer: str) -> tuple[bool, str]:
    # MMLU-OE: the model never sees the options; the correct option's text is the reference
    from calib_eval.grading import match_open

    return match_open(answer, example.references)


def _open_gradable(example: Example) -> bool:
    # MMLU-OE: drop items whose correct option only makes sense next to the others ("All of the above")
    from calib_eval.grading.option_refs import is_open_gradable

    return is_open_gradable(example)


def _choice_words(example: Example) -> list[str]:
    return [f" {c}" for c in example.choices]


def check_task(name: str, obj) -> str | None:
    """What keeps a plugin's object from being a task (None: nothing); the registry names the entry point."""
    from calib_eval.data import DATASETS

    if not isinstance(obj, TaskSpec):
        return f"expected a calib_eval.task_specs.TaskSpec, got {type(obj).__name__}"
    if obj.name != name:
        return f"the TaskSpec is named {obj.name!r} but its entry point is {name!r}; make them equal"
    if obj.mode not in ("generate", "choice"):
        return f"mode must be 'generate' or 'choice', got {obj.mode!r}"
    if obj.dataset not in DATASETS:
        return (f"dataset {obj.dataset!r} is not a registered loader (calib_eval.data.DATASETS); register it "
                "in the module that defines the spec, or use a built-in one")
    return None


# The built-in tasks, then any installed package's entry points in group "calib_eval.tasks"
# (docs/plugins.md); the registry loads those on first lookup.
TASKS: Registry[TaskSpec] = Registry("task", group="calib_eval.tasks", check=check_task)
for _spec in (
    TaskSpec("mmlu_oe_calib", "mmlu", "test", "generate",
             "MMLU open-ended, 57 subjects pooled, 5 dev shots (Kapoor et al.)",
             build_prefix=_mmlu_oe_prefix, grader=_grade_open_against_choice_text, keep=_open_gradable),
    TaskSpec("mmlu_mc_calib", "mmlu", "test", "choice",
             "MMLU multiple choice, 5 dev shots, max-softmax over A-D",
             build_prefix=_mmlu_mc_prefix, build_suffix=prompts.mc_block),
    TaskSpec("selfaware_calib", "selfaware", "all", "generate",
             "SelfAware: answerable vs unanswerable questions (abstaining is right on the latter)",
             build_prefix=_selfaware_prefix),
    TaskSpec("bioasq_ood_calib", "bioasq", "all", "generate",
             "BioASQ 12b golden (yes/no, factoid, list, summary): biomedical OOD",
             build_prefix=_bio_prefix, max_new_tokens=48),
    TaskSpec("pubmedqa_ood_calib", "pubmedqa", "all", "choice",
             "PubMedQA labelled: yes/no/maybe from the abstract",
             build_suffix=_pubmedqa_suffix, continuations=_choice_words),
    TaskSpec("medqa_ood_calib", "medqa", "test", "choice",
             "MedQA USMLE 4 options: medical OOD",
             build_suffix=prompts.mc_block),
):
    TASKS.register(_spec.name)(_spec)
del _spec


def get_task(name: str) -> TaskSpec:
    """A built-in task by name, or a task file (calib_eval.task_files) by path or by its loaded name."""
    if name in TASKS:
        return TASKS[name]
    from calib_eval import task_files

    spec = task_files.resolve(name)
    if spec is None:
        error = unknown_name("task", name, TASKS)
        raise type(error)(f"{error} A task file is named by its path (my_task.yaml); `calib-eval score` "
                          "takes --task-file FILE for generations of one.")
    return spec


# How load_task_examples orders items (recorded in every results file's provenance).
# v2: sha256 of each item's stable key, MMLU round-robin over subjects; v1 was a seeded shuffle
# of file order, which reshuffled everything when a data folder grew.
ITEM_ORDERING = "sha256-key-v2+mmlu-subject-rr"
PLAIN_ORDERING = "sha256-key-v2"
STRATIFIED_ORDERING = "sha256-key-v2+subject-rr"
# data sets whose ids are row numbers in a file: inserting a row renumbers the rows after it
_POSITIONAL_IDS = frozenset({"mmlu", "medqa"})
_STRATA = {"mmlu": "subject"}  # data set -> metadata field whose values take turns at the front


def order_key(example: Example, positional: bool) -> str:
    """What fixes an item's place: its id when that names the item upstream (BioASQ, PubMedQA,
    SelfAware ids, a task file's id column), its text (question and options) when the id is a row
    number (MMLU, MedQA, task files without an id column), so inserted rows move nothing."""
    if not positional:
        return example.id
    return "\x1f".join(("text", example.question, *example.choices))


def _digest(key: str) -> str:
    return hashlib.sha256(key.encode("utf-8")).hexdigest()


def _positional(spec: TaskSpec, examples: list[Example]) -> bool:
    if spec.dataset in _POSITIONAL_IDS:
        return True
    # a task file without an id column numbers its rows "<name>-<row>" (calib_eval.task_files)
    return bool(examples) and all(re.fullmatch(re.escape(ex.task) + r"-\d+", ex.id) for ex in examples)


def stable_order(examples: list[Example], positional: bool, stratum: str | None = None) -> list[Example]:
    """Items sorted by sha256 of their `order_key` (ties: by id); with `stratum`, strata take turns.

    Plain order: the first N are the N smallest hashes, so after adding items the
    first N are the old first N-a plus the a added items that hash before them
    (old items never reorder, and none returns that was not already in the old
    first N). Stratified: each stratum is in hash order and the strata (ordered by
    the hash of their name) give one item per round, so the first N hold a
    hash-order prefix of every stratum, of a length fixed by N and the strata sizes.
    """
    ranked = sorted(examples, key=lambda ex: (_digest(order_key(ex, positional)), ex.id))
    if stratum is None:
        return ranked
    groups: dict[str, list[Example]] = {}
    for ex in ranked:
        groups.setdefault(str(ex.metadata.get(stratum)), []).append(ex)
    queues = [groups[name] for name in sorted(groups, key=lambda name: (_digest(name), name))]
    return [q[i] for i in range(max(map(len, queues), default=0)) for q in queues if i < len(q)]


def item_ordering(spec: TaskSpec) -> str:
    """The ordering name for one task: stratified or plain."""
    return STRATIFIED_ORDERING if _STRATA.get(spec.dataset) else PLAIN_ORDERING


def load_task_examples(spec: TaskSpec, limit: int | None = None, data_root=None, source=None) -> list[Example]:
    """The task's items in `stable_order`; `limit` takes the first N.

    lm-eval's `--limit N` also takes the first N docs, and the harness serves
    docs in this same order, so both paths score the same items. Ordering by a
    hash of a stable key means adding data to a folder only adds items to a
    `--limit` run (at most as many old ones leave as new ones enter) instead of
    reshuffling it; MMLU's subjects take turns so 50 items span 50 subjects.
    A spec's `keep` then drops items the task cannot grade (MMLU-OE:
    option-bound references); it judges each item alone, so it keeps the guarantee.
    """
    from calib_eval.data import load_dataset

    split = {} if spec.split is None else {"split": spec.split}
    examples = list(load_dataset(spec.dataset, source=source, data_root=data_root, **split))
    examples = stable_order(examples, _positional(spec, examples), _STRATA.get(spec.dataset))
    if spec.keep is not None:  # after ordering, so the kept items stay in the same order
        examples = [ex for ex in examples if spec.keep(ex)]
    return examples if limit is None else examples[:limit]
