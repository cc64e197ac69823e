"""Big-model loading: --device-map / --max-memory / --quantize (calib_eval.placement)."""
from __future__ import annotations

import importlib.util
import json

import pytest

from calib_eval.cli import main
from calib_eval.errors import ModelError, UnknownNameError
from calib_eval.placement import Placement, from_pretrained_kwargs, parse_max_memory
from calib_eval.runner.parallel import Shard, narrow_max_memory


def test_max_memory_parses_gpu_indexes_as_ints_and_keeps_sizes():
    assert parse_max_memory("0=20GiB, 1=18.5GB,cpu=64GiB") == {0: "20GiB", 1: "18.5GB", "cpu": "64GiB"}
    assert parse_max_memory("cpu=1000") == {"cpu": 1000}  # bare bytes


@pytest.mark.parametrize("bad", ["20GiB", "gpu0=20GiB", "0=lots", "cpu=", ","])
def test_malformed_max_memory_names_the_part(bad):
    with pytest.raises(ModelError, match="max-memory"):
        parse_max_memory(bad)


def test_placement_rejects_unknown_names_and_caps_without_a_map():
    with pytest.raises(UnknownNameError, match="'auto'"):
        Placement(device_map="atuo")
    with pytest.raises(UnknownNameError, match="'4bit'"):
        Placement(quantize="4bits")
    with pytest.raises(ModelError, match="--device-map auto"):
        Placement(max_memory="cpu=1GiB")


def test_default_placement_adds_nothing_to_from_pretrained():
    assert from_pretrained_kwargs(Placement(), None) == {}
    kwargs = from_pretrained_kwargs(Placement("balanced", "0=1GiB,cpu=2GiB"), None)
    assert kwargs == {"device_map": "balanced", "max_memory": {0: "1GiB", "cpu": "2GiB"}}


@pytest.mark.skipif(importlib.util.find_spec("bitsandbytes") is not None, reason="bitsandbytes is installed")
def test_quantized_loading_without_bitsandbytes_names_the_package():
    with pytest.raises(ModelError, match="bitsandbytes"):
        from_pretrained_kwargs(Placement(quantize="4bit"), None)


def test_each_data_parallel_rank_maps_its_copy_over_its_own_gpus(monkeypatch):
    monkeypatch.delenv("LOCAL_RANK", raising=False)
    monkeypatch.delenv("LOCAL_WORLD_SIZE", raising=False)
    assert [Shard(r, 2).gpus(8) for r in range(2)] == [[0, 1, 2, 3], [4, 5, 6, 7]]
    assert Shard(2, 3).gpus(4) == [2]
    with pytest.raises(Exception, match="at least 4 GPUs"):
        Shard(0, 4).gpus(2)
    monkeypatch.setenv("LOCAL_RANK", "1")  # two machines x 2 ranks: global rank 3 is the 2nd rank of its machine
    monkeypatch.setenv("LOCAL_WORLD_SIZE", "2")
    assert Shard(3, 4).gpus(8) == [4, 5, 6, 7]
    # the user's cap for an own GPU is kept, others' GPUs dropped, the CPU cap stays
    caps = narrow_max_memory({4: "30GiB", 0: "10GiB", "cpu": "64GiB"}, {4: 1000, 5: 2000}, cpu_share=500)
    assert caps == {4: "30GiB", 5: 2000, "cpu": "64GiB"}
    assert narrow_max_memory({}, {0: 1000}, cpu_share=500) == {0: 1000, "cpu": 500}  # RAM split between ranks


def test_a_cpu_cap_below_the_model_size_offloads_layers_and_scores_like_one_device(tiny_model_dir, data_root,
                                                                                  tmp_path):
    """accelerate's big-model path for real on CPU: layers past the cap go to disk, and results do not change."""
    from calib_eval.models import load_model

    whole = load_model(str(tiny_model_dir), "cpu", "float32")
    cap = f"cpu={int(0.9 * sum(p.numel() * 4 for p in whole.model.parameters()) / 1000)}KB"  # 90% of fp32 size
    mapped = load_model(str(tiny_model_dir), "cpu", "float32", Placement("auto", cap))
    placed = mapped.model.hf_device_map
    assert placed["model.embed_tokens"] == "cpu" and "disk" in placed.values(), placed
    assert mapped.device == "cpu"

    common = ["run", "--model", str(tiny_model_dir), "--tasks", "mmlu_oe_calib", "--limit", "3",
              "--scorers", "perplexity,zero_shot_classifier", "--bootstrap", "20", "--data-root", str(data_root),
              "--device", "cpu"]
    assert main(common + ["--output", str(tmp_path / "plain")]) == 0
    assert main(common + ["--output", str(tmp_path / "mapped"), "--device-map", "auto", "--max-memory", cap]) == 0
    plain, mapped = (next((tmp_path / side).rglob("results.json")) for side in ("plain", "mapped"))
    config = json.loads(mapped.read_text())["config"]
    assert (config["device_map"], config["max_memory"]) == ("auto", cap)  # recorded with the results
    items = [[json.loads(line) for line in (p.parent / "items.jsonl").read_text().splitlines()] for p in (plain, mapped)]
    assert [r["answer"] for r in items[0]] == [r["answer"] for r in items[1]]
    for a, b in zip(*items):
        assert a["scores"] == pytest.approx(b["scores"], abs=1e-5)


def test_cli_reports_a_bad_max_memory_cleanly(capsys):
    assert main(["run", "--device-map", "auto", "--max-memory", "cpu:1GiB"]) == 2
    assert "DEVICE=SIZE" in capsys.readouterr().err


def test_train_config_validates_its_placement():
    from calib_eval.training.config import TrainConfig

    assert TrainConfig(device_map="auto", max_memory="cpu=2GiB").placement == Placement("auto", "cpu=2GiB")
    with pytest.raises(ModelError):
        TrainConfig(max_memory="cpu=2GiB")


def test_train_loads_its_base_with_the_placement_flags(monkeypatch, tmp_path):
    """`calib-eval train --device-map auto --max-memory ...` reaches load_model (stopped right there)."""
    import calib_eval.models as models

    seen = {}

    class Loaded(Exception):
        pass

    def fake_load(name, device="auto", dtype="auto", placement=None, max_memory=None):
        seen.update(name=name, placement=placement)
        raise Loaded

    monkeypatch.setattr(models, "load_model", fake_load)
    with pytest.raises(Loaded):
        main(["train", "--method", "calibration-tune", "--output", str(tmp_path / "ct"), "--device-map", "auto",
              "--max-memory", "cpu=3GiB"])
    assert seen == {"name": "default", "placement": Placement("auto", "cpu=3GiB")}
