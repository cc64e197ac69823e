"""Probe (Kapoor et al.): an MLP head on the frozen model's query features, scored by `probe`.

Features (last-layer hidden state at the uncertainty query's last token) are
extracted once with the scorer's own code path, then only the head trains,
so a few thousand steps take seconds.
"""
from __future__ import annotations

import torch
import torch.nn.functional as F

from calib_eval.heads import ProbeHead
from calib_eval.training.config import ProbeConfig
from calib_eval.training.lora import freeze
from calib_eval.training.methods.base import TRAINERS, TrainContext, TrainOutcome, final_loss, holdout_metrics
from calib_eval.training.methods.readout import query_hidden
from calib_eval.training.trainer import train_loop


@TRAINERS.register("probe")
class Probe:
    name = "probe"
    scorer = "probe"
    config_class = ProbeConfig
    needs_graded = True

    def train(self, ctx: TrainContext) -> TrainOutcome:
        cfg, tok, model = ctx.cfg, ctx.loaded.tokenizer, ctx.loaded.model
        freeze(model)
        feats = query_hidden(model, tok, ctx.train, console=ctx.console, label="probe features")  # (N, d)
        feats = feats.to(ctx.device)
        labels = torch.tensor([int(g.correct) for g in ctx.train], device=ctx.device)
        head = ProbeHead(feats.shape[1], cfg.head_hidden).to(ctx.device)

        def loss_fn(idx_rows, mods):
            idx = torch.tensor(idx_rows, device=ctx.device)
            return F.cross_entropy(mods["head"](feats[idx]), labels[idx])

        result = train_loop(list(range(len(ctx.train))), loss_fn, {"head": head}, cfg, ctx.output,
                            ctx.accelerator, ctx.console)
        head.eval()
        with torch.no_grad():
            scores = head.p_correct(query_hidden(model, tok, ctx.holdout, console=ctx.console,
                                                 label="held-out, probe").to(ctx.device)).tolist() \
                if ctx.holdout else []
        return TrainOutcome(None, head, result.steps, result.resumed_from, final_loss(result.losses),
                            holdout_metrics(scores, [g.correct for g in ctx.holdout]),
                            heldout_scores={self.scorer: scores})
