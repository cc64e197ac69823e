"""Bad input gets clear errors; a killed run resumes from its last checkpoint."""
import dataclasses
import json

import pytest
import torch

from calib_eval.errors import CalibEvalError
from calib_eval.training import OutputExistsError, TrainingError, train
from calib_eval.training.output import prepare_output
from test_training_methods import small_cfg


def test_one_class_training_set_refused(make_loaded, graded_rows, tmp_path):
    all_right = [dataclasses.replace(g, correct=True) for g in graded_rows]
    with pytest.raises(TrainingError, match="all are correct"):
        train(small_cfg("calibration-tune", tmp_path / "a"), loaded=make_loaded(), graded=all_right)


def test_existing_output_refused_unless_overwrite(tmp_path):
    out = tmp_path / "adapter"
    out.mkdir()
    (out / "calib_card.json").write_text("{}")
    with pytest.raises(OutputExistsError, match="--overwrite"):
        prepare_output(out)
    assert prepare_output(out, overwrite=True).is_dir() and not (out / "calib_card.json").exists()
    other = tmp_path / "notes"
    other.mkdir()
    (other / "a.txt").write_text("mine")
    with pytest.raises(OutputExistsError, match="not an adapter folder"):
        prepare_output(other, overwrite=True)
    assert issubclass(OutputExistsError, CalibEvalError)


def test_bad_config_values_refused():
    from calib_eval.training.config import CalibrationTuneConfig, TrainConfig

    with pytest.raises(TrainingError, match="divergence"):
        CalibrationTuneConfig(divergence="l2")
    with pytest.raises(TrainingError, match="MMLU"):
        TrainConfig(sources=("mmlu",))


class Killed(Exception):
    pass


def test_killed_run_resumes_from_checkpoint(make_loaded, graded_rows, tmp_path, monkeypatch):
    import calib_eval.training.methods.probe as probe_mod

    out = tmp_path / "probe"
    cfg = small_cfg("probe", out, steps=6, checkpoint_every=2)
    reference = train(small_cfg("probe", tmp_path / "ref", steps=6), loaded=make_loaded(), graded=graded_rows)

    real_ce, calls = probe_mod.F.cross_entropy, {"n": 0}

    def dying_ce(*a, **kw):
        calls["n"] += 1
        if calls["n"] == 4:  # during step 4: checkpoint of step 2 exists, step 3 done but not saved
            raise Killed()
        return real_ce(*a, **kw)

    monkeypatch.setattr(probe_mod.F, "cross_entropy", dying_ce)
    with pytest.raises(Killed):
        train(cfg, loaded=make_loaded(), graded=graded_rows)
    monkeypatch.setattr(probe_mod.F, "cross_entropy", real_ce)
    assert (out / "checkpoint" / "state.pt").exists()
    with pytest.raises(OutputExistsError):
        train(cfg, loaded=make_loaded(), graded=graded_rows)
    folder = train(dataclasses.replace(cfg, resume=True), loaded=make_loaded(), graded=graded_rows)
    card = json.loads((folder / "calib_card.json").read_text())
    assert card["resumed_from"] == 2 and card["steps"] == 6
    from safetensors.torch import load_file

    got, want = load_file(str(folder / "probe_head.safetensors")), load_file(str(reference / "probe_head.safetensors"))
    for key in want:  # same data order and optimiser state: same weights as an uninterrupted run
        assert torch.allclose(got[key], want[key], atol=1e-6), key


def test_temperature_fits_on_val_or_refuses_one_class(make_loaded, tmp_path, data_root, monkeypatch):
    """The runner's batch code scores MMLU val; a random tiny model gets all wrong -> clear refusal."""
    import calib_eval.training.methods.temperature as temp

    cfg = small_cfg("temperature", tmp_path / "t", val_limit=2, data_root=str(data_root))
    with pytest.raises(TrainingError, match="all are incorrect"):
        train(cfg, loaded=make_loaded())
    # with two classes the fitted temperature lands in the card
    fake = ([0.9, 0.8, 0.7, 0.95], [True, False, False, True])
    monkeypatch.setattr(temp, "validation_scores", lambda loaded, cfg: fake)
    folder = train(dataclasses.replace(cfg, overwrite=True), loaded=make_loaded())
    card = json.loads((folder / "calib_card.json").read_text())
    assert card["temperature"] > 0 and card["scorer"] == "zero_shot_classifier" and not card["has_lora"]
    assert card["temperature"] > 1.0  # over-confident scores get softened
    assert set(card["heldout_metrics"]) == {"val_before", "val_after"}
