"""lm-eval `custom_dataset` loader: a calib task's items as flat docs.

The YAML says ``custom_dataset: !function calib_eval.harness.datasets.calib_docs``
and ``dataset_kwargs: {task: <name>}``. lm-eval calls it with the task's
``metadata`` (which also carries ``--model_args`` and ``--metadata`` keys) plus
``dataset_kwargs``; we read ``task``, ``data_root`` and ``source`` and ignore
the rest. The data root comes from ``--metadata '{"data_root": DIR}'``, else
``CALIB_EVAL_DATA``, else the loaders' default search (see
:func:`calib_eval.data.resolve_data_root`).

Docs come in the order of :func:`calib_eval.task_specs.load_task_examples`
(sha256 of a stable item key, ``task_specs.ITEM_ORDERING``), so ``lm_eval
--limit N`` scores the same N items as ``calib-eval run --limit N``, and both
keep them when the data folder grows.
"""
from __future__ import annotations

import json
from typing import Any

from calib_eval.task_specs import TaskSpec, get_task, load_task_examples
from calib_eval.types import Example

SPLIT = "test"  # the one split name every calib YAML points `test_split` at


def example_to_doc(spec: TaskSpec, example: Example, data_root: Any = None) -> dict[str, Any]:
    """Flatten an Example into an Arrow-friendly dict with the prompt precomputed.

    metadata differs in shape between data sets, so it travels as JSON text;
    ``answer_index`` None becomes -1 (Arrow wants one type per column).
    """
    choice = spec.mode == "choice"
    return {
        "calib_task": spec.name,
        "id": example.id,
        "task": example.task,
        "question": example.question,
        "references": list(example.references),
        "choices": list(example.choices),
        "answer_index": -1 if example.answer_index is None else int(example.answer_index),
        "answer_kind": example.answer_kind,
        "metadata": json.dumps(example.metadata, default=str, sort_keys=True),
        "prompt": spec.prompt(example, data_root),
        "continuations": list(spec.continuations(example)) if choice else [],
        "answerable": bool(example.metadata.get("answerable", True)),
    }


def doc_to_example(doc: dict[str, Any]) -> Example:
    """Inverse of :func:`example_to_doc` (what the grader needs)."""
    index = doc["answer_index"]
    return Example(
        id=doc["id"], task=doc["task"], question=doc["question"],
        references=tuple(doc["references"]), choices=tuple(doc["choices"]),
        answer_index=None if index is None or index < 0 else int(index),
        answer_kind=doc["answer_kind"], metadata=json.loads(doc["metadata"] or "{}"),
    )


def task_docs(task: str, data_root: Any = None, source: Any = None, limit: int | None = None) -> list[dict]:
    """The docs of one calib task as plain dicts, in the runner's order."""
    spec = get_task(task)
    examples = load_task_examples(spec, limit=limit, data_root=data_root, source=source)
    return [example_to_doc(spec, ex, data_root) for ex in examples]


def calib_docs(task: str, data_root: Any = None, source: Any = None, **_ignored: Any) -> dict:
    """`custom_dataset` entry point: ``{"test": datasets.Dataset}``.

    lm-eval needs a real ``datasets.Dataset`` (it reads ``.features``);
    ``_ignored`` swallows the version, config path and model_args lm-eval
    merges into the call.
    """
    import datasets

    return {SPLIT: datasets.Dataset.from_list(task_docs(task, data_root=data_root, source=source))}
