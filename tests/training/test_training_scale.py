"""Trainer options for bigger runs, in one process: accumulation, checkpointing, bf16, QLoRA, resume, the card."""
import json

import pytest
import torch

from calib_eval.training import train
from calib_eval.training.trainer import LOSSES
from test_training_methods import small_cfg


def curve(folder):
    return [loss for _, loss in json.loads((folder / LOSSES).read_text())]


def lora_weights(folder):
    from safetensors.torch import load_file

    return load_file(str(folder / "adapter_model.safetensors"))


def ct_cfg(output, **kw):
    """calibration-tune with a per-row mean loss (no token-averaged divergence, no dropout)."""
    return small_cfg("calibration-tune", output, steps=4, lora_dropout=0.0, divergence="none", **kw)


def test_accumulation_reads_the_same_rows_as_one_big_batch(make_loaded, graded_rows, tmp_path):
    """batch 4 x accumulation 1 == batch 2 x accumulation 2: same rows per step, same mean gradient."""
    big = train(ct_cfg(tmp_path / "big", batch_size=4), loaded=make_loaded(), graded=graded_rows)
    accum = train(ct_cfg(tmp_path / "accum", batch_size=2, grad_accum=2), loaded=make_loaded(), graded=graded_rows)
    assert curve(accum) == pytest.approx(curve(big), rel=1e-5)
    # only float rounding (padding widths differ) separates them; a different order of rows would not be this close
    shuffled = train(ct_cfg(tmp_path / "other", batch_size=4, seed=1), loaded=make_loaded(), graded=graded_rows)
    assert curve(shuffled) != pytest.approx(curve(big), rel=1e-3)
    for name, w in lora_weights(big).items():
        assert torch.allclose(lora_weights(accum)[name], w, atol=1e-5), name
    card = json.loads((accum / "calib_card.json").read_text())
    assert card["global_batch"] == 4 and card["num_processes"] == 1 and card["mixed_precision"] == "no"
    assert card["base_dtype"] == "float32" and card["base_quantization"] is None


def test_gradient_checkpointing_recomputes_and_trains_the_same(make_loaded, graded_rows, tmp_path, monkeypatch):
    """Checkpointed layers run again in the backward pass; the losses do not change."""
    import transformers.modeling_utils as mu

    wrapped, runs = [], []
    checkpoint = mu.checkpoint  # torch's, bound by transformers when checkpointing is switched on

    def counting(fn, *args, **kw):
        wrapped.append(1)
        return checkpoint(lambda *a, **k: (runs.append(1), fn(*a, **k))[1], *args, **kw)

    monkeypatch.setattr(mu, "checkpoint", counting)
    cfg = dict(steps=3, lora_dropout=0.1)  # dropout on: the recompute must redraw the same masks
    plain = train(small_cfg("calibration-tune", tmp_path / "plain", **cfg), loaded=make_loaded(), graded=graded_rows)
    assert wrapped == []
    ckpt = train(small_cfg("calibration-tune", tmp_path / "ckpt", gradient_checkpointing=True, **cfg),
                 loaded=make_loaded(), graded=graded_rows)
    # 2 layers x 3 steps of the tuned pass (the frozen pass has no grad: nothing to checkpoint), each run twice
    assert len(wrapped) == 6 and len(runs) == 12
    assert curve(ckpt) == pytest.approx(curve(plain), rel=1e-6)
    assert json.loads((ckpt / "calib_card.json").read_text())["config"]["gradient_checkpointing"] is True


def test_bf16_mixed_precision_trains_close_to_float32_and_says_so(make_loaded, graded_rows, tmp_path):
    fp32 = train(ct_cfg(tmp_path / "fp32", mixed_precision="no"), loaded=make_loaded(), graded=graded_rows)
    bf16 = train(ct_cfg(tmp_path / "bf16", mixed_precision="bf16"), loaded=make_loaded(), graded=graded_rows)
    card = json.loads((bf16 / "calib_card.json").read_text())
    assert card["mixed_precision"] == "bf16" and card["num_processes"] == 1
    # bf16 keeps 8 bits of mantissa (relative error ~4e-3 per op): close to float32, yet not identical
    assert curve(bf16) == pytest.approx(curve(fp32), rel=5e-2)
    assert curve(bf16) != pytest.approx(curve(fp32), rel=1e-6)
    assert all(w.dtype == torch.float32 for w in lora_weights(bf16).values())  # autocast: weights stay float32
    # the model left training without accelerate's autocast patch: float32 logits as before
    assert json.loads((fp32 / "calib_card.json").read_text())["mixed_precision"] == "no"


