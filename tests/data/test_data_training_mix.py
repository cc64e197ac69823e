"""The calibration-tuning training mix and the registry."""
from __future__ import annotations

from pathlib import Path

import pytest

from calib_eval.data import DATASETS, TRAINING_MIX, load_dataset
from calib_eval.errors import UnknownNameError

COUNTS = [
    ("arc_challenge", "train", 1056), ("arc_challenge", "test", 1172), ("commonsense_qa", "test", 1221),
    ("strategy_qa", "train", 1656), ("strategy_qa", "test", 229), ("anli", "train", 514), ("anli", "test", 1200),
    ("boolq", "dev", 1886), ("openbookqa", "test", 500),
]


@pytest.mark.parametrize("name, split, count", COUNTS)
def test_counts_ids_and_kinds(data_root: Path, name: str, split: str, count: int) -> None:
    examples = load_dataset(name, split=split, data_root=data_root)
    assert len(examples) == count
    assert len({e.id for e in examples}) == count
    assert all(e.id.startswith(f"{name}/{split}/") and e.task == name for e in examples)
    for e in examples:
        assert e.answer_kind in ("choice", "yesno")
        assert e.choices[e.answer_index] == e.references[0]


def test_default_splits_are_the_offline_files(data_root: Path) -> None:
    for name in TRAINING_MIX:
        assert load_dataset(name, data_root=data_root, limit=3)


def test_registry() -> None:
    expected = {"mmlu", "selfaware", "bioasq", "pubmedqa", "medqa", "arc_challenge", "commonsense_qa",
                "strategy_qa", "anli", "boolq", "openbookqa", "coqa", "trivia_qa", "sciq"}
    assert set(DATASETS.names()) == expected
    assert set(TRAINING_MIX) <= expected and "mmlu" not in TRAINING_MIX
    with pytest.raises(UnknownNameError, match="Did you mean 'boolq'"):
        load_dataset("boolqq")


def test_limit(data_root: Path) -> None:
    assert len(load_dataset("arc_challenge", data_root=data_root, limit=7)) == 7
    assert load_dataset("arc_challenge", data_root=data_root, limit=0) == []


def test_row_mapping_details(data_root: Path) -> None:
    arc = load_dataset("arc_challenge", split="test", data_root=data_root)[0]
    assert arc.id == "arc_challenge/test/Mercury_7175875"
    assert arc.references == ("Planetary days will become shorter.",) and arc.answer_index == 2
    sqa = load_dataset("strategy_qa", split="train", data_root=data_root)[0]
    assert sqa.answer_kind == "yesno" and sqa.references == ("yes",) and sqa.metadata["facts"]
    anli = load_dataset("anli", split="train", data_root=data_root)[0]
    assert anli.choices == ("entailment", "neutral", "contradiction") and anli.references == ("contradiction",)
    assert "Premise: Silvana" in anli.question and "Hypothesis: The opera was composed by a woman." in anli.question
    boolq = load_dataset("boolq", data_root=data_root)[0]
    assert boolq.question.endswith("Question: Are bok choy and pak choi the same?")
    assert boolq.question.startswith("Passage: Bok choy") and boolq.references == ("yes",)
    obqa = load_dataset("openbookqa", data_root=data_root)[0]
    assert obqa.id == "openbookqa/test/8-343" and obqa.references == ("quit eating lunch out",)
    csqa = load_dataset("commonsense_qa", data_root=data_root)[0]
    assert len(csqa.choices) == 5 and csqa.references == ("bank",)
