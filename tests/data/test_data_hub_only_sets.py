"""CoQA, TriviaQA and SciQ have no offline copy: test on rows written here in upstream format."""
from __future__ import annotations

import json
from pathlib import Path

import pytest

from calib_eval.data import coqa, sciq, trivia_qa
from calib_eval.errors import DataError

COQA = {"version": "1.0", "data": [{
    "source": "mctest", "id": "3dr23u6we5exclen4th8uq9rb42tel", "filename": "mc160.test.41",
    "story": "Once upon a time, in a barn near a farm house, there lived a little white kitten named Cotton.",
    "questions": [{"input_text": "what color was cotton?", "turn_id": 1},
                  {"input_text": "where did she live?", "turn_id": 2}],
    "answers": [{"span_start": 59, "span_end": 93, "span_text": "a little white kitten named Cotton",
                 "input_text": "white", "turn_id": 1},
                {"span_start": 18, "span_end": 80, "span_text": "in a barn near", "input_text": "in a barn",
                 "turn_id": 2}],
    "additional_answers": {"0": [{"input_text": "white", "turn_id": 1}, {"input_text": "in a barn near a farm house",
                                                                         "turn_id": 2}],
                           "1": [{"input_text": "white.", "turn_id": 1}, {"input_text": "barn", "turn_id": 2}]},
}]}

TRIVIA = {"Version": 1.0, "Split": "dev", "Domain": "Web", "Data": [
    {"Question": "Which Lloyd Webber musical premiered in the US on 10th December 1993?", "QuestionId": "tc_33",
     "Answer": {"Aliases": ["Sunset Blvd", "Sunset Boulevard"], "Value": "Sunset Boulevard",
                "NormalizedValue": "sunset boulevard", "Type": "WikipediaEntity"}},
]}

SCIQ = [{"question": "What type of organism is commonly used in preparation of foods such as cheese and yogurt?",
         "distractor3": "viruses", "distractor1": "protozoa", "distractor2": "gymnosperms",
         "correct_answer": "mesophilic organisms", "support": "Mesophiles grow best in moderate temperature."}]


def test_coqa_upstream_file(tmp_path: Path) -> None:
    (tmp_path / "coqa").mkdir()
    (tmp_path / "coqa" / "coqa-dev-v1.0.json").write_text(json.dumps(COQA))
    t1, t2 = coqa.load(data_root=tmp_path)
    assert t1.id == "coqa/validation/0/1" and t1.answer_kind == "open"
    assert t1.references == ("white", "white.")
    assert t2.references == ("in a barn", "in a barn near a farm house", "barn")
    assert t2.question.endswith("Q: what color was cotton?\nA: white\nQ: where did she live?")
    assert t2.metadata["story_id"] == "3dr23u6we5exclen4th8uq9rb42tel" and t2.metadata["turn"] == 2
    alone = coqa.load(source=tmp_path / "coqa" / "coqa-dev-v1.0.json", history=False)[1]
    assert "what color" not in alone.question
    assert len(coqa.load(data_root=tmp_path, limit=1)) == 1


def test_trivia_qa_upstream_and_jsonl(tmp_path: Path) -> None:
    (tmp_path / "trivia_qa").mkdir()
    (tmp_path / "trivia_qa" / "unfiltered-web-dev.json").write_text(json.dumps(TRIVIA))
    ex = trivia_qa.load(data_root=tmp_path)[0]
    assert ex.id == "trivia_qa/validation/tc_33" and ex.references == ("Sunset Boulevard", "Sunset Blvd")
    hub_style = {"question": "Q?", "question_id": "q9", "answer": {"value": "V", "aliases": ["V", "W"]}}
    path = tmp_path / "mine.jsonl"
    path.write_text(json.dumps(hub_style) + "\n")
    assert trivia_qa.load(source=path)[0].references == ("V", "W")


def test_sciq_order_is_stable_and_shuffled(tmp_path: Path) -> None:
    (tmp_path / "sciq").mkdir()
    (tmp_path / "sciq" / "valid.json").write_text(json.dumps(SCIQ))
    ex = sciq.load(data_root=tmp_path, split="validation")[0]
    again = sciq.load(source=tmp_path / "sciq" / "valid.json", split="validation")[0]
    assert ex == again and ex.id == "sciq/validation/0"
    assert ex.choices[ex.answer_index] == "mesophilic organisms" and ex.answer_kind == "choice"
    positions = {sciq.ordered_choices(f"question {i}", "c", ["x", "y", "z"])[1] for i in range(40)}
    assert positions == {0, 1, 2, 3}


@pytest.mark.parametrize("loader", [coqa.load, trivia_qa.load, sciq.load])
def test_missing_offline_copy_names_layout(tmp_path: Path, loader) -> None:
    with pytest.raises(DataError) as err:
        loader(data_root=tmp_path)
    assert str(tmp_path) in str(err.value) and "upstream format" in str(err.value)