def test_4bit_base_without_bitsandbytes_or_gpu_fails_before_any_work(make_loaded, graded_rows, tmp_path):
    import importlib.util

    from calib_eval.errors import ModelError

    cfg = small_cfg("calibration-tune", tmp_path / "qlora", quantize="4bit")
    if importlib.util.find_spec("bitsandbytes") is not None and torch.cuda.is_available():
        pytest.skip("bitsandbytes and a GPU are present: QLoRA can load here")
    missing = "not installed \\(pip install bitsandbytes\\)" if importlib.util.find_spec("bitsandbytes") is None \
        else "needs a CUDA GPU"
    with pytest.raises(ModelError, match=missing):
        train(cfg, loaded=make_loaded(), graded=graded_rows)
    assert not (tmp_path / "qlora").exists()


def test_qlora_trains_a_lora_over_a_4bit_base(tokenizer, graded_rows, tmp_path):
    """A bitsandbytes NF4 base gets a float32 LoRA (bitsandbytes 0.50 runs 4-bit on CPU); the base stays frozen."""
    pytest.importorskip("bitsandbytes")
    from transformers import BitsAndBytesConfig, LlamaConfig, LlamaForCausalLM

    from calib_eval.models import LoadedModel

    torch.manual_seed(0)  # hidden 128: bitsandbytes' CPU kernels quantize in blocks of 64 along the width
    config = LlamaConfig(vocab_size=len(tokenizer), hidden_size=128, num_hidden_layers=2, num_attention_heads=2,
                         num_key_value_heads=2, intermediate_size=256, tie_word_embeddings=True,
                         pad_token_id=tokenizer.pad_token_id)
    LlamaForCausalLM(config).save_pretrained(tmp_path / "base")
    nf4 = BitsAndBytesConfig(load_in_4bit=True, bnb_4bit_quant_type="nf4", bnb_4bit_compute_dtype=torch.float32)
    model = LlamaForCausalLM.from_pretrained(tmp_path / "base", quantization_config=nf4, device_map="cpu")
    folder = train(small_cfg("calibration-tune", tmp_path / "qlora", steps=3),
                   loaded=LoadedModel(model, tokenizer, "tiny-nf4", str(tmp_path / "base"), "cpu", "float32"),
                   graded=graded_rows)
    card = json.loads((folder / "calib_card.json").read_text())
    assert card["base_quantization"] == "4bit"
    assert all(loss == loss for loss in curve(folder))  # finite, not NaN
    assert any(float(w.abs().max()) > 0 for n, w in lora_weights(folder).items() if "lora_B" in n)
    assert all(w.dtype == torch.float32 for w in lora_weights(folder).values())
    # the 4-bit base stayed frozen (bitsandbytes repacks its weights on the first CPU forward: compare no bytes)
    frozen = [p for n, p in model.named_parameters() if "lora_" not in n]
    assert frozen and all(not p.requires_grad and p.grad is None for p in frozen)


def test_unknown_precision_and_quantization_are_refused():
    from calib_eval.errors import CalibEvalError

    with pytest.raises(CalibEvalError, match="mixed_precision"):
        small_cfg("calibration-tune", "x", mixed_precision="fp16")
    with pytest.raises(CalibEvalError, match="4bit"):
        small_cfg("calibration-tune", "x", quantize="3bit")


