"""CLI flags come from the config dataclasses; recipes load; graded data is built and cached."""
import argparse
from pathlib import Path

import pytest

from calib_eval.training import TrainingError
from calib_eval.training.cli import add_train_parser, config_from_args
from calib_eval.training.config import CalibrationTuneConfig, ProbeConfig

RECIPES = Path(__file__).resolve().parents[2] / "adapters" / "recipes"


def parse(argv):
    parser = argparse.ArgumentParser()
    sub = parser.add_subparsers(dest="command")
    add_train_parser(sub)
    return parser.parse_args(["train", *argv])


def test_defaults_come_from_the_dataclass():
    cfg = config_from_args(parse(["--output", "x"]))
    assert cfg == CalibrationTuneConfig(output="x")
    cfg = config_from_args(parse(["--method", "probe", "--output", "x", "--steps", "7", "--sources", "boolq,anli"]))
    assert isinstance(cfg, ProbeConfig) and cfg.steps == 7 and cfg.sources == ("boolq", "anli")
    assert cfg.lr == ProbeConfig().lr


def test_flag_of_another_method_refused():
    with pytest.raises(TrainingError, match="no option"):
        config_from_args(parse(["--method", "probe", "--divergence", "kl"]))


@pytest.mark.parametrize("recipe", sorted(p.name for p in RECIPES.glob("*.yaml")))
def test_recipes_load_and_flags_override(recipe):
    cfg = config_from_args(parse(["--recipe", str(RECIPES / recipe), "--output", "o", "--seed", "3"]))
    assert cfg.method == recipe.removesuffix(".yaml") and cfg.seed == 3


def test_recipe_for_calibration_tune_has_paper_defaults():
    cfg = config_from_args(parse(["--recipe", str(RECIPES / "calibration-tune.yaml")]))
    assert (cfg.lora_r, cfg.lora_alpha, cfg.lora_dropout, cfg.lr, cfg.batch_size) == (8, 32, 0.1, 1e-4, 4)


def test_graded_data_built_and_cached(make_loaded, tmp_path, data_root, monkeypatch):
    from calib_eval.training import graded_data as gd

    loaded = make_loaded()
    rows = gd.build_graded(loaded, ("arc_challenge", "boolq"), 4, seed=0, max_new_tokens=2, data_root=data_root,
                           cache_dir=tmp_path)
    assert [r.source for r in rows] == ["arc_challenge", "boolq"] * 2
    assert all(r.prompt.startswith("Question: ") and r.prompt.endswith("\nAnswer:") for r in rows)
    assert all(len(r.answer_ids) <= 2 for r in rows)

    def boom(*a, **kw):
        raise AssertionError("cache not reused")

    monkeypatch.setattr(gd, "answer_and_grade", boom)
    again = gd.build_graded(loaded, ("arc_challenge", "boolq"), 4, seed=0, max_new_tokens=2, data_root=data_root,
                            cache_dir=tmp_path)
    assert [r.to_json() for r in again] == [r.to_json() for r in rows]
    with pytest.raises(Exception, match="evaluation data"):
        gd.select_examples(("mmlu",), 4, 0, data_root)


def test_balance_classes(graded_rows):
    from calib_eval.training.graded_data import balance_classes

    rows = graded_rows[:5]  # 3 correct, 2 incorrect
    kept = balance_classes(rows, seed=0)
    assert sum(r.correct for r in kept) == 2 and len(kept) == 4


def test_apply_card_temperature():
    from calib_eval.training.methods.temperature import apply_card_temperature

    assert apply_card_temperature([0.9, 0.2], {"temperature": None}) == [0.9, 0.2]
    soft = apply_card_temperature([0.9, 0.2], {"temperature": 2.0})
    assert 0.5 < soft[0] < 0.9 and 0.2 < soft[1] < 0.5


def test_training_question_shows_options_of_choice_sources_only():
    from calib_eval.training.graded_data import training_question
    from calib_eval.types import Example

    mc = Example("arc/1", "arc_challenge", "Which of these conducts electricity?", choices=("wood", "copper"),
                 answer_index=1, answer_kind="choice")
    yesno = Example("boolq/1", "boolq", "Is the sun a star?", choices=("yes", "no"), answer_index=0,
                    answer_kind="yesno", references=("yes",))
    assert training_question(mc) == "Question: Which of these conducts electricity?\nA. wood\nB. copper\nAnswer:"
    assert training_question(yesno) == "Question: Is the sun a star?\nAnswer:"
