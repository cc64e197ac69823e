"""UA-CLM (Krishnan et al. 2024): LoRA with the uncertainty-aware causal LM loss.

Training text = the question prompt + " " + the *reference* answer (the
paper fine-tunes on reference answers). A token counts as correct when the
model's argmax at that position equals the reference token. At test time the
uncertainty is the (mean or max) token entropy of the generated answer: the
runner's `entropy` scorer, run with this adapter switched on.
"""
from __future__ import annotations

import torch

from calib_eval.inference.tokens import encode_text
from calib_eval.training import losses
from calib_eval.training.config import UaClmConfig
from calib_eval.training.lora import train_lora
from calib_eval.training.methods.base import TRAINERS, TrainContext, TrainOutcome, final_loss
from calib_eval.training.sequences import collate, span_logits, target_seq


def reference_seq(g, tokenizer):
    return target_seq(g.prompt_ids, encode_text(tokenizer, " " + g.reference.strip()), int(g.correct))


def ua_clm_batch_loss(model, tokenizer, rows, cfg, device) -> torch.Tensor:
    return losses.ua_clm_loss_from_parts(ua_clm_parts(model, tokenizer, rows, cfg, device), cfg.ce_weight)


def ua_clm_parts(model, tokenizer, rows, cfg, device) -> torch.Tensor:
    batch = collate([reference_seq(g, tokenizer) for g in rows], tokenizer.pad_token_id, device)
    logits, targets, mask = span_logits(model, batch)
    return losses.ua_clm_loss_parts(logits, targets, mask, cfg.p_source)


def holdout_loss(model, tokenizer, rows, cfg, device) -> float:
    """The UA-CLM loss over all `rows` as one batch, computed batch_size rows at a time.

    One 64-row batch of a 152k-vocabulary model (Qwen2.5) needed ~17 GB for
    its span logits and their softmax copies, and was OOM-killed.
    """
    with torch.no_grad():
        parts = sum(ua_clm_parts(model, tokenizer, rows[s: s + cfg.batch_size], cfg, device)
                    for s in range(0, len(rows), cfg.batch_size))
    return float(losses.ua_clm_loss_from_parts(parts, cfg.ce_weight))


@TRAINERS.register("ua-clm")
class UaClm:
    name = "ua-clm"
    scorer = "ua_clm_entropy"
    config_class = UaClmConfig
    needs_graded = True

    def train(self, ctx: TrainContext) -> TrainOutcome:
        cfg, tok = ctx.cfg, ctx.loaded.tokenizer
        model, result = train_lora(ctx, lambda m, rows: ua_clm_batch_loss(m, tok, rows, cfg, ctx.device))
        metrics = {}
        if ctx.holdout:
            metrics["holdout_loss"] = holdout_loss(model, tok, ctx.holdout[:64], cfg, ctx.device)
        return TrainOutcome(model, None, result.steps, result.resumed_from, final_loss(result.losses), metrics)
