"""Every data problem surfaces as a DataError that names the file and the place."""
from __future__ import annotations

import json
from pathlib import Path

import pytest

from calib_eval.data import load_dataset, pubmedqa, selfaware
from calib_eval.errors import DataError, UnknownNameError


def test_malformed_json_names_file_and_position(tmp_path: Path) -> None:
    path = tmp_path / "SelfAware.json"
    path.write_text('{"example": [\n  {"question_id": 1,, "question": "q"}\n]}')
    with pytest.raises(DataError) as err:
        selfaware.load(source=path)
    assert str(path) in str(err.value) and "line 2, column 21" in str(err.value)


def test_bad_jsonl_line_named(tmp_path: Path) -> None:
    path = tmp_path / "test.jsonl"
    good = {"qid": "a", "question": "Q?", "answer": True}
    path.write_text(json.dumps(good) + "\n\n" + json.dumps(good) + "\n{not json}\n")
    with pytest.raises(DataError, match=rf"{path}, line 4: invalid JSON"):
        load_dataset("strategy_qa", source=path)


def test_malformed_row_names_record(tmp_path: Path) -> None:
    path = tmp_path / "test.jsonl"
    rows = [{"qid": "a", "question": "Q?", "answer": True}, {"qid": "b", "answer": False}]
    path.write_text("\n".join(json.dumps(r) for r in rows))
    with pytest.raises(DataError, match=rf"{path}, record 2: malformed row \(KeyError: 'question'\)"):
        load_dataset("strategy_qa", source=path)


def test_bad_answer_key_names_record(tmp_path: Path) -> None:
    path = tmp_path / "test.jsonl"
    row = {"id": "x", "question": "Q", "answerKey": "E", "choices": {"text": ["a", "b"], "label": ["A", "B"]}}
    path.write_text(json.dumps(row))
    with pytest.raises(DataError, match=r"record 1: answer key 'E' is not one of"):
        load_dataset("arc_challenge", source=path)


@pytest.mark.parametrize("name, expected", [
    ("arc_challenge", "arc_challenge/test.{jsonl,json}"),
    ("boolq", "boolq/{dev,validation,val}.{json,jsonl}"),
    ("selfaware", "selfaware/{SelfAware,selfaware}.{json,jsonl}"),
])
def test_missing_offline_files_name_expected_layout(tmp_path: Path, name: str, expected: str) -> None:
    with pytest.raises(DataError) as err:
        load_dataset(name, data_root=tmp_path)
    assert f"{tmp_path}/{expected}" in str(err.value)


def test_missing_split_file(data_root: Path) -> None:
    with pytest.raises(DataError, match=r"arc_challenge/validation\.\{jsonl,json\}"):
        load_dataset("arc_challenge", split="validation", data_root=data_root)


def test_missing_pubmedqa_file(tmp_path: Path) -> None:
    (tmp_path / "pubmedqa").mkdir()
    with pytest.raises(DataError, match="ori_pqal.json"):
        pubmedqa.load(data_root=tmp_path)


def test_nonexistent_local_path(tmp_path: Path) -> None:
    with pytest.raises(DataError, match="no such file or folder"):
        load_dataset("medqa", source=tmp_path / "nope.jsonl")


def test_unknown_option_did_you_mean(data_root: Path) -> None:
    with pytest.raises(UnknownNameError, match="Did you mean 'subjects'"):
        load_dataset("mmlu", data_root=data_root, subject=["anatomy"])
    with pytest.raises(UnknownNameError, match="hub_config"):
        load_dataset("boolq", data_root=data_root, hub_confg="x")


def test_single_split_sets_reject_other_splits(data_root: Path) -> None:
    with pytest.raises(DataError, match="known splits: all"):
        selfaware.load(split="train", data_root=data_root)
