from __future__ import annotations

import csv
from pathlib import Path

import pytest

from calib_eval.data import mmlu
from calib_eval.errors import DataError, UnknownNameError


@pytest.mark.parametrize("split, count", [("dev", 285), ("val", 1531), ("validation", 1531), ("test", 14042)])
def test_counts(data_root: Path, split: str, count: int) -> None:
    examples = mmlu.load(split=split, data_root=data_root)
    assert len(examples) == count
    assert len({e.id for e in examples}) == count


def test_subjects_and_example_fields(data_root: Path) -> None:
    subjects = mmlu.subjects(data_root=data_root)
    assert len(subjects) == 57 and subjects == sorted(subjects)
    assert mmlu.subjects(data_root=data_root, split="val") == subjects
    ex = mmlu.load(split="test", data_root=data_root, subjects=["anatomy"])[17]
    assert ex.id == "mmlu/test/anatomy/17"
    assert ex.task == "mmlu" and ex.answer_kind == "choice"
    assert len(ex.choices) == 4 and ex.references == (ex.choices[ex.answer_index],)
    assert ex.metadata["subject"] == "anatomy" and ex.metadata["split"] == "test"
    assert not any(ex.question.endswith(c) for c in ex.choices)  # question text carries no choices


def test_val_ids_use_canonical_split_name(data_root: Path) -> None:
    ex = mmlu.load(split="validation", data_root=data_root, limit=1)[0]
    assert ex.id == "mmlu/val/abstract_algebra/0"


def test_few_shot(data_root: Path) -> None:
    shots = mmlu.few_shot("anatomy", data_root=data_root)
    assert [e.id for e in shots] == [f"mmlu/dev/anatomy/{i}" for i in range(5)]
    assert len(mmlu.few_shot("anatomy", k=2, data_root=data_root)) == 2


def test_quoted_commas_and_multiline(data_root: Path) -> None:
    ex = mmlu.load(split="test", data_root=data_root, subjects=["anatomy"], limit=1)[0]
    assert ex.choices[2] == "paralysis of the facial muscles, loss of taste and lacrimation."
    multiline = [e for e in mmlu.load(split="test", data_root=data_root) if "\n" in e.question]
    assert multiline  # the csv module keeps embedded newlines inside one record


def test_subject_typo_did_you_mean(data_root: Path) -> None:
    with pytest.raises(UnknownNameError, match="anatomy"):
        mmlu.load(data_root=data_root, subjects=["anatomi"])


def test_unknown_split(data_root: Path) -> None:
    with pytest.raises(DataError, match="unknown split"):
        mmlu.load(split="train", data_root=data_root)


def _write(path: Path, rows: list[list[str]]) -> Path:
    path.parent.mkdir(parents=True, exist_ok=True)
    with open(path, "w", newline="", encoding="utf-8") as f:
        csv.writer(f).writerows(rows)
    return path


def test_local_folder_and_file(tmp_path: Path) -> None:
    good = ["What is 2+2?", "3", "4", "5, or 6", "7", "B"]
    _write(tmp_path / "mmlu" / "test" / "toy_math_test.csv", [good, good])
    by_root = mmlu.load(data_root=tmp_path)
    by_folder = mmlu.load(source=tmp_path / "mmlu")
    by_file = mmlu.load(source=tmp_path / "mmlu" / "test" / "toy_math_test.csv")
    assert [e.id for e in by_root] == [e.id for e in by_folder] == [e.id for e in by_file]
    assert by_root[1].id == "mmlu/test/toy_math/1" and by_root[0].references == ("4",)
    assert by_root[0].choices[2] == "5, or 6"


@pytest.mark.parametrize("row, problem", [
    (["q", "a", "b", "c", "B"], "expected 6 columns, found 5"),
    (["q", "a", "b", "c", "d", "E"], "'E' is not one of A, B, C, D"),
])
def test_malformed_rows_name_file_and_line(tmp_path: Path, row: list[str], problem: str) -> None:
    good = ["line\nbreak", "a", "b", "c", "d", "A"]  # two physical lines
    path = _write(tmp_path / "mmlu" / "test" / "bad_test.csv", [good, row])
    with pytest.raises(DataError) as err:
        mmlu.load(data_root=tmp_path)
    assert f"{path}, line 3" in str(err.value) and problem in str(err.value)


def test_missing_layout_message(tmp_path: Path) -> None:
    (tmp_path / "mmlu").mkdir()
    with pytest.raises(DataError, match=r"mmlu/test/<subject>_test\.csv"):
        mmlu.load(data_root=tmp_path)
