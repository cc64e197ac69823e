"""Task files: parsing, data formats, prompts, grading rules, few-shot sources, and named problems."""
from __future__ import annotations

import csv
import json
from pathlib import Path

import pytest

from calib_eval import task_files
from calib_eval.cli import main
from calib_eval.errors import CalibEvalError, DataError
from calib_eval.task_specs import get_task, load_task_examples

EXAMPLES = Path(__file__).resolve().parents[1] / "tasks" / "examples"

CHOICE = """task: {name}
class: !function calib_eval.harness.task_file.TaskFileTask
calib:
  data: {{path: {data}}}
  columns: {{question: q, choices: [a, b, c], label: gold}}
  mode: choice
  grading: {grading}
"""
ROWS = [{"q": "one?", "a": "1", "b": "2", "c": "3", "gold": "0"},
        {"q": "two?", "a": "1", "b": "2", "c": "3", "gold": "B"},
        {"q": "three?", "a": "1", "b": "2", "c": "3", "gold": "3"}]


def _write(folder: Path, rows, name="items.jsonl", text=CHOICE, **fmt) -> Path:
    data = folder / name
    if name.endswith(".jsonl"):
        data.write_text("".join(json.dumps(r) + "\n" for r in rows))
    elif name.endswith(".json"):
        data.write_text(json.dumps(rows))
    elif name.endswith(".csv"):
        with open(data, "w", newline="") as f:
            writer = csv.DictWriter(f, fieldnames=list(rows[0]))
            writer.writeheader()
            writer.writerows(rows)
    else:
        import pyarrow as pa
        import pyarrow.parquet as pq

        pq.write_table(pa.Table.from_pylist(rows), data)
    task = folder / "task.yaml"
    task.write_text(text.format(**{"name": f"tf_{folder.name}", "data": name, "grading": "choice_letter", **fmt}))
    return task


@pytest.mark.parametrize("fmt", ["items.jsonl", "items.json", "items.csv", "items.parquet"])
def test_every_data_format_gives_the_same_items(tmp_path, fmt):
    task = _write(tmp_path, ROWS, fmt)
    examples = task_files.load_examples(task)
    assert [e.answer_index for e in examples] == [0, 1, 2]  # index, letter, option text
    assert [e.choices for e in examples] == [("1", "2", "3")] * 3
    assert [e.id for e in examples] == [f"tf_{tmp_path.name}-{i}" for i in range(3)]


def test_task_file_is_a_task_by_path_then_by_name(tmp_path):
    task = _write(tmp_path, ROWS)
    spec = get_task(str(task))
    assert spec.name == f"tf_{tmp_path.name}" and spec.mode == "choice"
    assert get_task(spec.name) is spec  # process_results looks it up by the name the docs carry
    examples = load_task_examples(spec)
    assert sorted(e.question for e in examples) == ["one?", "three?", "two?"]
    ex = next(e for e in examples if e.question == "two?")
    assert spec.prompt(ex) == "Question: two?\nA. 1\nB. 2\nC. 3\nAnswer:"
    assert spec.continuations(ex) == [" A", " B", " C"]
    assert spec.grade(ex, " B")[0] and not spec.grade(ex, " A")[0]
    assert spec.grade(ex, " (B) 2\n")[0] and not spec.grade(ex, " 3")[0]  # free text: the choice grader


def test_choice_text_continuations_are_the_options(tmp_path):
    task = _write(tmp_path, ROWS, grading="choice_text")
    spec = get_task(str(task))
    ex = task_files.load_examples(task)[2]
    assert spec.continuations(ex) == [" 1", " 2", " 3"] and spec.grade(ex, " 3")[0]


GENERATE = """task: {name}
class: !function calib_eval.harness.task_file.TaskFileTask
calib:
  data: {{path: {data}}}
  columns: {{id: id, question: q, answer: a, aliases: alt, context: ctx}}
  mode: generate
  grading: {grading}
  prompt: "{{context}}\\nQ: {{question}} ({{topic}})\\nA:"
  rouge_threshold: 0.5
  fewshot: {{count: 1, path: dev.jsonl, stratum: topic}}
"""
GEN_ROWS = [{"id": "g1", "q": "Capital of France?", "a": "Paris", "alt": ["City of Paris"], "ctx": "Europe.",
             "topic": "geo"},
            {"id": "g2", "q": "Two plus two?", "a": "4", "alt": [], "ctx": "Sums.", "topic": "math"}]
