"""LoRA + probe head (Kapoor et al.'s "LoRA"), scored by `probe` with the LoRA switched on.

The head reads the last-layer hidden state at the query's last token of the
LoRA-adapted model; LoRA and head are trained jointly with CE on the head.
"""
from __future__ import annotations

import torch
import torch.nn.functional as F

from calib_eval.heads import ProbeHead
from calib_eval.training.config import LoraProbeConfig
from calib_eval.training.lora import add_lora
from calib_eval.training.methods.base import TRAINERS, TrainContext, TrainOutcome, final_loss, holdout_metrics
from calib_eval.training.methods.readout import query_hidden
from calib_eval.training.sequences import at_last, collate, query_seq
from calib_eval.training.trainer import train_loop


def head_loss(model, head, tokenizer, rows, device) -> torch.Tensor:
    batch = collate([query_seq(g, tokenizer=tokenizer) for g in rows], tokenizer.pad_token_id, device)
    out = model(input_ids=batch.ids, attention_mask=batch.mask, output_hidden_states=True)
    return F.cross_entropy(head(at_last(out.hidden_states[-1], batch.last)), batch.labels)


@TRAINERS.register("lora-probe")
class LoraProbe:
    name = "lora-probe"
    scorer = "probe"
    config_class = LoraProbeConfig
    needs_graded = True

    def train(self, ctx: TrainContext) -> TrainOutcome:
        cfg, tok = ctx.cfg, ctx.loaded.tokenizer
        model = add_lora(ctx.loaded.model, cfg)
        ctx.loaded.model = model
        head = ProbeHead(model.config.hidden_size, cfg.head_hidden).to(ctx.device)

        def loss_fn(rows, mods):
            return head_loss(mods["model"], mods["head"], tok, rows, ctx.device)

        result = train_loop(ctx.train, loss_fn, {"model": model, "head": head}, cfg, ctx.output, ctx.accelerator,
                            ctx.console, lrs={"head": cfg.head_lr})
        model.eval(), head.eval()
        with torch.no_grad():
            scores = head.p_correct(query_hidden(model, tok, ctx.holdout, console=ctx.console,
                                                 label="held-out, probe").to(ctx.device)).tolist() \
                if ctx.holdout else []
        return TrainOutcome(model, head, result.steps, result.resumed_from, final_loss(result.losses),
                            holdout_metrics(scores, [g.correct for g in ctx.holdout]),
                            heldout_scores={self.scorer: scores})
