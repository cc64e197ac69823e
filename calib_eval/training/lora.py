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
