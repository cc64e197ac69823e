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
from calib_eval.training.methods.baselines import compare_to_baselines, untrained_scores
from calib_eval.training.methods.readout import query_p_yes
from calib_eval.training.parallel import unwrap
from calib_eval.training.sequences import collate, query_seq, span_positions


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
    regularised = cfg.divergence != "none" and cfg.divergence_weight > 0
    # only the positions the loss reads get logits (see sequences.span_logits):
    # each row's last token, and the answer span for the regulariser
    keep = loss_positions(batch, regularised)
    logits = model(input_ids=batch.ids, attention_mask=batch.mask, logits_to_keep=keep).logits  # (B, K, V)
    column = torch.full((batch.ids.shape[1],), -1, dtype=torch.long, device=keep.device)
    column[keep] = torch.arange(len(keep), device=keep.device)
    last_logits = logits[torch.arange(logits.shape[0], device=logits.device), column[batch.last]]
    loss = losses.two_way_query_ce(last_logits, no_id, yes_id, batch.labels)
    if regularised:
        span_cols = column[span_positions(batch)]
        loss = loss + cfg.divergence_weight * answer_divergence(model, batch, logits[:, span_cols], cfg.divergence,
                                                                positions=span_positions(batch))
    return loss


def loss_positions(batch, regularised: bool) -> torch.Tensor:
    wanted = batch.last if not regularised else torch.cat([batch.last, span_positions(batch)])
    return torch.unique(wanted)  # sorted


def answer_divergence(model, batch, tuned_logits, kind: str, positions: torch.Tensor | None = None) -> torch.Tensor:
    """Divergence over the answer tokens; the frozen pass only reads up to the answer's end.

    ``tuned_logits`` is (B, L, V) for every position, or (B, P, V) for the
    given ``positions`` (those of :func:`span_positions`).
    """
    if positions is None:
        positions = span_positions(batch)
        tuned_logits = tuned_logits[:, positions]
    if not len(positions):
        return tuned_logits.new_zeros(())
    width = int(positions.max()) + 1  # the frozen pass needs tokens 0..width-1 only
    peft_model = unwrap(model)  # a data-parallel wrapper has no disable_adapter; no grad: no sync to skip
    with torch.no_grad(), peft_model.disable_adapter():
        frozen = peft_model(input_ids=batch.ids[:, :width], attention_mask=batch.mask[:, :width],
                       logits_to_keep=positions).logits
    return losses.divergence(kind, tuned_logits, frozen, batch.span_mask[:, positions])


@TRAINERS.register("calibration-tune")
class CalibrationTune:
    name = "calibration-tune"
    scorer = "lora_prompt"
    config_class = CalibrationTuneConfig
    needs_graded = True

    def train(self, ctx: TrainContext) -> TrainOutcome:
        cfg, tok = ctx.cfg, ctx.loaded.tokenizer
        model, result = train_lora(ctx, lambda m, rows: calibration_loss(m, tok, rows, cfg, ctx.device))
        scores = query_p_yes(model, tok, ctx.holdout, console=ctx.console, label="held-out, lora_prompt")
        correct = [g.correct for g in ctx.holdout]
        metrics = holdout_metrics(scores, correct)
        per_item = {self.scorer: scores}
        if metrics and 0 < sum(correct) < len(correct):
            baselines = untrained_scores(model, tok, ctx.holdout, ctx.console)
            metrics["baselines"] = compare_to_baselines(scores, baselines, correct)
            per_item.update(baselines)
        return TrainOutcome(model, None, result.steps, result.resumed_from, final_loss(result.losses), metrics,
                            heldout_scores=per_item)
