"""Read lm-eval ``--log_samples`` output: what each logged item asked, answered and scored.

Any lm-eval task works, not only ours. A ``multiple_choice`` sample logs one
``[log-likelihood, is_greedy]`` pair per option (as strings); a
``generate_until`` sample logs the generated text. The two must never be
confused: reading option A's log-likelihood ``"-3.66"`` as the model's
answer gave a P(True) ECE of 0.233 where 0.061 was right. So a sample is
classified by the shape of its responses, and a choice sample's correctness
is recomputed from the log-likelihoods and checked against the ``acc`` that
lm-eval logged beside it.

No lm-eval import: the files are plain JSON Lines.
"""
from __future__ import annotations

import json
import math
import re
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from calib_eval.errors import DataError
from calib_eval.results import read_jsonl

SAMPLES_NAME = re.compile(r"^samples_(?P<task>.+?)_(?P<date>\d{4}-\d{2}-\d{2}T[\d\-.:]+)\.jsonl$")
_BOOL = {"True": True, "False": False, True: True, False: False}


@dataclass(frozen=True)
class LoggedItem:
    """One lm-eval sample, reduced to what calibration needs."""

    id: str  # doc["id"] when the doc has one, else "doc<doc_id>"
    mode: str  # "choice" or "generate"
    prompt: str  # the context the model saw (option-independent for choice tasks)
    answer: str  # choice: the argmax option's continuation; generate: the (filtered) text
    correct: bool  # choice: argmax of the raw log-likelihoods is gold; generate: the logged metric
    continuations: tuple[str, ...] = ()  # choice: each option's continuation, delimiter included
    lls: tuple[float, ...] = ()  # choice: each option's log-likelihood
    gold: tuple[int, ...] = ()  # choice: gold option index(es)
    correct_norm: bool | None = None  # choice: argmax of length-normalised log-likelihoods is gold
    target: str = ""  # lm-eval's logged target (the reference text for generate tasks)


@dataclass(frozen=True)
class LoggedTask:
    task: str
    path: Path
    mode: str
    items: tuple[LoggedItem, ...]
    model_name: str = "unknown"
    target_delimiter: str = " "


def find_sample_files(path: Path) -> dict[str, Path]:
    """task -> its newest ``samples_<task>_<date>.jsonl`` under ``path`` (a file or an output folder)."""
    path = Path(path)
    if path.is_file():
        files = [path]
    elif path.is_dir():
        files = sorted(path.rglob("samples_*.jsonl"))
    else:
        raise DataError(f"{path}: no such file or folder (expected lm_eval --output_path with --log_samples)")
    newest: dict[str, tuple[str, Path]] = {}
    for f in files:
        m = SAMPLES_NAME.match(f.name)
        if m is None:
            if path.is_file():
                raise DataError(f"{f}: not an lm-eval samples file (expected samples_<task>_<date>.jsonl)")
            continue
        if m["task"] not in newest or m["date"] > newest[m["task"]][0]:
            newest[m["task"]] = (m["date"], f)
    if not newest:
        raise DataError(f"{path}: no samples_<task>_<date>.jsonl found; run lm_eval with --log_samples "
                        "--output_path DIR and pass that DIR")
    return {task: f for task, (_, f) in sorted(newest.items())}


def _as_ll(entry: Any) -> float | None:
    """The log-likelihood of a logged ``[ll, is_greedy]`` response, None for anything else (text)."""
    if isinstance(entry, (list, tuple)) and len(entry) == 2 and entry[1] in _BOOL:
        try:
            value = float(entry[0])
        except (TypeError, ValueError):
            return None
        return value if not math.isnan(value) else None
    return None


def _argument_pairs(raw: dict) -> list[tuple[Any, Any]]:
    args = raw.get("arguments")
    if isinstance(args, dict):  # lm-eval 0.4.x: {"gen_args_0": {"arg_0": ctx, "arg_1": cont}, ...}
        return [(a.get("arg_0"), a.get("arg_1")) for _, a in sorted(args.items(), key=lambda kv: _arg_index(kv[0]))]
    return [tuple(a[:2]) for a in args or []]  # a list of (context, continuation)


def _arg_index(key: str) -> int:
    digits = re.sub(r"\D", "", key)
    return int(digits) if digits else 0


def _config(path: Path, task: str) -> dict:
    """The task's config from the ``results_<date>.json`` beside the samples, when there is one."""
    m = SAMPLES_NAME.match(path.name)
    results = path.with_name(f"results_{m['date']}.json") if m else None
    if results is None or not results.is_file():
        return {}
    try:
        payload = json.loads(results.read_text(encoding="utf-8"))
    except (OSError, ValueError):
        return {}
    return {"model_name": payload.get("model_name") or _pretrained(payload), **(payload.get("configs", {}).get(task) or {})}


def _pretrained(payload: dict) -> str | None:
    """``pretrained=`` of the logged model_args (older results files have no model_name)."""
    args = (payload.get("config") or {}).get("model_args")
    if isinstance(args, dict):
        return args.get("pretrained")
    m = re.search(r"(?:^|,)pretrained=([^,]+)", str(args or ""))
    return m.group(1) if m else None


