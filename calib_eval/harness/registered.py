"""lm-eval side of a registry task (a plugin's ``calib_eval.tasks`` entry point).

A plugin task is a TaskSpec in Python, so lm-eval needs a YAML to find it by
name: ``calib-eval tasks install`` writes one stub per plugin task (see
:func:`plugin_stub`) next to the stubs of the packaged tasks; a plugin may
also ship the same two lines in its own folder for ``--include_path``. The
class builds the task from the packaged base of the spec's mode, as task files
do (:func:`calib_eval.harness.task_file.spec_config`), so ``lm_eval --tasks
NAME`` and ``calib-eval run --tasks NAME`` score the same items and prompts.
"""
from __future__ import annotations

from typing import Any

from calib_eval.errors import CalibEvalError

CLASS_REF = "calib_eval.harness.registered.RegisteredTask"


def plugin_stub(name: str) -> str:
    """The YAML lm-eval needs for registry task `name` (a JSON string is a valid YAML scalar)."""
    import json

    return f"task: {json.dumps(name)}\nclass: !function {CLASS_REF}\n"


class RegisteredTask:
    """Builds a GenerateCalibTask or ChoiceCalibTask for ``task:``, looked up in calib_eval.task_specs.TASKS."""

    def __new__(cls, config: dict[str, Any] | None = None, **kwargs: Any):
        from calib_eval.harness.task import ChoiceCalibTask, GenerateCalibTask
        from calib_eval.harness.task_file import spec_config
        from calib_eval.task_specs import TASKS

        config = config or {}
        name = config.get("task")
        if not isinstance(name, str):
            raise CalibEvalError(f"RegisteredTask needs `task: NAME` in its YAML, got {name!r}")
        spec = TASKS[name]  # loads the plugins; an unknown name gets a did-you-mean error
        task_class = GenerateCalibTask if spec.mode == "generate" else ChoiceCalibTask
        return task_class(config=spec_config(spec, config, name), **kwargs)

    def __init__(self, config: dict[str, Any] | None = None, **kwargs: Any) -> None:  # pragma: no cover
        # never runs (__new__ returns another class); lm-eval reads this signature to pass `config`
        pass
