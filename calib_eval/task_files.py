"""Task files: a user's own data as a calib task, in YAML, no code.

One file runs under both paths: ``calib-eval run --tasks ./my_task.yaml`` and
``lm_eval --include_path DIR --tasks my_task`` (its ``class:`` line points lm-eval
at :class:`calib_eval.harness.task_file.TaskFileTask`). Everything calib-eval
needs sits under ``calib:``::

    task: my_task
    class: !function calib_eval.harness.task_file.TaskFileTask
    calib:
      data: {path: my_items.jsonl}        # .jsonl/.csv/.json/.parquet, relative to this file
                                          # or {hub: owner/name, split: test, name: config}
      columns: {question: question, choices: [opa, opb, opc, opd], label: cop}
      mode: choice                        # or generate
      grading: choice_letter              # see GRADERS
      prompt: "Question: {question}\\n{choices}\\nAnswer:"
      fewshot: {count: 3, path: my_dev.jsonl, stratum: subject}   # optional

A file becomes a :class:`~calib_eval.task_specs.TaskSpec` named by its ``task:``;
:func:`resolve` loads it by path (and afterwards by name), and its rows are a
data loader named ``taskfile:<absolute path>``, so the runner, rescoring and the
lm-eval docs all read it through the same functions as the built-in tasks.
"""
from __future__ import annotations

import csv
import re
import string
from collections import Counter
from dataclasses import dataclass, field
from functools import lru_cache, partial
from pathlib import Path
from typing import Any

from calib_eval.errors import CalibEvalError, DataError, unknown_name
from calib_eval.types import Example

MODES = ("generate", "choice")
GRADERS = {  # rule -> the modes it grades
    "match": "generate", "contains": "generate", "yes_no": "generate", "numeric": "generate", "rouge_l": "generate",
    "choice_letter": "choice", "choice_text": "choice",
}
DEFAULT_PROMPTS = {
    "generate": "Question: {question}\nAnswer:",
    "choice": "Question: {question}\n{choices}\nAnswer:",
}
DATA_SUFFIXES = (".jsonl", ".json", ".csv", ".parquet")
LETTERS = string.ascii_uppercase
LM_EVAL_CLASS = "calib_eval.harness.task_file.TaskFileTask"
_LOADER_PREFIX = "taskfile:"
_LOADED: dict[str, Path] = {}  # task name -> its file, for lookups by name after a load by path


@dataclass(frozen=True)
class TaskFile:
    path: Path
    name: str
    data: dict[str, Any]
    columns: dict[str, Any]
    mode: str
    grading: str
    prompt: str
    instruction: str = ""
    fewshot: dict[str, Any] = field(default_factory=dict)
    rouge_threshold: float = 0.3
    max_new_tokens: int = 32
    stop: tuple[str, ...] = ("\n",)
    description: str = ""
    has_class: bool = False


def looks_like_file(name: str) -> bool:
    return str(name).endswith((".yaml", ".yml"))


def _yaml(path: Path) -> dict:
    import yaml

    class Loader(yaml.SafeLoader):  # lm-eval's `!function` tag: keep the text, resolve nothing
        pass

    Loader.add_constructor("!function", lambda loader, node: f"!function {loader.construct_scalar(node)}")
    try:
        raw = yaml.load(path.read_text(encoding="utf-8"), Loader=Loader)  # noqa: S506 - SafeLoader subclass
    except OSError as e:
        raise DataError(f"{path}: cannot read task file ({e.strerror or e})") from None
    except yaml.YAMLError as e:
        raise DataError(f"{path}: invalid YAML: {e}") from None
    if not isinstance(raw, dict):
        raise DataError(f"{path}: a task file is a YAML mapping with `task:` and `calib:`")
    return raw


