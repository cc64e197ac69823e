"""Hub ids go through ``datasets.load_dataset`` and the same row mappers; never the network here.

A fake ``datasets`` module stands in for the real one (fast, and it cannot
reach the hub); HF_DATASETS_OFFLINE=1 is set as a second guard.
"""
from __future__ import annotations

import sys
import types
from typing import Any

import pytest

from calib_eval.data import load_dataset
from calib_eval.data.sources import is_hub_id
from calib_eval.errors import DataError


@pytest.fixture
def hub(monkeypatch: pytest.MonkeyPatch) -> dict[str, Any]:
    """``hub['tables'][hub_id] = rows`` serves rows; unknown ids raise ConnectionError like an offline hub."""
    state: dict[str, Any] = {"tables": {}, "calls": []}

    def fake_load_dataset(path: str, name: str | None = None, split: str | None = None, **kw: Any) -> list:
        state["calls"].append((path, name, split))
        if path not in state["tables"]:
            raise ConnectionError(f"Couldn't reach '{path}' on the Hub (OfflineModeIsEnabled)")
        return state["tables"][path]

    monkeypatch.setenv("HF_DATASETS_OFFLINE", "1")
    monkeypatch.setitem(sys.modules, "datasets", types.SimpleNamespace(load_dataset=fake_load_dataset))
    return state


def test_unreachable_hub_lists_offline_options(hub: dict[str, Any]) -> None:
    with pytest.raises(DataError) as err:
        load_dataset("arc_challenge", source="calib-eval-test/no-such-set")
    msg = str(err.value)
    assert "could not be reached" in msg and "ConnectionError" in msg
    assert "--data-root" in msg and "CALIB_EVAL_DATA" in msg and "local file or folder" in msg
    assert hub["calls"] == [("calib-eval-test/no-such-set", "ARC-Challenge", "test")]


