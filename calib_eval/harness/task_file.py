"""lm-eval side of a task file (calib_eval.task_files): ``class: !function calib_eval.harness.task_file.TaskFileTask``.

lm-eval hands the file's YAML (with ``metadata.config_source``, the file's
path) to this class. It builds the same task the packaged ``_calib_generate``
/ ``_calib_choice`` bases describe, with the docs read from the task file, so
``lm_eval --include_path DIR --tasks my_task`` and ``calib-eval run --tasks
DIR/my_task.yaml`` score the same items with the same prompts.
"""
from __future__ import annotations

from pathlib import Path
from typing import Any

from calib_eval.errors import CalibEvalError

_BASES = {"generate": "_calib_generate.yaml", "choice": "_calib_choice.yaml"}


def lm_eval_config(config: dict[str, Any]) -> tuple[str, dict[str, Any]]:
    """(mode, the config lm-eval's ConfigurableTask takes) for a task file's raw YAML config."""
    from calib_eval.task_specs import get_task

    metadata = dict(config.get("metadata") or {})
    source = metadata.get("config_source")
    if not source or not Path(source).is_file():
        raise CalibEvalError(f"task {config.get('task')!r}: TaskFileTask needs the task file's path "
                             "(lm-eval's metadata.config_source); load the file with --include_path or by path")
    spec = get_task(str(source))  # parses, checks and registers the file under its name
    return spec.mode, spec_config(spec, config, str(Path(source).resolve()))


def spec_config(spec, config: dict[str, Any], docs_task: str) -> dict[str, Any]:
    """The lm-eval config of a calib task `spec`: the packaged base of its mode, with the spec's stop,
    answer budget and docs (``calib_docs(task=docs_task)``), and the task name, tags and metadata of
    `config` (the stub or task file lm-eval read)."""
    from lm_eval.tasks._yaml_loader import load_yaml

    from calib_eval.harness.install import packaged_tasks_dir

    metadata = dict(config.get("metadata") or {})
    base = load_yaml(packaged_tasks_dir() / _BASES[spec.mode], resolve_func=True)
    base.pop("class", None)
    base.update(task=config["task"], dataset_kwargs={"task": docs_task},
                metadata={**(base.get("metadata") or {}), **metadata})
    if spec.mode == "generate":
        base["generation_kwargs"] = {**base["generation_kwargs"], "until": list(spec.stop),
                                     "max_gen_toks": spec.max_new_tokens}
    for key in ("tag", "task_alias"):
        if key in config:
            base[key] = config[key]
    return base


class TaskFileTask:
    """Builds a GenerateCalibTask or ChoiceCalibTask from a task file; lm-eval calls it like a task class."""

    def __new__(cls, config: dict[str, Any] | None = None, **kwargs: Any):
        from calib_eval.harness.task import ChoiceCalibTask, GenerateCalibTask

        mode, full = lm_eval_config(config or {})
        task_class = GenerateCalibTask if mode == "generate" else ChoiceCalibTask
        return task_class(config=full, **kwargs)

    def __init__(self, config: dict[str, Any] | None = None, **kwargs: Any) -> None:  # pragma: no cover
        # never runs (__new__ returns another class); lm-eval reads this signature to pass `config`
        pass