def parse(path: str | Path) -> TaskFile:
    """Read and check the file's structure (not its data; see :func:`validate`)."""
    path = Path(path).expanduser().resolve()
    if not path.is_file():
        raise DataError(f"task file not found: {path}")
    raw = _yaml(path)
    calib = raw.get("calib")
    if not isinstance(raw.get("task"), str) or not isinstance(calib, dict):
        raise DataError(f"{path}: needs `task: <name>` and a `calib:` section (see tasks/examples/)")
    mode = calib.get("mode", "generate")
    if mode not in MODES:
        raise unknown_name("task-file mode", str(mode), MODES)
    grading = calib.get("grading", "choice_letter" if mode == "choice" else "match")
    if grading not in GRADERS:
        raise unknown_name("grading rule", str(grading), GRADERS)
    if GRADERS[grading] != mode:
        raise DataError(f"{path}: grading rule {grading!r} grades {GRADERS[grading]} tasks, not mode {mode!r}")
    data, columns = calib.get("data"), calib.get("columns") or {}
    if isinstance(data, str):
        data = {"path": data}
    if not isinstance(data, dict) or not ({"path", "hub"} & set(data)):
        raise DataError(f"{path}: calib.data needs `path:` (a local file) or `hub:` (a datasets hub id)")
    gen = calib.get("generation") or {}
    stop = gen.get("stop", ["\n"])
    return TaskFile(
        path=path, name=raw["task"], data=data, columns=dict(columns), mode=mode, grading=grading,
        prompt=calib.get("prompt", DEFAULT_PROMPTS[mode]), instruction=calib.get("instruction", ""),
        fewshot=dict(calib.get("fewshot") or {}), rouge_threshold=float(calib.get("rouge_threshold", 0.3)),
        max_new_tokens=int(gen.get("max_new_tokens", 32)), stop=tuple([stop] if isinstance(stop, str) else stop),
        description=calib.get("description", f"task file {path.name}"),
        has_class=str(raw.get("class", "")).endswith(LM_EVAL_CLASS),
    )


# --- data ---------------------------------------------------------------------------------------------------


def read_rows(spec: dict, base: Path, what: str = "data") -> list[dict]:
    """Rows of a task file's data (or few-shot) source, as dicts."""
    if spec.get("hub"):
        from calib_eval.data.sources import hub_rows

        return hub_rows(spec["hub"], spec.get("name"), spec.get("split", "test"), what)
    path = (base / str(spec["path"])).expanduser().resolve()
    if not path.is_file():
        raise DataError(f"{what}: file not found: {path} (paths are relative to the task file)")
    suffix = path.suffix.lower()
    if suffix not in DATA_SUFFIXES:
        raise DataError(f"{what}: {path.name}: unsupported format {suffix!r}; use one of {', '.join(DATA_SUFFIXES)}")
    if suffix == ".csv":
        return _csv_rows(path)
    if suffix == ".parquet":
        import pyarrow.parquet as pq

        return pq.read_table(path).to_pylist()
    from calib_eval.data.files import read_records

    rows = read_records(path)
    bad = next((i for i, r in enumerate(rows) if not isinstance(r, dict)), None)
    if bad is not None:
        raise DataError(f"{path}, record {bad + 1}: expected an object with named columns")
    return rows


def _csv_rows(path: Path) -> list[dict]:
    try:
        with open(path, encoding="utf-8", newline="") as f:
            return list(csv.DictReader(f))
    except (OSError, csv.Error) as e:
        raise DataError(f"{path}: cannot read CSV ({e})") from None


def _column(row: dict, name: str, where: str) -> Any:
    if name not in row:
        raise DataError(f"{where}: missing column {name!r} (the row has: {', '.join(map(str, row)) or 'nothing'})")
    return row[name]


def _as_list(value: Any) -> list:
    if isinstance(value, str):
        import json

        text = value.strip()
        if text.startswith("["):  # a CSV cell holding a JSON list
            try:
                return list(json.loads(text))
            except ValueError:
                pass
        return [value]
    if isinstance(value, dict):  # options keyed by letter ({"A": .., "B": ..}): in their order
        return list(value.values())
    return list(value) if isinstance(value, (list, tuple)) else [value]


def _choices(tf: TaskFile, row: dict, where: str) -> list[str]:
    spec = tf.columns.get("choices")
    if spec is None:
        raise DataError(f"{tf.path}: mode choice needs columns.choices (one list column, or a list of columns)")
    values = [_column(row, c, where) for c in spec] if isinstance(spec, list) else _as_list(_column(row, spec, where))
    return [str(v) for v in values]


