"""Stable item order: `--limit N` keeps its items when a data folder grows (issue #13 part 3)."""
from __future__ import annotations

import json
import shutil
from pathlib import Path

from calib_eval import task_specs
from calib_eval.task_specs import get_task, load_task_examples, stable_order
from calib_eval.types import Example


def _bioasq_root(tmp_path: Path, data_root: Path, batches, extra: dict | None = None) -> Path:
    folder = tmp_path / "bioasq"
    folder.mkdir(parents=True)
    for b in batches:
        shutil.copy(data_root / "bioasq" / f"12B{b}_golden.json", folder)
    for name, payload in (extra or {}).items():
        (folder / name).write_text(json.dumps(payload))
    return tmp_path


def _batch_four(data_root: Path) -> dict:
    # no real batch 4 here: batch 3's questions under new ids stand in for one
    data = json.loads((data_root / "bioasq" / "12B3_golden.json").read_text())
    for q in data["questions"]:
        q["id"] = "b4-" + q["id"]
    return data


def _check_growth(old: list[str], new: list[str], added: set[str], n: int) -> int:
    """The guarantee: new first N = old first N-a, in order, plus the a added items among them."""
    head = new[:n]
    a = sum(i in added for i in head)
    assert [i for i in head if i not in added] == old[: n - a]
    return a


def test_bioasq_limit_keeps_items_when_a_batch_is_added(tmp_path, data_root):
    spec = get_task("bioasq_ood_calib")
    old = [e.id for e in load_task_examples(spec, None, _bioasq_root(tmp_path / "a", data_root, (1, 2, 3)))]
    grown = _bioasq_root(tmp_path / "b", data_root, (1, 2, 3), {"12B4_golden.json": _batch_four(data_root)})
    new = [e.id for e in load_task_examples(spec, None, grown)]
    added = set(new) - set(old)
    assert len(added) == 85 and set(old) <= set(new)
    a = _check_growth(old, new, added, 50)
    assert 0 < a < 25  # a quarter of the items are new: about 12 expected; the seeded shuffle kept only 8 old
    assert [e.id for e in load_task_examples(spec, 50, grown)] == new[:50]
    for n in (1, 10, 85, 200):
        _check_growth(old, new, added, n)


def test_bioasq_real_batches_one_two_then_three(tmp_path, data_root):
    spec = get_task("bioasq_ood_calib")
    old = [e.id for e in load_task_examples(spec, None, _bioasq_root(tmp_path / "a", data_root, (1, 2)))]
    new = [e.id for e in load_task_examples(spec, None, _bioasq_root(tmp_path / "b", data_root, (1, 2, 3)))]
    added = {i for i in new if i.startswith("bioasq/12B3/")}
    assert _check_growth(old, new, added, 50) < 50


def test_row_numbers_are_not_the_key(tmp_path, data_root):
    # MMLU ids are row numbers: a row inserted at the top renumbers all others, yet they keep their order
    src = data_root / "mmlu" / "test" / "anatomy_test.csv"
    folder = tmp_path / "mmlu" / "test"
    folder.mkdir(parents=True)
    shutil.copy(src, folder)
    spec = get_task("mmlu_mc_calib")
    old = [e.question for e in load_task_examples(spec, None, tmp_path)]
    lines = src.read_text().splitlines(keepends=True)
    (folder / "anatomy_test.csv").write_text('"A new question?",a,b,c,d,A\n' + "".join(lines))
    new = [e.question for e in load_task_examples(spec, None, tmp_path)]
    assert [q for q in new if q != "A new question?"] == old


def test_mmlu_subjects_take_turns(data_root):
    items = load_task_examples(get_task("mmlu_mc_calib"), 114, data_root)
    subjects = [e.metadata["subject"] for e in items]
    assert len(set(subjects[:57])) == 57 and subjects[57:] == subjects[:57]
    assert task_specs.item_ordering(get_task("mmlu_oe_calib")) == task_specs.STRATIFIED_ORDERING
    assert task_specs.item_ordering(get_task("medqa_ood_calib")) == task_specs.PLAIN_ORDERING


def test_order_ignores_file_order_and_ties_break_by_id():
    items = [Example(f"x/{i}", "x", f"q{i % 5}") for i in range(12)]
    by_id = stable_order(items, positional=False)
    assert by_id == stable_order(items[::-1], positional=False)
    by_text = stable_order(items, positional=True)
    assert by_text == stable_order(items[::-1], positional=True)
    same = [e for e in by_text if e.question == "q0"]
    assert [e.id for e in same] == sorted(e.id for e in same)  # equal text: id decides


def test_task_file_rows_without_ids_are_keyed_by_text():
    rows = [Example(f"mytask-{i}", "mytask", f"question {i}") for i in range(6)]
    spec = task_specs.TaskSpec("mytask", "taskfile:x", None, "generate", "")
    assert task_specs._positional(spec, rows)
    assert not task_specs._positional(spec, [Example("q17", "mytask", "question")])
