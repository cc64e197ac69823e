"""Every method runs a couple of steps on a tiny model; trainable weights move, frozen ones do not."""
import json

import pytest
import torch

from calib_eval.training import train
from calib_eval.training.cli import _config_classes

LORA_METHODS = ["calibration-tune", "lora-probe", "ua-clm", "verbalized-sft", "pairwise-sft", "multitask-sft"]


def small_cfg(method, output, **kw):
    cls = _config_classes()[method]
    base = dict(method=method, output=str(output), steps=2, batch_size=2, holdout_fraction=0.25, checkpoint_every=0,
                lr=1e-2, log_every=1)
    if method not in ("probe", "temperature"):
        base["n_pairs"] = 6 if "pairwise" in method or "multitask" in method else None
        base = {k: v for k, v in base.items() if v is not None}
    return cls(**{**base, **kw})


@pytest.mark.parametrize("method", LORA_METHODS + ["probe"])
def test_method_trains_and_writes_adapter(method, make_loaded, graded_rows, tmp_path):
    loaded = make_loaded()
    base_before = {n: p.detach().clone() for n, p in loaded.model.named_parameters()}
    folder = train(small_cfg(method, tmp_path / method), loaded=loaded, graded=graded_rows)
    card = json.loads((folder / "calib_card.json").read_text())
    assert card["method"] == method and card["steps"] == 2 and card["base_fingerprint"]
    assert card["train_examples"] == 12 and card["holdout_examples"] == 4
    model = loaded.model
    base = model.get_base_model() if hasattr(model, "get_base_model") else model
    for name, p in base.named_parameters():  # frozen weights untouched
        if "lora_" not in name:
            key = name.replace("base_layer.", "")
            assert torch.equal(p, base_before[key]), name
    if method != "probe":
        lora_b = [p for n, p in model.named_parameters() if "lora_B" in n]
        assert lora_b and any(float(p.abs().max()) > 0 for p in lora_b), "LoRA B never moved off zero"
        assert (folder / "adapter_config.json").exists() and (folder / "adapter_model.safetensors").exists()
    if method in ("probe", "lora-probe"):
        assert (folder / "probe_head.safetensors").exists() and card["head_input_size"] == 32
        assert set(card["heldout_metrics"]) >= {"auroc", "ece", "brier"}
    assert not (folder / "checkpoint").exists()


def test_sft_targets_are_calibrated_on_average():
    from calib_eval.training.methods.sft import confidence_targets
    from calib_eval.training.graded_data import GradedExample

    rows = [GradedExample(str(i), "s", "", "", [], [], i < 3, "") for i in range(10)]  # 30% correct
    shrunk = confidence_targets(rows, "shrunk", 0.8, 1)
    assert sum(shrunk) / len(shrunk) == pytest.approx(30, abs=1)
    assert min(shrunk[:3]) > max(shrunk[3:])
    assert set(confidence_targets(rows, "binary", 0.8, 5)) == {90, 10}
    assert set(confidence_targets(rows, "source", 0.8, 5)) == {30}


def test_pairwise_targets_name_the_correct_question(tokenizer, graded_rows):
    from calib_eval.training.methods.sft import pairwise_seqs

    seqs = pairwise_seqs(graded_rows, tokenizer, 20, seed=0)
    answers = {tokenizer.decode(s.ids[s.target_start: s.target_end]) for s in seqs}
    assert answers == {" 1", " 2"}