def _label(value: Any, choices: list[str], where: str, base: int = 0) -> int:
    """An index (0-based, or 1-based with ``label_base: 1``), a letter (A..), or the correct option's text."""
    text = str(value).strip()
    if isinstance(value, bool):
        raise DataError(f"{where}: label {value!r} is not an option index, letter or text")
    if re.fullmatch(r"\d+", text) and 0 <= int(text) - base < len(choices):
        return int(text) - base
    if len(text) == 1 and text.upper() in LETTERS[: len(choices)]:
        return LETTERS.index(text.upper())
    if text in choices:
        return choices.index(text)
    raise DataError(f"{where}: label {value!r} is not an option index ({base}-{len(choices) - 1 + base}), letter "
                    "or option text")


def row_to_example(tf: TaskFile, row: dict, i: int, where: str) -> Example:
    cols = tf.columns
    question = str(_column(row, cols.get("question", "question"), where))
    item_id = str(_column(row, cols["id"], where)) if cols.get("id") else f"{tf.name}-{i}"
    metadata: dict[str, Any] = {"fields": _extra_fields(tf, row, where)}
    if cols.get("context"):
        metadata["context"] = str(_column(row, cols["context"], where))
    if tf.fewshot.get("stratum"):
        metadata["stratum"] = str(_column(row, tf.fewshot["stratum"], where))
    if tf.mode == "choice":
        choices = _choices(tf, row, where)
        index = _label(_column(row, cols.get("label", "label"), where), choices, where, int(cols.get("label_base", 0)))
        return Example(item_id, tf.name, question, (choices[index],), tuple(choices), index, "choice", metadata)
    answers = _as_list(_column(row, cols.get("answer", "answer"), where))
    if cols.get("aliases"):
        answers += _as_list(_column(row, cols["aliases"], where))
    answers = [str(a) for a in answers if str(a).strip()]
    if not answers:
        raise DataError(f"{where}: empty answer")
    return Example(item_id, tf.name, question, tuple(answers), answer_kind="open", metadata=metadata)


def _template_fields(template: str) -> list[str]:
    return [f for _, f, _, _ in string.Formatter().parse(template) if f]


def _extra_fields(tf: TaskFile, row: dict, where: str) -> dict[str, str]:
    """Raw columns the prompt template names besides question/context/choices."""
    own = {"question", "context", "choices"}
    return {f: str(_column(row, f, where)) for f in _template_fields(tf.prompt) if f not in own}


def examples_from(tf: TaskFile, rows: list[dict], where: str) -> list[Example]:
    out = []
    for i, row in enumerate(rows):
        try:
            out.append(row_to_example(tf, row, i, f"{where}, record {i + 1}"))
        except (TypeError, ValueError, AttributeError) as e:
            raise DataError(f"{where}, record {i + 1}: malformed row ({type(e).__name__}: {e})") from None
    if not out:
        raise DataError(f"{where}: no items (empty data)")
    dupes = [i for i, n in Counter(ex.id for ex in out).items() if n > 1]
    if dupes:
        raise DataError(f"{where}: duplicate ids, e.g. {', '.join(map(repr, dupes[:3]))} (set columns.id to a unique "
                        "column, or drop it to number the rows)")
    return out


def load_examples(path: str | Path, source=None, split=None, limit=None, data_root=None, **_opts) -> list[Example]:
    """The data loader behind ``taskfile:<path>`` (signature of calib_eval.data loaders)."""
    tf = parse(path)
    rows = read_rows(tf.data, tf.path.parent, f"{tf.path.name} data")
    examples = examples_from(tf, rows, f"{tf.path.name} data")
    return examples if limit is None else examples[:limit]


# --- prompts and grading ------------------------------------------------------------------------------------


def render(tf: TaskFile, example: Example) -> str:
    """The per-item prompt: the template filled from the example."""
    block = "\n".join(f"{LETTERS[i]}. {c}" for i, c in enumerate(example.choices))
    values = {"question": example.question, "context": example.metadata.get("context", ""), "choices": block,
              **example.metadata.get("fields", {})}
    return tf.prompt.format_map(values)


