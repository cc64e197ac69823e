"""Wrap a base model in a fresh PEFT LoRA (B initialised to zero: starts as the base)."""
from __future__ import annotations


def add_lora(model, cfg):
    from peft import LoraConfig as PeftLoraConfig
    from peft import get_peft_model

    peft_cfg = PeftLoraConfig(r=cfg.lora_r, lora_alpha=cfg.lora_alpha, lora_dropout=cfg.lora_dropout,
                              target_modules=list(cfg.target_modules), bias="none", task_type="CAUSAL_LM")
    return get_peft_model(model, peft_cfg)


def freeze(model) -> None:
    for p in model.parameters():
        p.requires_grad_(False)


def train_lora(ctx, batch_loss):
    """Wrap the context's model in a fresh LoRA and train it on ctx.train.

    `batch_loss(model, rows) -> loss`. Returns (model in eval mode, loop result);
    the methods differ only in their loss and in what they measure afterwards.
    """
    from calib_eval.training.trainer import train_loop

    model = add_lora(ctx.loaded.model, ctx.cfg)
    ctx.loaded.model = model
    params = [p for p in model.parameters() if p.requires_grad]
    result = train_loop(ctx.train, lambda rows: batch_loss(model, rows), {"model": model}, [{"params": params}],
                        ctx.cfg, ctx.output, ctx.device, ctx.console)
    model.eval()
    return model, result
