"""lm-evaluation-harness output (`<out>/<model>/results_<date>.json`) -> leaderboard rows.

Only our calibration tasks (names ending in `_calib`, metrics `calib_ece,none`,
`calib_auroc,none`, `calib_brier,none`, `calib_acc,none` plus `_stderr`) are
read; every other task in the file is skipped. lm-eval computes the score
inside the task, so the scorer is named after what the task type implies:
P(True) for generate tasks, max-softmax over options for choice tasks.
"""
from __future__ import annotations

import re
from pathlib import Path

from calib_eval.errors import DataError
from calib_eval.leaderboard.records import (
    Estimate,
    Row,
    adapter_label,
    display_model_name,
    iso_utc,
    parse_time,
)
from calib_eval.leaderboard.table import EXTRA_METRICS
from calib_eval.metrics.recalibration import RECALIBRATION

ORIGIN = "lm-eval"
SCORER_FOR_MODE = {"generate": "lmeval_p_true", "choice": "lmeval_max_softmax"}
# "ece" is the recalibrated ECE, as in calib-eval results files; calib_ece (as produced) is "ece_raw"
METRICS = {"ece": "calib_ece_recal", "auroc": "calib_auroc", "brier": "calib_brier", "accuracy": "calib_acc"}
_CHOICE_OUTPUT_TYPES = {"multiple_choice", "loglikelihood"}
_FILE_DATE = re.compile(r"results_(\d{4}-\d{2}-\d{2})T(\d{2})-(\d{2})-(\d{2})")
_GPU_LINE = re.compile(r"GPU 0: ([^\n]+)")


def looks_like_lmeval(payload) -> bool:
    return (isinstance(payload, dict) and isinstance(payload.get("results"), dict)
            and ("config" in payload or "configs" in payload or "versions" in payload))


def rows_from_lmeval(payload: dict, source: str, path: Path) -> list[Row]:
    """Rows for the `*_calib` tasks of one lm-eval results file; DataError if none."""
    common = dict(
        model=_model_name(payload, path),
        adapter=adapter_label(_model_args(payload).get("peft") or _model_args(payload).get("adapter")),
        hardware=_hardware(payload),
        created=iso_utc(_created(payload, path)),
        package_version=str(payload.get("calib_eval_version") or ""),
        origin=ORIGIN,
        source=source,
    )
    rows = []
    for task, metrics in sorted(payload["results"].items()):
        if not (task.endswith("_calib") and isinstance(metrics, dict)):
            continue  # someone else's task in the same run
        row = _task_row(task, metrics, payload, common)
        if row is not None:
            rows.append(row)
    if not rows:
        raise DataError(f"{path} is lm-eval output without calib-eval metrics (no *_calib task with calib_ece)")
    return rows


def _task_row(task: str, metrics: dict, payload: dict, common: dict) -> Row | None:
    values = {name: _metric(metrics, key) for name, key in METRICS.items()}
    if all(v is None for v in values.values()):
        return None
    return Row(
        scorer=SCORER_FOR_MODE[_mode(task, payload)],
        task=task,
        aurc=None,
        n=_sample_count(task, payload, metrics),
        is_probability=True,  # both scorers output probabilities
        calibration=RECALIBRATION + " on logit(p)" if values["ece"] is not None else "none",
        extended={**{name: Estimate.parse(metrics.get(f"calib_{name},none")) for name in EXTRA_METRICS},
                  "ece_raw": _metric(metrics, "calib_ece")},
        **values,
        **common,
    )


def _metric(metrics: dict, name: str) -> Estimate | None:
    point = Estimate.parse(metrics.get(f"{name},none"))
    if point is None:
        return None
    stderr = Estimate.parse(metrics.get(f"{name}_stderr,none"))  # "N/A" parses to None
    if stderr is None:
        return point
    half = 1.96 * stderr.estimate  # normal-approximation 95% interval
    return Estimate(point.estimate, max(0.0, point.estimate - half), min(1.0, point.estimate + half))


def _mode(task: str, payload: dict) -> str:
    config = (payload.get("configs") or {}).get(task) or {}
    output_type = config.get("output_type") if isinstance(config, dict) else None
    if output_type:
        return "choice" if output_type in _CHOICE_OUTPUT_TYPES else "generate"
    from calib_eval.task_specs import TASKS

    spec = TASKS.get(task, None)
    return spec.mode if spec is not None else "generate"


def _model_args(payload: dict) -> dict:
    args = (payload.get("config") or {}).get("model_args") or {}
    if isinstance(args, dict):
        return {str(k): str(v) for k, v in args.items()}
    pairs = (part.split("=", 1) for part in str(args).split(",") if "=" in part)
    return {k.strip(): v.strip() for k, v in pairs}


def _model_name(payload: dict, path: Path) -> str:
    name = (payload.get("model_name") or _model_args(payload).get("pretrained")
            or payload.get("model_name_sanitized"))
    return display_model_name(str(name)) if name else path.parent.name


def _hardware(payload: dict) -> str:
    gpu = _GPU_LINE.search(str(payload.get("pretty_env_info") or ""))
    if gpu:
        return gpu.group(1).strip()
    return str((payload.get("config") or {}).get("device") or "")


def _created(payload: dict, path: Path) -> float:
    """`date` (epoch seconds in lm-eval 0.4), else the file name's date, else mtime."""
    try:
        if payload.get("date") is not None:
            return parse_time(payload["date"])
    except (TypeError, ValueError):
        pass  # fall through to the file name
    match = _FILE_DATE.search(path.name)
    if match:
        return parse_time("{}T{}:{}:{}".format(*match.groups()))
    return path.stat().st_mtime


def _sample_count(task: str, payload: dict, metrics: dict) -> int | None:
    counts = (payload.get("n-samples") or {}).get(task) or {}
    value = counts.get("effective") if isinstance(counts, dict) else None
    value = metrics.get("samples") if value is None else value
    return int(value) if isinstance(value, (int, float)) else None
