"""SelfAware, BioASQ, PubMedQA and MedQA on the offline copies."""
from __future__ import annotations

import json
from collections import Counter
from pathlib import Path

import pytest

from calib_eval.data import bioasq, medqa, pubmedqa, selfaware
from calib_eval.errors import DataError, UnknownNameError


def test_selfaware(data_root: Path) -> None:
    examples = selfaware.load(data_root=data_root)
    assert len(examples) == 3369 and len({e.id for e in examples}) == 3369
    unanswerable = [e for e in examples if e.answer_kind == "unanswerable"]
    assert len(unanswerable) == 1032
    assert all(e.metadata["answerable"] is False and e.references == () for e in unanswerable)
    answerable = [e for e in examples if e.answer_kind == "open"]
    assert all(e.metadata["answerable"] and e.references for e in answerable)
    assert examples[0].id == "selfaware/1" and examples[0].references == ("song",)


def test_bioasq_batches(data_root: Path) -> None:
    examples = bioasq.load(data_root=data_root)
    assert len(examples) == 255 and len({e.id for e in examples}) == 255
    assert Counter(e.metadata["batch"] for e in examples) == {"12B1": 85, "12B2": 85, "12B3": 85}
    assert [e.metadata["batch"] for e in examples] == sorted(e.metadata["batch"] for e in examples)
    assert len(bioasq.load(data_root=data_root, batches=["12B2"])) == 85
    assert len(bioasq.load(data_root=data_root, split="12B3")) == 85
    with pytest.raises(UnknownNameError, match="12B1"):
        bioasq.load(data_root=data_root, batches=["12B9"])


def test_bioasq_kinds(data_root: Path) -> None:
    examples = bioasq.load(data_root=data_root)
    by_type: dict[str, list] = {}
    for e in examples:
        by_type.setdefault(e.metadata["type"], []).append(e)
    assert all(e.answer_kind == "yesno" and e.references[0] in ("yes", "no") for e in by_type["yesno"])
    assert all(e.answer_kind == "summary" and e.references for e in by_type["summary"])
    assert all(e.answer_kind == "open" and e.references for e in by_type["factoid"] + by_type["list"])
    lst = next(e for e in by_type["list"] if e.id.endswith("65cfad2d1930410b13000014"))
    assert lst.references == ("hemophilia A", "hemophilia B")
    assert lst.metadata["exact_answer"] == [["hemophilia A"], ["hemophilia B"]]


def test_bioasq_synonyms_flattened(tmp_path: Path) -> None:
    rows = {"questions": [
        {"id": "q1", "type": "factoid", "body": "Which gene? ", "exact_answer": [["TP53", "p53"], ["TP53"]],
         "ideal_answer": "TP53."},
        {"id": "q2", "type": "factoid", "body": "Which drug?", "exact_answer": ["aspirin", "ASA"],
         "ideal_answer": ["Aspirin."]},
        {"id": "q3", "type": "yesno", "body": "Is it?", "exact_answer": "Yes", "ideal_answer": ["Yes."]},
    ]}
    (tmp_path / "13B1_golden.json").write_text(json.dumps(rows))
    q1, q2, q3 = bioasq.load(source=tmp_path)
    assert q1.id == "bioasq/13B1/q1" and q1.question == "Which gene?"
    assert q1.references == ("TP53", "p53") and q1.metadata["ideal_answer"] == ["TP53."]
    assert q2.references == ("aspirin", "ASA")
    assert q3.references == ("yes",) and q3.answer_index == 0


def test_bioasq_hub_id_explains_registration() -> None:
    with pytest.raises(DataError, match="bioasq.org"):
        bioasq.load(source="someone/bioasq")


def test_pubmedqa(data_root: Path) -> None:
    examples = pubmedqa.load(data_root=data_root)
    assert len(examples) == 1000 and len({e.id for e in examples}) == 1000
    assert Counter(e.references[0] for e in examples) == {"yes": 552, "no": 338, "maybe": 110}
    ex = examples[0]
    assert ex.id == "pubmedqa/21645374" and ex.answer_kind == "yesno"
    assert ex.choices == ("yes", "no", "maybe") and ex.choices[ex.answer_index] == ex.references[0]
    assert "lace plant" in ex.metadata["context"] and ex.metadata["long_answer"]


def test_medqa(data_root: Path) -> None:
    examples = medqa.load(data_root=data_root)
    assert len(examples) == 1273 and len({e.id for e in examples}) == 1273
    ex = examples[0]
    assert ex.id == "medqa/test/0" and ex.answer_kind == "choice" and len(ex.choices) == 4
    assert ex.references == ("Tell the attending that he cannot fail to disclose this mistake",)
    assert ex.choices[ex.answer_index] == ex.references[0]
