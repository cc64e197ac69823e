"""`leaderboard/models.yaml`: which models, adapters, scorers and tasks the leaderboard holds.

Schema (documented for users at the top of leaderboard/models.yaml)::

    models:                      # required, non-empty
      - name: default            # anything `calib-eval run --model` accepts
        adapters:                # optional: scorer name -> adapter folder (relative to the CWD)
          lora_prompt: adapters/smollm2-calibration-tune
        scorers: [...]           # optional: replaces the top-level list for this model
        tasks: [...]             # optional: replaces the top-level list for this model
        limit: 50                # optional: replaces the top-level limit
        dtype: bfloat16          # optional: `calib-eval run --dtype` (default auto); results record it
      - gemma3-270m              # a bare string is a model without overrides
    scorers: [p_true, ...]       # scorers every model runs (adapter scorers are added)
    tasks: [mmlu_oe_calib, ...]  # calib-eval task names
    limit: 100                   # items per task; omit or null for all
"""
from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

import yaml

from calib_eval.errors import DataError, unknown_name
from calib_eval.task_specs import get_task

TOP_KEYS = ("models", "scorers", "tasks", "limit")
# The folders bench/train_adapters.sh writes under the folder it is given: a spec adapter named like one
# of these is trained by `bash bench/train_adapters.sh <its parent folder> <model>`.
SCRIPT_ADAPTERS = ("calibration-tune", "probe", "ua-clm", "ua-clm-ce", "verbalized-sft", "multitask-sft", "temperature")
MODEL_KEYS = ("name", "adapters", "scorers", "tasks", "limit", "dtype")


@dataclass(frozen=True)
class ModelSpec:
    name: str
    scorers: tuple[str, ...]  # everything this model is scored with, adapter scorers included
    tasks: tuple[str, ...]
    adapters: dict  # scorer name -> adapter folder
    limit: int | None
    dtype: str = "auto"  # `calib-eval run --dtype`: e.g. bfloat16 for >= 0.5B models on a CPU with bf16 units


@dataclass(frozen=True)
class TrainingJob:
    """One bench/train_adapters.sh call the spec's adapters need."""

    folder: str  # the parent folder the script trains into
    model: str
    dtype: str  # the model's run dtype: a bfloat16 model trains with bf16 autocast too


def training_jobs(models: list[ModelSpec]) -> list[TrainingJob]:
    """The train_adapters.sh calls that make every adapter the spec names; other folders are the user's to train.

    One parent folder holds one base model's adapters: two models naming the same folder is an error,
    since an adapter scored on a base model it was not trained for measures nothing.
    """
    jobs: dict[str, TrainingJob] = {}
    for model in models:
        for folder in model.adapters.values():
            path = Path(folder)
            if path.name not in SCRIPT_ADAPTERS:
                continue
            job = TrainingJob(str(path.parent), model.name, model.dtype)
            other = jobs.setdefault(job.folder, job)
            if other.model != job.model:
                raise DataError(f"leaderboard spec: adapter folder {job.folder}/ is named by two models, "
                                f"{other.model} and {job.model}; give each model its own folder")
    return list(jobs.values())


def load_spec(path: str | Path) -> list[ModelSpec]:
    """Read and validate a models.yaml; one ModelSpec per model, overrides applied."""
    path = Path(path)
    try:
        data = yaml.safe_load(path.read_text(encoding="utf-8"))
    except FileNotFoundError:
        raise DataError(f"leaderboard spec not found: {path}") from None
    except yaml.YAMLError as exc:
        raise DataError(f"leaderboard spec {path} is not valid YAML: {exc}") from None
    if not isinstance(data, dict):
        raise DataError(f"leaderboard spec {path} must be a mapping with keys {', '.join(TOP_KEYS)}")
    _check_keys(data, TOP_KEYS, f"{path}")
    models = data.get("models")
    if not isinstance(models, list) or not models:
        raise DataError(f"leaderboard spec {path}: `models` must be a non-empty list")
    defaults = {"scorers": data.get("scorers") or [], "tasks": data.get("tasks") or [], "limit": data.get("limit")}
    return [_model(entry, defaults, f"{path}: models[{i}]") for i, entry in enumerate(models)]


def _model(entry, defaults: dict, where: str) -> ModelSpec:
    if isinstance(entry, str):
        entry = {"name": entry}
    if not isinstance(entry, dict) or not entry.get("name"):
        raise DataError(f"{where} needs a `name`")
    _check_keys(entry, MODEL_KEYS, where)
    adapters = entry.get("adapters") or {}
    if not isinstance(adapters, dict):
        raise DataError(f"{where}.adapters must map scorer names to adapter folders")
    scorers = _names(entry.get("scorers", defaults["scorers"]), f"{where}.scorers")
    scorers += tuple(s for s in adapters if s not in scorers)
    tasks = _names(entry.get("tasks", defaults["tasks"]), f"{where}.tasks")
    for task in tasks:
        get_task(task)  # did-you-mean error for a typo
    if not scorers or not tasks:
        raise DataError(f"{where} ({entry['name']}) has no scorers or no tasks")
    limit = entry.get("limit", defaults["limit"])
    if limit is not None and (not isinstance(limit, int) or isinstance(limit, bool) or limit < 1):
        raise DataError(f"{where}: limit must be a positive integer or null, got {limit!r}")
    dtype = str(entry.get("dtype", "auto"))
    from calib_eval.models import DTYPES

    if dtype not in DTYPES:
        raise DataError(f"{where}: dtype must be one of {', '.join(DTYPES)}, got {dtype!r}")
    return ModelSpec(str(entry["name"]), scorers, tasks, {str(k): str(v) for k, v in adapters.items()}, limit, dtype)


def _names(value, where: str) -> tuple[str, ...]:
    if not isinstance(value, list) or not all(isinstance(v, str) for v in value):
        raise DataError(f"{where} must be a list of names")
    return tuple(dict.fromkeys(value))  # drop repeats, keep order


def _check_keys(mapping: dict, allowed: tuple[str, ...], where: str) -> None:
    for key in mapping:
        if key not in allowed:
            error = unknown_name("key", str(key), allowed)
            raise DataError(f"{where}: {error}")