DEV_ROWS = [{"id": "d1", "q": "Capital of Spain?", "a": "Madrid", "alt": [], "ctx": "Europe.", "topic": "geo"},
            {"id": "d2", "q": "One plus one?", "a": "2", "alt": [], "ctx": "Sums.", "topic": "math"},
            {"id": "d3", "q": "Capital of Italy?", "a": "Rome", "alt": [], "ctx": "Europe.", "topic": "geo"}]


@pytest.fixture
def generate_task(tmp_path):
    def make(grading="match"):
        _write(tmp_path, DEV_ROWS, "dev.jsonl", text="")
        return _write(tmp_path, GEN_ROWS, text=GENERATE, grading=grading)
    return make


def test_per_stratum_shots_context_and_extra_fields(generate_task):
    task = generate_task()
    spec = get_task(str(task))
    geo, math = task_files.load_examples(task)
    assert geo.references == ("Paris", "City of Paris")
    assert spec.prompt(geo) == "Europe.\nQ: Capital of Spain? (geo)\nA: Madrid\n\nEurope.\nQ: Capital of France? (geo)\nA:"
    assert spec.prompt(math).startswith("Sums.\nQ: One plus one? (math)\nA: 2\n\n")


@pytest.mark.parametrize("grading, answer, correct", [
    ("match", " city of paris", True), ("match", " Lyon", False),
    ("contains", " I think it is Paris, France", True), ("contains", " London", False),
    ("rouge_l", " the city of paris", True), ("rouge_l", " no idea at all", False),
])
def test_generate_grading_rules(generate_task, grading, answer, correct):
    spec = get_task(str(generate_task(grading)))
    geo = task_files.load_examples(generate_task(grading))[0]
    assert spec.grade(geo, answer)[0] is correct


def test_numeric_and_yes_no_rules(tmp_path):
    text = GENERATE.replace("  fewshot: {{count: 1, path: dev.jsonl, stratum: topic}}\n", "").replace(" ({{topic}})", "")
    rows = [{"id": "n", "q": "How many?", "a": "1,200", "alt": [], "ctx": ""}]
    spec = get_task(str(_write(tmp_path, rows, text=text, grading="numeric")))
    ex = task_files.load_examples(tmp_path / "task.yaml")[0]
    assert spec.grade(ex, " about 1200 of them")[0] and not spec.grade(ex, " 12")[0]
    rows = [{"id": "y", "q": "Is it?", "a": "yes", "alt": [], "ctx": ""}]
    spec = get_task(str(_write(tmp_path, rows, text=text, grading="yes_no")))
    ex = task_files.load_examples(tmp_path / "task.yaml")[0]
    assert spec.grade(ex, " Yes, it is")[0] and not spec.grade(ex, " No")[0]


# --- named problems -----------------------------------------------------------------------------------------


def _problems(task: Path) -> list[str]:
    return task_files.validate(task)[0]


def test_shipped_examples_validate(capsys):
    files = sorted(EXAMPLES.glob("*.yaml"))
    assert {f.name for f in files} == {"medmcqa_style.yaml", "open_qa.yaml"}
    assert main(["tasks", "validate", *map(str, files)]) == 0
    out = capsys.readouterr().out
    assert "medmcqa_style_example, choice, 8 items" in out and "open_qa_example, generate, 6 items" in out


def test_missing_data_file_is_named(tmp_path):
    task = _write(tmp_path, ROWS)
    (tmp_path / "items.jsonl").unlink()
    [problem] = _problems(task)
    assert "file not found" in problem and "items.jsonl" in problem


def test_missing_columns_are_each_named(tmp_path):
    rows = [{k: v for k, v in r.items() if k not in ("b", "gold")} for r in ROWS]
    problems = _problems(_write(tmp_path, rows))
    assert any("missing column 'b' (columns.choices[1])" in p for p in problems)
    assert any("missing column 'gold' (columns.label)" in p for p in problems)
    with pytest.raises(DataError, match="record 1: missing column 'b'"):  # a run names it too
        task_files.load_examples(tmp_path / "task.yaml")


def test_unknown_grading_rule_gets_did_you_mean(tmp_path):
    [problem] = _problems(_write(tmp_path, ROWS, grading="choice_leter"))
    assert "Unknown grading rule 'choice_leter'" in problem and "choice_letter" in problem


def test_grading_rule_of_the_other_mode_is_named(tmp_path):
    [problem] = _problems(_write(tmp_path, ROWS, grading="rouge_l"))
    assert "grades generate tasks, not mode 'choice'" in problem


def test_empty_data_is_named(tmp_path):
    task = _write(tmp_path, ROWS)
    (tmp_path / "items.jsonl").write_text("")
    assert any("empty data" in p for p in _problems(task))