def continuations(tf: TaskFile, example: Example) -> list[str]:
    if tf.grading == "choice_letter":
        return [f" {LETTERS[i]}" for i in range(len(example.choices))]
    return [f" {c}" for c in example.choices]


def _shot(tf: TaskFile, example: Example) -> str:
    answer = (continuations(tf, example)[example.answer_index] if tf.mode == "choice"
              else f" {example.references[0]}")
    return f"{render(tf, example)}{answer}\n\n"


def _shots(tf: TaskFile) -> list[Example]:
    few = tf.fewshot
    if not few.get("count"):
        return []
    source = {k: few[k] for k in ("path", "hub", "split", "name") if k in few}
    if not ({"path", "hub"} & set(source)):
        source = {**tf.data, **source}  # a hub data set's other split
        if "split" not in few or "hub" not in tf.data or few["split"] == tf.data.get("split", "test"):
            raise DataError(f"{tf.path}: fewshot needs its own `path:` (or, for hub data, a `split:` other than "
                            "the test split), so no test item is shown as a shot")
    return examples_from(tf, read_rows(source, tf.path.parent, f"{tf.path.name} fewshot"), f"{tf.path.name} fewshot")


def prefix_builder(tf: TaskFile):
    """build_prefix(example, data_root): instruction + shots (fixed, or the first `count` of the item's stratum)."""
    shots = _shots(tf)
    count = int(tf.fewshot.get("count", 0))
    head = f"{tf.instruction}\n\n" if tf.instruction else ""
    if not tf.fewshot.get("stratum"):
        fixed = head + "".join(_shot(tf, s) for s in shots[:count])
        return lambda example, data_root=None: fixed
    by_stratum: dict[str, list[Example]] = {}
    for s in shots:
        by_stratum.setdefault(s.metadata["stratum"], [])
        if len(by_stratum[s.metadata["stratum"]]) < count:
            by_stratum[s.metadata["stratum"]].append(s)
    texts = {k: head + "".join(_shot(tf, s) for s in v) for k, v in by_stratum.items()}
    return lambda example, data_root=None: texts.get(example.metadata.get("stratum"), head)


def _first_number(text: str) -> float | None:
    m = re.search(r"-?\d+(?:\.\d+)?", text.replace(",", ""))
    return float(m.group()) if m else None


def _grade_choice(tf: TaskFile, example: Example, answer: str) -> tuple[bool, str]:
    """A chosen continuation is right or wrong exactly; free text (a sampled answer) goes to the choice grader."""
    from calib_eval.grading import match_choice

    options = continuations(tf, example)
    if answer in options:
        return options.index(answer) == example.answer_index, f"chose {answer.strip()!r}"
    return match_choice(answer, example.choices, example.answer_index)


def grader(tf: TaskFile):
    """grade(example, answer) -> (correct, detail) for the file's rule."""
    from calib_eval import grading
    from calib_eval.grading.text import normalize_text

    rule = tf.grading
    if tf.mode == "choice":
        return partial(_grade_choice, tf)
    if rule == "match":
        return lambda ex, answer: grading.match_open(answer, ex.references)
    if rule == "yes_no":
        return lambda ex, answer: grading.match_yesno(answer, ex.references[0])
    if rule == "rouge_l":
        return lambda ex, answer: grading.match_summary(answer, ex.references, tf.rouge_threshold)
    if rule == "contains":
        def contains(ex, answer):
            hits = [r for r in ex.references if normalize_text(r) and normalize_text(r) in normalize_text(answer)]
            return bool(hits), f"contains {hits[0]!r}" if hits else "no reference contained"
        return contains

    def numeric(ex, answer):
        got = _first_number(answer)
        refs = [n for n in (_first_number(r) for r in ex.references) if n is not None]
        ok = got is not None and any(abs(got - r) <= 1e-6 * max(1.0, abs(r)) for r in refs)
        return ok, f"number {got}" if got is not None else "no number"
    return numeric


# --- specs -------------------------------------------------------------------------------------------------


