"""Verbalized, pairwise and multitask SFT (Steyvers, Belem & Smyth 2025).

Targets come from the model's own measured correctness:

* verbalized: after prompt + answer + VERBALIZED_QUERY the target is " NN\\n".
  NN is chosen by ``target_mode``: ``binary`` (90 correct / 10 incorrect),
  ``source`` (the model's accuracy on that source: calibrated but says nothing
  about the item), or the default ``shrunk``: source accuracy moved towards
  the item's 0/1 correctness by ``shrink`` (0.8). Its mean per source equals
  the source accuracy (calibrated on average) while still ranking correct
  items above incorrect ones. Clipped to [5, 95], rounded to ``round_to``.
* pairwise: PAIRWISE_QUERY over two questions with different correctness,
  order random; the target is " 1" or " 2" (the one answered correctly).
* multitask: both lists mixed.

Evaluation: the `verbalized` scorer reads the same query (run with the
adapter switched on); pairwise accuracy needs a pairwise evaluator.
"""
from __future__ import annotations

import random
from collections import defaultdict

import torch

from calib_eval import prompts
from calib_eval.inference.tokens import encode_text
from calib_eval.training import losses
from calib_eval.training.config import MultitaskSftConfig, PairwiseSftConfig, VerbalizedSftConfig
from calib_eval.training.lora import add_lora
from calib_eval.training.methods.base import TRAINERS, TrainContext, TrainOutcome, final_loss
from calib_eval.training.sequences import Seq, collate, span_logits, target_seq, text_prompt_ids
from calib_eval.training.trainer import train_loop


def confidence_targets(rows, mode: str, shrink: float, round_to: int) -> list[int]:
    """Per-row confidence (percent) targets from measured correctness."""
    by_source = defaultdict(list)
    for g in rows:
        by_source[g.source].append(float(g.correct))
    acc = {s: sum(v) / len(v) for s, v in by_source.items()}
    out = []
    for g in rows:
        c = float(g.correct)
        value = {"binary": 0.1 + 0.8 * c, "source": acc[g.source],
                 "shrunk": acc[g.source] + shrink * (c - acc[g.source])}[mode]
        pct = min(95.0, max(5.0, 100.0 * value))
        out.append(int(round_to * round(pct / round_to)))
    return out


def verbalized_seqs(rows, tokenizer, cfg) -> list[Seq]:
    query = encode_text(tokenizer, prompts.VERBALIZED_QUERY)
    return [target_seq(list(g.prompt_ids) + list(g.answer_ids) + query, encode_text(tokenizer, f" {nn}\n"),
                       int(g.correct))
            for g, nn in zip(rows, confidence_targets(rows, cfg.target_mode, cfg.shrink, cfg.round_to))]


def pairwise_seqs(rows, tokenizer, n_pairs: int, seed: int) -> list[Seq]:
    right = [g for g in rows if g.correct]
    wrong = [g for g in rows if not g.correct]
    rng = random.Random(seed)
    seqs = []
    for _ in range(n_pairs if right and wrong else 0):
        a, b = rng.choice(right), rng.choice(wrong)
        first_right = rng.random() < 0.5
        q1, q2 = (a, b) if first_right else (b, a)
        text = prompts.PAIRWISE_QUERY.format(first=q1.example.get("question", q1.prompt),
                                             second=q2.example.get("question", q2.prompt))
        reply = prompts.PAIRWISE_FIRST if first_right else prompts.PAIRWISE_SECOND
        seqs.append(target_seq(text_prompt_ids(tokenizer, text), encode_text(tokenizer, reply)))
    return seqs


def sft_loss(model, tokenizer, seqs, device) -> torch.Tensor:
    batch = collate(seqs, tokenizer.pad_token_id, device)
    logits, targets, mask = span_logits(model, batch)
    return losses.masked_lm_ce(logits, targets, mask)


class _Sft:
    scorer = "verbalized"
    needs_graded = True

    def build(self, ctx: TrainContext) -> list[Seq]:
        raise NotImplementedError

    def train(self, ctx: TrainContext) -> TrainOutcome:
        cfg, tok = ctx.cfg, ctx.loaded.tokenizer
        seqs = self.build(ctx)
        model = add_lora(ctx.loaded.model, cfg)
        ctx.loaded.model = model
        result = train_loop(seqs, lambda rows, mods: sft_loss(mods["model"], tok, rows, ctx.device),
                            {"model": model}, cfg, ctx.output, ctx.accelerator, ctx.console)
        model.eval()
        return TrainOutcome(model, None, result.steps, result.resumed_from, final_loss(result.losses),
                            card={"sft_examples": len(seqs)})


@TRAINERS.register("verbalized-sft")
class VerbalizedSft(_Sft):
    name = "verbalized-sft"
    config_class = VerbalizedSftConfig

    def build(self, ctx):
        return verbalized_seqs(ctx.train, ctx.loaded.tokenizer, ctx.cfg)


@TRAINERS.register("pairwise-sft")
class PairwiseSft(_Sft):
    name = "pairwise-sft"
    scorer = "pairwise"
    config_class = PairwiseSftConfig

    def build(self, ctx):
        return pairwise_seqs(ctx.train, ctx.loaded.tokenizer, ctx.cfg.n_pairs, ctx.cfg.seed)


@TRAINERS.register("multitask-sft")
class MultitaskSft(_Sft):
    name = "multitask-sft"
    config_class = MultitaskSftConfig

    def build(self, ctx):
        seqs = verbalized_seqs(ctx.train, ctx.loaded.tokenizer, ctx.cfg) + \
            pairwise_seqs(ctx.train, ctx.loaded.tokenizer, ctx.cfg.n_pairs, ctx.cfg.seed)
        random.Random(ctx.cfg.seed).shuffle(seqs)
        return seqs
