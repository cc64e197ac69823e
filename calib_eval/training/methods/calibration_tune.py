"""LoRA+Prompt calibration tuning (Kapoor et al. 2024), scored by `lora_prompt`.

Loss per batch = two-way CE of the ` i`/` ii` answer to the uncertainty query
(label = was the model's own answer correct) + divergence_weight * JS (or KL)
between the tuned and the frozen model's next-token distributions at the
positions that predict the answer tokens. The frozen reference is the same
PeftModel under ``disable_adapter()``, so no second copy of the weights.
"""
from __future__ import annotations

import torch

from calib_eval import prompts
from calib_eval.inference.tokens import encode_text
from calib_eval.training import losses
from calib_eval.training.config import CalibrationTuneConfig
from calib_eval.training.lora import train_lora
from calib_eval.training.methods.base import TRAINERS, TrainContext, TrainOutcome, final_loss, holdout_metrics
from calib_eval.training.methods.readout import query_p_yes
from calib_eval.training.sequences import at_last, collate, query_seq


def choice_token_ids(tokenizer) -> tuple[int, int]:
    """Ids of ` i` and ` ii`; training reads them at one position, so each must be one distinct token."""
    from calib_eval.training.errors import TrainingError

    from calib_eval.scorers.ptrue import single_token_answers

    ids = single_token_answers(tokenizer)
    if ids is None:
        got = [encode_text(tokenizer, prompts.QUERY_NO), encode_text(tokenizer, prompts.QUERY_YES)]
        raise TrainingError(f"calibration-tune needs {prompts.QUERY_NO!r}/{prompts.QUERY_YES!r} to be single, "
                            f"distinct tokens for this tokenizer (got {got[0]} / {got[1]})")
    return ids


def calibration_loss(model, tokenizer, rows, cfg, device) -> torch.Tensor:
    no_id, yes_id = choice_token_ids(tokenizer)
    batch = collate([query_seq(g, tokenizer=tokenizer) for g in rows], tokenizer.pad_token_id, device)
    logits = model(input_ids=batch.ids, attention_mask=batch.mask).logits  # (B, L, V)
    loss = losses.two_way_query_ce(at_last(logits, batch.last), no_id, yes_id, batch.labels)
    if cfg.divergence != "none" and cfg.divergence_weight > 0:
        loss = loss + cfg.divergence_weight * answer_divergence(model, batch, logits, cfg.divergence)
    return loss


def answer_divergence(model, batch, tuned_logits, kind: str) -> torch.Tensor:
    """Divergence over the answer tokens; the frozen pass only reads up to the answer's end."""
    span = batch.span_mask  # (B, L-1)
    if not span.any():
        return tuned_logits.new_zeros(())
    width = int(span.nonzero()[:, 1].max()) + 1  # positions 0..width-1 predict tokens 1..width
    with torch.no_grad(), model.disable_adapter():
        frozen = model(input_ids=batch.ids[:, : width + 1], attention_mask=batch.mask[:, : width + 1]).logits
    return losses.divergence(kind, tuned_logits[:, :width], frozen[:, :width], span[:, :width])


@TRAINERS.register("calibration-tune")
class CalibrationTune:
    name = "calibration-tune"
    scorer = "lora_prompt"
    config_class = CalibrationTuneConfig
    needs_graded = True

    def train(self, ctx: TrainContext) -> TrainOutcome:
        cfg, tok = ctx.cfg, ctx.loaded.tokenizer
        model, result = train_lora(ctx, lambda m, rows: calibration_loss(m, tok, rows, cfg, ctx.device))
        scores = query_p_yes(model, tok, ctx.holdout)
        return TrainOutcome(model, None, result.steps, result.resumed_from, final_loss(result.losses),
                            holdout_metrics(scores, [g.correct for g in ctx.holdout]))
