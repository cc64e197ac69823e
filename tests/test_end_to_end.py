"""One end-to-end test per user path on the real default model (SmolLM2-135M).

Marked slow: select with `pytest -m slow`. They need `calib-eval models pull
default` to have run (the README's first command does it).
"""
from __future__ import annotations

import json

import pytest

from calib_eval import model_zoo
from calib_eval.cli import main
from calib_eval.results import read_results

pytestmark = pytest.mark.slow


@pytest.fixture(scope="module")
def default_model():
    if not model_zoo.is_pulled("default"):
        pytest.skip("run `calib-eval models pull default` first")
    return model_zoo.model_dir("default")


def test_pull_is_idempotent(default_model):
    messages = []
    assert model_zoo.pull("default", log=messages.append) == default_model
    assert "already converted" in messages[0]


def test_run_command_on_the_default_model(default_model, data_root, tmp_path):
    assert main(["run", "--model", "default", "--tasks", "mmlu_oe_calib,medqa_ood_calib", "--scorers",
                 "perplexity,zero_shot_classifier,verbalized,max_softmax", "--limit", "4", "--bootstrap", "50",
                 "--data-root", str(data_root), "--output", str(tmp_path)]) == 0
    oe = read_results(tmp_path / "default" / "mmlu_oe_calib" / "results.json")
    assert oe["n"] == 4 and {"perplexity", "zero_shot_classifier", "verbalized"} == set(oe["scorers"])


def test_train_then_score_with_the_adapter(default_model, data_root, tmp_path):
    adapter = tmp_path / "probe"
    assert main(["train", "--method", "probe", "--model", "default", "--max-examples", "24", "--max-new-tokens", "8",
                 "--keep-empty", "--steps", "3", "--data-root", str(data_root), "--cache-dir", str(tmp_path / "cache"),
                 "--output", str(adapter)]) == 0
    card = json.loads((adapter / "calib_card.json").read_text())
    assert card["method"] == "probe"
    assert main(["run", "--model", "default", "--tasks", "mmlu_oe_calib", "--scorers", "probe", "--adapter",
                 f"probe={adapter}", "--limit", "3", "--bootstrap", "0", "--data-root", str(data_root),
                 "--output", str(tmp_path / "run")]) == 0


def test_leaderboard_from_a_run(default_model, data_root, tmp_path):
    assert main(["run", "--model", "default", "--tasks", "medqa_ood_calib", "--scorers", "max_softmax", "--limit",
                 "4", "--bootstrap", "0", "--data-root", str(data_root), "--output", str(tmp_path / "runs")]) == 0
    assert main(["leaderboard", "build", str(tmp_path / "runs"), "--out", str(tmp_path / "lb")]) == 0
    assert "medqa" in (tmp_path / "lb" / "README.md").read_text()
