"""P("1") for PAIRWISE_QUERY, read exactly as pairwise-sft trains it.

Training's ids are ``text_prompt_ids(query)`` (BOS where the tokenizer adds
one) followed by ``encode_text(" 1")`` or ``encode_text(" 2")``; the same
ids are read here. SmolLM2 spells " 1" as two tokens ("Ġ", "1") that share
the first one with " 2", so the shared lead tokens are appended to the query
and the two-way softmax is taken over the first token where the replies
differ. That equals the two-way softmax of the replies' full
log-likelihoods: the shared tokens' probability cancels.
"""
from __future__ import annotations

from typing import Callable, Sequence

import torch

from calib_eval import prompts
from calib_eval.errors import ModelError
from calib_eval.inference.batching import length_sorted_batches
from calib_eval.inference.state import encode_batch
from calib_eval.inference.tokens import encode_text
from calib_eval.training.sequences import text_prompt_ids


def reply_token_ids(tokenizer) -> tuple[list[int], int, int]:
    """(lead ids shared by " 1" and " 2", id of the first token after them in " 1", in " 2")."""
    one = encode_text(tokenizer, prompts.PAIRWISE_FIRST)
    two = encode_text(tokenizer, prompts.PAIRWISE_SECOND)
    common = 0
    while common < min(len(one), len(two)) and one[common] == two[common]:
        common += 1
    if len(one) != common + 1 or len(two) != common + 1:
        raise ModelError(
            f"this tokenizer encodes {prompts.PAIRWISE_FIRST!r} as {one} and {prompts.PAIRWISE_SECOND!r} as "
            f"{two}: they must be single distinct tokens after a shared lead (e.g. 'Ġ' + '1'), or the two "
            f"replies cannot be compared at one position")
    return one[:common], one[common], two[common]


def pairwise_prompt_ids(tokenizer, first: str, second: str) -> list[int]:
    """The query's ids, built exactly as pairwise-sft builds its training prefix."""
    return text_prompt_ids(tokenizer, prompts.PAIRWISE_QUERY.format(first=first, second=second))


def first_probabilities(model, tokenizer, question_pairs: Sequence[tuple[str, str]], batch_size: int = 8,
                        on_batch: Callable[[int], None] | None = None) -> list[float]:
    """P(reply " 1") per (question 1, question 2), a two-way softmax over the replies; order kept."""
    lead, one_id, two_id = reply_token_ids(tokenizer)
    rows = [pairwise_prompt_ids(tokenizer, a, b) + lead for a, b in question_pairs]
    out = [0.0] * len(rows)
    for batch in length_sorted_batches([len(r) for r in rows], batch_size):
        state = encode_batch(model, [], [rows[i] for i in batch], tokenizer.pad_token_id)
        two_way = state.last_logits[:, [one_id, two_id]].float()  # (B, 2)
        p_first = torch.softmax(two_way, dim=1)[:, 0]
        for row, i in enumerate(batch):
            out[i] = float(p_first[row])
        if on_batch:
            on_batch(len(batch))
    return out