def test_duplicate_ids_are_named(tmp_path):
    text = CHOICE.replace("columns: {{question: q,", "columns: {{id: q, question: q,")
    rows = ROWS + [dict(ROWS[0])]
    [problem] = _problems(_write(tmp_path, rows, text=text))
    assert "duplicate ids" in problem and "'one?'" in problem


def test_bad_label_names_the_record(tmp_path):
    rows = ROWS[:1] + [dict(ROWS[1], gold="Z")]
    [problem] = _problems(_write(tmp_path, rows))
    assert "record 2" in problem and "label 'Z'" in problem


def test_missing_class_line_and_unknown_prompt_field_are_named(tmp_path):
    text = CHOICE.replace("class: !function calib_eval.harness.task_file.TaskFileTask\n", "") + \
        '  prompt: "{{question}} {{subject}}\\n{{choices}}"\n'
    problems = _problems(_write(tmp_path, ROWS, text=text))
    assert any("plain lm_eval cannot" in p for p in problems)
    assert any("'subject'" in p for p in problems)


def test_cli_validate_exits_nonzero_and_lists_problems(tmp_path, capsys):
    task = _write(tmp_path, ROWS, grading="nope")
    assert main(["tasks", "validate", str(task)]) == 1
    assert "Unknown grading rule 'nope'" in capsys.readouterr().out


def test_builtin_task_name_is_refused(tmp_path):
    task = _write(tmp_path, ROWS)
    task.write_text(task.read_text().replace(f"task: tf_{tmp_path.name}", "task: mmlu_mc_calib"))
    with pytest.raises(CalibEvalError, match="built-in calib task"):
        get_task(str(task))


@pytest.mark.parametrize("fewshot", ["{{count: 2}}", "{{count: 2, split: test}}"])
def test_fewshot_from_the_test_data_is_refused(tmp_path, fewshot):
    text = CHOICE + f"  fewshot: {fewshot}\n"
    if "split" in fewshot:
        text = text.replace("data: {{path: {data}}}", "data: {{hub: org/set, split: test}}")
    with pytest.raises(DataError, match="fewshot needs its own"):
        get_task(str(_write(tmp_path, ROWS, text=text)))


def test_options_in_a_dict_column_and_a_letter_label(tmp_path):
    """MedQA's layout: options {"A": .., "B": ..}, answer_idx "C"."""
    text = CHOICE.replace("choices: [a, b, c], label: gold", "choices: options, label: answer_idx")
    rows = [{"q": "Which?", "options": {"A": "x", "B": "y", "C": "z"}, "answer_idx": "C"}]
    [ex] = task_files.load_examples(_write(tmp_path, rows, text=text))
    assert ex.choices == ("x", "y", "z") and ex.answer_index == 2


def test_hub_data_and_a_hub_split_for_shots(tmp_path, monkeypatch):
    from calib_eval.data import sources

    calls = []

    def fake_hub_rows(hub_id, config, split, name):
        calls.append((hub_id, config, split))
        return [dict(r, q=f"{split} {r['q']}") for r in ROWS]

    monkeypatch.setattr(sources, "hub_rows", fake_hub_rows)
    text = CHOICE.replace("data: {{path: {data}}}", "data: {{hub: org/set, name: cfg, split: test}}") + \
        "  fewshot: {{count: 1, split: dev}}\n"
    spec = get_task(str(_write(tmp_path, ROWS, text=text)))
    ex = task_files.load_examples(tmp_path / "task.yaml")[0]
    assert ex.question == "test one?"
    assert spec.prompt(ex).startswith("Question: dev one?\nA. 1\nB. 2\nC. 3\nAnswer: A\n\nQuestion: test one?")
    assert ("org/set", "cfg", "test") in calls and ("org/set", "cfg", "dev") in calls


def test_score_finds_a_task_file_by_task_file_option(tmp_path, capsys):
    """Generations of a task file, rescored in a fresh process: the name alone is not enough, --task-file is."""
    from calib_eval import task_files as tf_module

    task = _write(tmp_path, ROWS)
    name = f"tf_{tmp_path.name}"
    items = tmp_path / "items.jsonl"
    items.write_text(json.dumps({"id": f"{name}-0", "task": name, "answer": "A", "answer_raw": " A",
                                 "correct": True, "samples": None}) + "\n")
    tf_module._LOADED.pop(name, None)  # as in a new process
    assert main(["score", "--generations", str(items), "--scorers", "max_softmax"]) == 2
    assert "--task-file" in capsys.readouterr().err
