"""Wrap a base model in a fresh PEFT LoRA (B initialised to zero: starts as the base)."""
from __future__ import annotations


def add_lora(model, cfg):
    """Fresh LoRA on `model`; a 4-/8-bit base (QLoRA) is readied for training first.

    Gradient checkpointing (cfg.gradient_checkpointing) is switched on here, on
    the base, before the LoRA wraps it.
    """
    from peft import LoraConfig as PeftLoraConfig
    from peft import get_peft_model, prepare_model_for_kbit_training

    checkpointing = bool(getattr(cfg, "gradient_checkpointing", False))
    reentrant = {"use_reentrant": False}  # the frozen base's inputs need no grad with the non-reentrant variant
    if getattr(model, "is_loaded_in_4bit", False) or getattr(model, "is_loaded_in_8bit", False):
        model = prepare_model_for_kbit_training(model, use_gradient_checkpointing=checkpointing,
                                                gradient_checkpointing_kwargs=reentrant)
    elif checkpointing and hasattr(model, "activation_checkpointing_enable"):  # the old name warns that it goes in v6
        model.activation_checkpointing_enable(activation_checkpointing_kwargs=reentrant)
    elif checkpointing:
        model.gradient_checkpointing_enable(gradient_checkpointing_kwargs=reentrant)
    peft_cfg = PeftLoraConfig(r=cfg.lora_r, lora_alpha=cfg.lora_alpha, lora_dropout=cfg.lora_dropout,
                              target_modules=list(cfg.target_modules), bias="none", task_type="CAUSAL_LM")
    return get_peft_model(model, peft_cfg)


def freeze(model) -> None:
    for p in model.parameters():
        p.requires_grad_(False)


def train_lora(ctx, batch_loss):
    """Wrap the context's model in a fresh LoRA and train it on ctx.train.

    `batch_loss(model, rows) -> loss`, where model may be accelerate's wrapper
    (data parallel) around the PeftModel. Returns (PeftModel in eval mode, loop
    result); the methods differ only in their loss and what they measure afterwards.
    """
    from calib_eval.training.trainer import train_loop

    model = add_lora(ctx.loaded.model, ctx.cfg)
    ctx.loaded.model = model
    result = train_loop(ctx.train, lambda rows, mods: batch_loss(mods["model"], rows), {"model": model},
                        ctx.cfg, ctx.output, ctx.accelerator, ctx.console)
    model.eval()
    return model, result
