"""`train(cfg)`: graded data -> method -> adapter folder. The CLI is a thin layer on this."""
from __future__ import annotations

import time
from pathlib import Path

from calib_eval.training.errors import TrainingError


def train(cfg, loaded=None, console=None, graded=None) -> Path:
    """Train cfg.method on cfg.model and write the adapter folder; returns its path.

    `loaded` (a LoadedModel) may be passed to reuse a model already in memory
    (tests); it is modified in place (wrapped in a PeftModel). `graded` (a
    list of GradedExample) replaces building the graded set from the sources.
    Under `accelerate launch` every process runs this; the main one writes.
    """
    from calib_eval import __version__
    from calib_eval.training import parallel
    from calib_eval.training.methods.base import TrainContext, get_method
    from calib_eval.training.output import prepare_output, write_adapter, write_heldout_scores
    from calib_eval.training.trainer import seed_everything

    method = get_method(cfg.method)
    if not isinstance(cfg, method.config_class):
        raise TrainingError(f"method {cfg.method!r} needs a {method.config_class.__name__}, got {type(cfg).__name__}")
    check_quantize(cfg)
    accelerator = parallel.make_accelerator(cfg.mixed_precision, cfg.device)
    parallel.check_supported(accelerator, cfg)
    with accelerator.main_process_first():  # the main process clears/creates the folder before anyone reads it
        out = prepare_output(cfg.output, cfg.overwrite, cfg.resume) if accelerator.is_main_process \
            else Path(cfg.output)
    started = time.perf_counter()
    loaded = loaded or load_for_training(cfg, accelerator)
    fingerprint = loaded.fingerprint  # of the base, before any LoRA is attached
    weights = loaded.weights_fingerprint  # the same for any dtype of this base: cards check this one
    with accelerator.main_process_first():  # one process generates and caches the graded set, the rest read it
        train_rows, holdout, data_card = graded_split(cfg, loaded, graded) if method.needs_graded else ([], [], {})
    if parallel.is_sharded(accelerator):  # loaded into CPU RAM; FSDP puts the shards (and so the inputs) on the GPU
        loaded.device = str(accelerator.device)
    seed_everything(cfg.seed)
    outcome = method().train(TrainContext(cfg, loaded, train_rows, holdout, out, console, accelerator))
    card = {"method": method.name, "scorer": method.scorer, "base_model": loaded.name, "base_source": loaded.source,
            "base_fingerprint": fingerprint, "base_weights_fingerprint": weights, "steps": outcome.steps, "resumed_from": outcome.resumed_from,
            "final_train_loss": outcome.final_loss, "seed": cfg.seed, "heldout_metrics": outcome.metrics,
            "config": _plain(cfg), "calib_eval_version": __version__, **parallel.describe(accelerator),
            "base_dtype": loaded.dtype, "base_quantization": base_quantization(loaded.model),
            "global_batch": cfg.batch_size * cfg.grad_accum * accelerator.num_processes,
            "train_seconds": round(time.perf_counter() - started, 1), **data_card, **outcome.card}
    sharded = parallel.is_sharded(accelerator)  # then gather the shards on every process (a collective)
    lora_state = parallel.gathered_trainable(outcome.peft_model) if sharded and outcome.peft_model is not None else None
    head_state = parallel.gathered_state(outcome.head) if sharded and outcome.head is not None else None
    if accelerator.is_main_process:
        write_heldout_scores(out, holdout, outcome.heldout_scores)
        write_adapter(out, card, outcome.peft_model, outcome.head, lora_state, head_state)
    accelerator.wait_for_everyone()
    return out


def base_quantization(model) -> str | None:
    """4bit / 8bit when the frozen base was loaded through bitsandbytes (QLoRA), else None."""
    base = model.get_base_model() if hasattr(model, "get_base_model") else model
    if getattr(base, "is_loaded_in_4bit", False):
        return "4bit"
    return "8bit" if getattr(base, "is_loaded_in_8bit", False) else None


def check_quantize(cfg) -> None:
    """Fail before any work when a 4-/8-bit base cannot be loaded here (bitsandbytes or a GPU missing)."""
    if cfg.quantize:
        import torch

        from calib_eval.placement import quantization_config

        quantization_config(cfg.quantize, torch.float32)


def load_for_training(cfg, accelerator):
    """The base model on this process's device (a QLoRA base computes in bf16 under bf16 mixed precision).

    Under FSDP every process loads the base into CPU RAM (in bf16 under bf16
    mixed precision) and accelerate moves only its shard to the GPU.
    """
    from calib_eval.models import load_model
    from calib_eval.runner.parallel import current_shard
    from calib_eval.training.parallel import is_sharded

    placement = cfg.placement
    bf16 = accelerator.mixed_precision == "bf16"
    dtype = "bfloat16" if bf16 and (cfg.quantize or is_sharded(accelerator)) else "float32"
    device = "cpu" if is_sharded(accelerator) else str(accelerator.device) if placement.is_default else cfg.device
    return load_model(cfg.model, device, dtype, placement, current_shard().max_memory(placement))


def graded_split(cfg, loaded, graded=None) -> tuple[list, list, dict]:
    """(train rows, held-out rows, card fields): built/cached, filtered, checked, split."""
    from calib_eval.training import graded_data as gd

    rows = list(graded) if graded is not None else gd.build_graded(
        loaded, cfg.sources, cfg.max_examples, cfg.seed, cfg.max_new_tokens, cfg.gen_batch_size,
        cfg.data_root or None, cfg.cache_dir or None)
    n_built = len(rows)
    if not cfg.keep_empty:
        rows = [g for g in rows if g.answer.strip()]
    gd.require_two_classes(rows, "graded training set")
    if cfg.balance:
        rows = gd.balance_classes(rows, cfg.seed)
    train_rows, holdout = gd.split_holdout(rows, cfg.holdout_fraction, cfg.seed)
    gd.require_two_classes(train_rows, "training split")
    card = {"data_sources": list(cfg.sources), "graded_examples": n_built, "examples": len(rows),
            "train_examples": len(train_rows), "holdout_examples": len(holdout),
            "train_accuracy": sum(g.correct for g in train_rows) / len(train_rows)}
    return train_rows, holdout, card


def _plain(cfg) -> dict:
    import dataclasses

    return {k: list(v) if isinstance(v, tuple) else v for k, v in dataclasses.asdict(cfg).items()}