def test_missing_datasets_package(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setitem(sys.modules, "datasets", None)  # makes `import datasets` fail
    with pytest.raises(DataError, match="pip install datasets"):
        load_dataset("boolq", source="google/boolq")


def test_is_hub_id(tmp_path) -> None:
    assert is_hub_id("cais/mmlu") and is_hub_id("allenai/ai2_arc")
    assert not is_hub_id(None) and not is_hub_id(tmp_path) and not is_hub_id("data/test.jsonl")
    assert not is_hub_id("/abs/path") and not is_hub_id("a/b/c")


def test_mmlu_hub(hub: dict[str, Any]) -> None:
    row = {"question": "Q?", "choices": ["w", "x", "y", "z"], "answer": 2}
    hub["tables"]["cais/mmlu"] = [dict(row, subject="anatomy"), dict(row, subject="anatomy"),
                                  dict(row, subject="virology")]
    examples = load_dataset("mmlu", source="cais/mmlu", split="val")
    assert [e.id for e in examples] == ["mmlu/val/anatomy/0", "mmlu/val/anatomy/1", "mmlu/val/virology/0"]
    assert examples[0].references == ("y",) and hub["calls"][-1] == ("cais/mmlu", "all", "validation")
    assert len(load_dataset("mmlu", source="cais/mmlu", split="val", subjects=["virology"])) == 1


def test_choice_sets_hub(hub: dict[str, Any]) -> None:
    hub["tables"]["allenai/ai2_arc"] = [{"id": "x1", "question": "Q?", "answerKey": "3",
                                         "choices": {"text": ["a", "b", "c", "d"], "label": ["1", "2", "3", "4"]}}]
    arc = load_dataset("arc_challenge", source="allenai/ai2_arc")[0]
    assert arc.id == "arc_challenge/test/x1" and arc.answer_index == 2 and arc.references == ("c",)

    hub["tables"]["allenai/openbookqa"] = [{"id": "7", "question_stem": "Stem", "answerKey": "A",
                                            "choices": {"text": ["p", "q"], "label": ["A", "B"]}}]
    obqa = load_dataset("openbookqa", source="allenai/openbookqa")[0]
    assert obqa.question == "Stem" and obqa.references == ("p",) and hub["calls"][-1][1] == "main"

    hub["tables"]["GBaker/MedQA-USMLE-4-options"] = [{"question": "Q", "answer": "bb", "answer_idx": "B",
                                                      "options": {"A": "aa", "B": "bb", "C": "cc", "D": "dd"}}]
    med = load_dataset("medqa", source="GBaker/MedQA-USMLE-4-options")[0]
    assert med.answer_index == 1 and med.id == "medqa/test/0"


def test_commonsense_qa_hub_test_means_validation(hub: dict[str, Any]) -> None:
    choices = {"label": ["A", "B"], "text": ["x", "y"]}
    hub["tables"]["tau/commonsense_qa"] = [{"id": "c1", "question": "Q", "choices": choices, "answerKey": "B"}]
    assert load_dataset("commonsense_qa", source="tau/commonsense_qa")[0].references == ("y",)
    assert hub["calls"][-1] == ("tau/commonsense_qa", None, "validation")
    hub["tables"]["tau/commonsense_qa"] = [{"id": "c1", "question": "Q", "choices": choices, "answerKey": ""}]
    with pytest.raises(DataError, match="unlabelled"):
        load_dataset("commonsense_qa", source="tau/commonsense_qa")


def test_yes_no_sets_hub(hub: dict[str, Any]) -> None:
    hub["tables"]["qiaojin/PubMedQA"] = [{"pubid": 42, "question": "Does it?", "final_decision": "maybe",
                                          "long_answer": "L", "context": {"contexts": ["c1", "c2"], "labels": []}}]
    pm = load_dataset("pubmedqa", source="qiaojin/PubMedQA")[0]
    assert pm.id == "pubmedqa/42" and pm.references == ("maybe",) and pm.metadata["context"] == "c1\nc2"
    assert hub["calls"][-1] == ("qiaojin/PubMedQA", "pqa_labeled", "train")

    hub["tables"]["google/boolq"] = [{"question": "is it", "passage": "P.", "answer": False}]
    bq = load_dataset("boolq", source="google/boolq")[0]
    assert bq.references == ("no",) and bq.id == "boolq/dev/0" and hub["calls"][-1][2] == "validation"

    hub["tables"]["ChilleD/StrategyQA"] = [{"qid": "s1", "question": "Q?", "answer": True, "facts": ["f"]}]
    assert load_dataset("strategy_qa", source="ChilleD/StrategyQA")[0].references == ("yes",)


def test_anli_hub_int_labels_and_rounds(hub: dict[str, Any]) -> None:
    hub["tables"]["facebook/anli"] = [{"uid": "u", "premise": "P", "hypothesis": "H", "label": 1, "reason": ""}]
    ex = load_dataset("anli", source="facebook/anli")[0]
    assert ex.references == ("neutral",) and hub["calls"][-1] == ("facebook/anli", None, "test_r3")
    load_dataset("anli", source="facebook/anli", split="dev_r1")
    assert hub["calls"][-1][2] == "dev_r1"


def test_open_sets_hub(hub: dict[str, Any]) -> None:
    hub["tables"]["stanfordnlp/coqa"] = [{"source": "wiki", "story": "Ann had a cat.",
                                          "questions": ["Who had a cat?", "What pet?"],
                                          "answers": {"input_text": ["Ann", "a cat"], "answer_start": [0, 0],
                                                      "answer_end": [0, 0]}}]
    c1, c2 = load_dataset("coqa", source="stanfordnlp/coqa")
    assert c2.id == "coqa/validation/0/2" and c2.references == ("a cat",)
    assert c2.question == "Ann had a cat.\n\nQ: Who had a cat?\nA: Ann\nQ: What pet?"

    hub["tables"]["mandarjoshi/trivia_qa"] = [{"question": "Capital of France?", "question_id": "tq1",
                                               "answer": {"value": "Paris", "aliases": ["Paris", "City of Light"]}}]
    tq = load_dataset("trivia_qa", source="mandarjoshi/trivia_qa")[0]
    assert tq.references == ("Paris", "City of Light") and hub["calls"][-1][1:] == ("rc.nocontext", "validation")

    hub["tables"]["allenai/sciq"] = [{"question": "Q?", "distractor1": "d1", "distractor2": "d2",
                                      "distractor3": "d3", "correct_answer": "right", "support": "S"}]
    sq = load_dataset("sciq", source="allenai/sciq")[0]
    assert sq.choices[sq.answer_index] == "right" and sorted(sq.choices) == ["d1", "d2", "d3", "right"]