def to_spec(tf: TaskFile):
    """The file as a TaskSpec; its rows load through the `taskfile:<path>` data loader."""
    from calib_eval.data import DATASETS
    from calib_eval.task_specs import TaskSpec

    loader = _LOADER_PREFIX + str(tf.path)
    if loader not in DATASETS:
        DATASETS.register(loader)(partial(load_examples, tf.path))
    return TaskSpec(tf.name, loader, None, tf.mode, tf.description, build_prefix=prefix_builder(tf),
                    build_suffix=partial(render, tf), continuations=partial(continuations, tf),
                    max_new_tokens=tf.max_new_tokens, stop=tf.stop, grader=grader(tf))


def resolve(name: str):
    """The TaskSpec of a task file given by path, or by the name of one loaded before; None otherwise."""
    from calib_eval.task_specs import TASKS

    if looks_like_file(name):
        path = Path(name).expanduser().resolve()
        tf = parse(path)
        if tf.name in TASKS:
            raise DataError(f"{tf.path}: task name {tf.name!r} is a built-in calib task; choose another name")
        _LOADED[tf.name] = tf.path
    elif name in _LOADED:
        path = _LOADED[name]
    else:
        return None
    return _cached_spec(path, path.stat().st_mtime_ns)


@lru_cache(maxsize=64)
def _cached_spec(path: Path, mtime_ns: int):
    # get_task runs once per item in lm-eval's process_results: parse and read the shots once per file version
    return to_spec(parse(path))


def mapped_columns(tf: TaskFile) -> dict[str, str]:
    """role -> column name, for every column the file names (choices may be several)."""
    cols = tf.columns
    roles = {"question": cols.get("question", "question")}
    if tf.mode == "choice":
        roles["label"] = cols.get("label", "label")
        choices = cols.get("choices")
        for i, c in enumerate(choices if isinstance(choices, list) else [choices]):
            roles[f"choices[{i}]" if isinstance(choices, list) else "choices"] = c
    else:
        roles["answer"] = cols.get("answer", "answer")
    for role in ("id", "context", "aliases"):  # label_base is a setting, not a column
        if cols.get(role):
            roles[role] = cols[role]
    if tf.fewshot.get("stratum"):
        roles["fewshot.stratum"] = tf.fewshot["stratum"]
    return roles


def _missing_columns(tf: TaskFile, rows: list[dict]) -> list[str]:
    if not rows:
        return [f"{tf.path.name} data: no items (empty data)"]
    present = set().union(*(r.keys() for r in rows[:100]))
    out = []
    for role, column in mapped_columns(tf).items():
        if column is None:
            out.append(f"columns.{role} is not set")
        elif column not in present:
            out.append(f"missing column {column!r} (columns.{role}); the data has: {', '.join(sorted(map(str, present)))}")
    return out


def validate(path: str | Path) -> tuple[list[str], TaskFile | None, int]:
    """(problems, parsed file, item count): every problem found, each named; [] when the file is ready."""
    try:
        tf = parse(path)
    except CalibEvalError as e:  # structure problems stop here: nothing below can be checked
        return [str(e)], None, 0
    problems = []
    if not tf.has_class:
        problems.append(f"no `class: !function {LM_EVAL_CLASS}` line: calib-eval runs the file, plain lm_eval "
                        "cannot")
    try:
        rows = read_rows(tf.data, tf.path.parent, f"{tf.path.name} data")
    except DataError as e:
        return problems + [str(e)], tf, 0
    missing = _missing_columns(tf, rows)
    if missing:
        return problems + missing, tf, len(rows)
    try:
        examples = examples_from(tf, rows, f"{tf.path.name} data")
    except DataError as e:
        return problems + [str(e)], tf, len(rows)
    unknown = [f for f in _template_fields(tf.prompt) if f.split(".")[0].split("[")[0] not in
               {"question", "context", "choices", *examples[0].metadata.get("fields", {})}]
    if unknown:
        problems.append(f"prompt names unknown fields: {', '.join(unknown)}")
    if "{choices}" not in tf.prompt and tf.grading == "choice_letter":
        problems.append("grading choice_letter but the prompt does not show {choices}: the letters mean nothing")
    try:
        spec = to_spec(tf)
        spec.prompt(examples[0])
    except (DataError, KeyError, IndexError, ValueError) as e:
        problems.append(f"prompt or fewshot: {e}")
    return problems, tf, len(examples)