def test_resume_after_a_stop_gives_the_uninterrupted_adapter(make_loaded, graded_rows, tmp_path, monkeypatch):
    """Stopped right after the step-2 checkpoint, resumed: same loss curve and LoRA as a run never stopped."""
    from calib_eval.training import trainer

    cfg = dict(steps=5, checkpoint_every=2, lora_dropout=0.1)  # dropout: masks must not depend on the restart
    whole = train(small_cfg("calibration-tune", tmp_path / "whole", **cfg), loaded=make_loaded(), graded=graded_rows)
    save = trainer.save_checkpoint

    def save_then_stop(path, *args):
        save(path, *args)
        raise KeyboardInterrupt("stopped after the first checkpoint")

    monkeypatch.setattr(trainer, "save_checkpoint", save_then_stop)
    with pytest.raises(KeyboardInterrupt):
        train(small_cfg("calibration-tune", tmp_path / "cut", **cfg), loaded=make_loaded(), graded=graded_rows)
    monkeypatch.setattr(trainer, "save_checkpoint", save)
    assert torch.load(tmp_path / "cut" / trainer.CHECKPOINT, weights_only=False)["step"] == 2
    resumed = train(small_cfg("calibration-tune", tmp_path / "cut", resume=True, **cfg), loaded=make_loaded(),
                    graded=graded_rows)
    card = json.loads((resumed / "calib_card.json").read_text())
    assert card["resumed_from"] == 2 and card["steps"] == 5
    assert curve(resumed) == pytest.approx(curve(whole), rel=1e-6) and len(curve(resumed)) == 5
    for name, w in lora_weights(whole).items():
        assert torch.allclose(lora_weights(resumed)[name], w, atol=1e-6), name


def test_micro_batches_of_all_processes_tile_the_one_process_step():
    """W processes x A accumulation read exactly the micro-batches of one process with accumulation W*A."""
    from calib_eval.training.parallel import micro_batch_index

    for world, accum in [(1, 1), (2, 1), (2, 3), (4, 2)]:
        for step in range(3):
            got = sorted(micro_batch_index(step, r, m, world, accum) for r in range(world) for m in range(accum))
            want = [micro_batch_index(step, 0, m, 1, world * accum) for m in range(world * accum)]
            assert got == want


def test_launchers_the_loop_cannot_serve_are_refused_up_front(monkeypatch):
    """FSDP without checkpoints is accepted; DeepSpeed, FSDP checkpoints and FSDP + QLoRA are clear errors."""
    from types import SimpleNamespace

    from accelerate.utils import DistributedType

    from calib_eval.training import TrainingError
    from calib_eval.training.parallel import check_supported

    fsdp, ds = (SimpleNamespace(distributed_type=t) for t in (DistributedType.FSDP, DistributedType.DEEPSPEED))
    check_supported(fsdp, small_cfg("calibration-tune", "x", checkpoint_every=0))
    check_supported(SimpleNamespace(distributed_type=DistributedType.MULTI_GPU),
                    small_cfg("calibration-tune", "x", checkpoint_every=10, quantize="4bit"))
    with pytest.raises(TrainingError, match="DeepSpeed"):
        check_supported(ds, small_cfg("calibration-tune", "x"))
    with pytest.raises(TrainingError, match="--checkpoint-every 0"):
        check_supported(fsdp, small_cfg("calibration-tune", "x", checkpoint_every=10))
    with pytest.raises(TrainingError, match="QLoRA"):
        check_supported(fsdp, small_cfg("calibration-tune", "x", checkpoint_every=0, quantize="4bit"))
    monkeypatch.setenv("ACCELERATE_USE_FSDP", "true")  # FSDP asked for, but accelerate made this CPU run DDP
    with pytest.raises(TrainingError, match="GPUs only"):
        check_supported(SimpleNamespace(distributed_type=DistributedType.MULTI_CPU),
                        small_cfg("calibration-tune", "x", checkpoint_every=0))


def test_sharded_save_path_writes_what_the_plain_save_writes(make_loaded, graded_rows, tmp_path):
    """The FSDP save (gathered LoRA + head tensors handed to the writer) gives the same folder contents."""
    from safetensors.torch import load_file

    from calib_eval.adapters import AdapterSet
    from calib_eval.training.output import write_adapter
    from calib_eval.training.parallel import gathered_state, gathered_trainable

    loaded = make_loaded()
    plain = train(small_cfg("lora-probe", tmp_path / "plain"), loaded=loaded, graded=graded_rows)
    peft_model = loaded.model
    head = AdapterSet.load(make_loaded(), {"probe": str(plain)}).heads["probe"]  # the trained head, reloaded
    lora = gathered_trainable(peft_model)
    assert lora and all("lora_" in name for name in lora)
    gathered = write_adapter(tmp_path / "gathered", {"method": "lora-probe"}, peft_model, head, lora,
                             gathered_state(head))
    for name in ("adapter_model.safetensors", "probe_head.safetensors"):
        want, got = load_file(str(plain / name)), load_file(str(gathered / name))
        assert want.keys() == got.keys() and all(torch.equal(want[k], got[k]) for k in want), name