def read_logged_tasks(path: Path, task: str | None = None) -> list[LoggedTask]:
    """Parse one samples file: one LoggedTask per lm-eval filter (gsm8k logs strict-match and flexible-extract).

    With one filter the task keeps its name; with several each is ``<task>_<filter>``.
    """
    path = Path(path)
    m = SAMPLES_NAME.match(path.name)
    task = task or (m["task"] if m else path.stem)
    config = _config(path, task)
    delimiter = config.get("target_delimiter", " ")
    by_filter: dict[str, list[LoggedItem]] = {}
    for number, raw in read_jsonl(path, "lm-eval samples"):
        by_filter.setdefault(str(raw.get("filter", "none")), []).append(logged_item(raw, path, number, delimiter))
    if not by_filter:
        raise DataError(f"{path}: no samples")
    out = []
    for name, items in by_filter.items():
        modes = {i.mode for i in items}
        if len(modes) > 1:
            raise DataError(f"{path}: mixes multiple-choice and generated samples; one task per file is expected")
        label = task if len(by_filter) == 1 else f"{task}_{re.sub(r'[^A-Za-z0-9_.-]+', '_', name)}"
        out.append(LoggedTask(label, path, modes.pop(), tuple(items), config.get("model_name") or "unknown",
                              delimiter))
    return out


def logged_item(raw: dict, path: Path, number: int, delimiter: str = " ") -> LoggedItem:
    """One parsed sample (``number``: its line, for messages)."""
    where = f"{path}:{number}"
    resps = raw.get("filtered_resps", raw.get("resps"))
    if not isinstance(resps, list) or not resps:
        raise DataError(f"{where}: sample has no filtered_resps/resps")
    doc = raw.get("doc") or {}
    item_id = str(doc["id"]) if isinstance(doc, dict) and "id" in doc else f"doc{raw.get('doc_id', number - 1)}"
    pairs = _argument_pairs(raw)
    lls = []
    for entry in resps:  # options come first; our choice tasks append a text "anchor" after them
        ll = _as_ll(entry)
        if ll is None:
            break
        lls.append(ll)
    if len(lls) >= 2:
        return _choice_item(raw, where, item_id, lls, pairs, delimiter)
    if _as_ll(resps[0]) is not None:
        raise DataError(f"{where}: one log-likelihood and no options: a loglikelihood task, not multiple "
                        "choice; it has no per-item confidence to calibrate")
    return _generate_item(raw, where, item_id, resps[0], pairs)


def _choice_item(raw, where, item_id, lls, pairs, delimiter) -> LoggedItem:
    if len(pairs) < len(lls) or any(not isinstance(c, str) for _, c in pairs[: len(lls)]):
        raise DataError(f"{where}: {len(lls)} option log-likelihoods but {len(pairs)} logged arguments")
    contexts = [ctx for ctx, _ in pairs[: len(lls)]]
    conts = tuple(c for _, c in pairs[: len(lls)])
    gold = _gold(raw, conts, delimiter, where)
    pred = max(range(len(lls)), key=lls.__getitem__)  # first maximum, as np.argmax
    choices = [c[len(delimiter):] if delimiter and c.startswith(delimiter) else c for c in conts]
    normed = [ll / max(len(c), 1) for ll, c in zip(lls, choices)]  # lm-eval's acc_norm: per character
    pred_norm = max(range(len(normed)), key=normed.__getitem__)
    correct = pred in gold
    logged = raw.get("calib_acc", raw.get("acc"))
    if logged is not None and bool(float(logged)) != correct:
        raise DataError(f"{where}: the options' log-likelihoods pick option {pred} (gold {list(gold)}) but lm-eval "
                        f"logged acc={logged}; the samples file does not match its own metrics")
    # the context is the same for every option, except for multiple-input tasks (winogrande)
    prompt = contexts[pred] if len(set(contexts)) > 1 else contexts[0]
    return LoggedItem(item_id, "choice", str(prompt), conts[pred], correct, conts, tuple(lls), gold,
                      pred_norm in gold, str(raw.get("target", "")))


def _gold(raw: dict, conts: tuple[str, ...], delimiter: str, where: str) -> tuple[int, ...]:
    doc = raw.get("doc") or {}
    if isinstance(doc, dict) and "calib_task" in doc and isinstance(doc.get("answer_index"), int):
        return (doc["answer_index"],)  # our choice tasks: the doc says it
    target = raw.get("target")
    if isinstance(target, int):
        return (target,)
    text = str(target).strip()
    if re.fullmatch(r"-?\d+", text):
        return (int(text),)
    try:
        parsed = json.loads(text)
    except ValueError:
        parsed = None
    if isinstance(parsed, list) and parsed and all(isinstance(x, int) for x in parsed):
        return tuple(parsed)
    stripped = [c[len(delimiter):] if delimiter and c.startswith(delimiter) else c for c in conts]
    if text in stripped:
        return (stripped.index(text),)
    raise DataError(f"{where}: cannot tell the gold option from target {target!r} (not an index, not an option)")


def _generate_item(raw, where, item_id, text, pairs) -> LoggedItem:
    if isinstance(text, list):  # repeats: the first one, as lm-eval's default "take_first" filter
        text = text[0] if text else ""
    if not isinstance(text, str):
        raise DataError(f"{where}: expected generated text, found {type(text).__name__}")
    correct = _logged_correctness(raw, where)
    prompt = pairs[0][0] if pairs else None
    if not isinstance(prompt, str):
        raise DataError(f"{where}: generated sample has no logged context (arguments)")
    return LoggedItem(item_id, "generate", prompt, text, correct, target=str(raw.get("target", "")))


# lm-eval metrics that say whether a generated answer is right, in the order we trust them
CORRECTNESS_METRICS = ("calib_acc", "exact_match", "acc", "em", "f1_correct")


def _logged_correctness(raw: dict, where: str) -> bool:
    for key in CORRECTNESS_METRICS:
        if key in raw:
            return float(raw[key]) >= 0.5
    named = [k for k in raw.get("metrics", []) if isinstance(raw.get(k), (int, float, bool))]
    if named:
        return float(raw[named[0]]) >= 0.5
    raise DataError(f"{where}: no per-item correctness metric (looked for {', '.join(CORRECTNESS_METRICS)})")
