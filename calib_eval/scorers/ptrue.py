"""Zero-shot classifier: ask the model whether its own answer is correct.

Kapoor et al.'s uncertainty query is appended to prompt + answer; the
confidence is a two-way softmax over the next-token logits of ` i` (no) and
` ii` (yes) -- normalised over those two, not the whole vocabulary.
"""
from __future__ import annotations

import torch

from calib_eval import prompts
from calib_eval.inference.tokens import encode_text
from calib_eval.scorers.base import SCORERS, ScoringBatch


def continuation_logprob(state, prompt_ids: list[int], continuation_ids: list[int]) -> list[float]:
    """log P(continuation | state + prompt) per row, for multi-token options."""
    logits, _, _ = state.forward([prompt_ids + continuation_ids] * state.batch_size, keep=False)
    start = len(prompt_ids) - 1  # logits at position t predict token t+1
    logp = torch.log_softmax(logits[:, start : start + len(continuation_ids)].float(), dim=-1)
    target = torch.tensor(continuation_ids, device=logp.device)
    return logp.gather(2, target.expand(logp.shape[0], -1)[..., None]).squeeze(-1).sum(dim=1).tolist()


def single_token_answers(tokenizer) -> tuple[int, int] | None:
    """Ids of ` i` and ` ii` when each is one distinct token (real tokenizers), else None."""
    no_ids, yes_ids = encode_text(tokenizer, prompts.QUERY_NO), encode_text(tokenizer, prompts.QUERY_YES)
    if len(no_ids) == 1 and len(yes_ids) == 1 and no_ids != yes_ids:
        return no_ids[0], yes_ids[0]
    return None


def query_yes_probability(state, tokenizer, query: str = prompts.UNCERTAINTY_QUERY) -> list[float]:
    """P(yes) after `query` for every row of `state` (state left unchanged).

    Two-way softmax over log P(" i") and log P(" ii"). When both are single,
    distinct tokens (real tokenizers) this is the logits of those two tokens
    at one position, read from a single forward pass; otherwise each option's
    full log-likelihood is used, exactly as lm-eval scores the same query.
    """
    query_ids = encode_text(tokenizer, query)
    single = single_token_answers(tokenizer)
    if single is not None:
        logits, _, lengths = state.forward([query_ids] * state.batch_size, keep=False)
        last = logits[torch.arange(state.batch_size), torch.tensor(lengths) - 1].float()  # (B, V)
        pair = torch.stack([last[:, single[0]], last[:, single[1]]], dim=1)  # (B, 2)
    else:
        no_ids, yes_ids = encode_text(tokenizer, prompts.QUERY_NO), encode_text(tokenizer, prompts.QUERY_YES)
        pair = torch.tensor([continuation_logprob(state, query_ids, no_ids),
                             continuation_logprob(state, query_ids, yes_ids)]).T
    return torch.softmax(pair, dim=1)[:, 1].tolist()


@SCORERS.register("zero_shot_classifier")
class ZeroShotClassifier:
    name = "zero_shot_classifier"
    is_probability = True
    needs_adapter = False
    task_modes = ("generate", "choice")

    def score(self, batch: ScoringBatch) -> list[float]:
        return query_yes_probability(batch.answered_state(), batch.model.tokenizer)
