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


def choice_token_ids(tokenizer, no: str = prompts.QUERY_NO, yes: str = prompts.QUERY_YES) -> tuple[int, int]:
    """First token of each option; they must differ or the query cannot be read."""
    no_ids, yes_ids = encode_text(tokenizer, no), encode_text(tokenizer, yes)
    if not no_ids or not yes_ids or no_ids[0] == yes_ids[0]:
        raise ValueError(
            f"the tokenizer does not give {no!r} and {yes!r} distinct first tokens "
            f"({no_ids} vs {yes_ids}); the uncertainty query cannot be scored with it"
        )
    return no_ids[0], yes_ids[0]


def query_yes_probability(state, tokenizer, query: str = prompts.UNCERTAINTY_QUERY) -> list[float]:
    """P(yes) after `query` for every row of `state` (state left unchanged)."""
    query_ids = encode_text(tokenizer, query)
    logits, _, lengths = state.forward([query_ids] * state.batch_size, keep=False)
    last = logits[torch.arange(state.batch_size), torch.tensor(lengths) - 1].float()  # (B, V)
    no_id, yes_id = choice_token_ids(tokenizer)
    pair = torch.stack([last[:, no_id], last[:, yes_id]], dim=1)  # (B, 2)
    return torch.softmax(pair, dim=1)[:, 1].tolist()


@SCORERS.register("zero_shot_classifier")
class ZeroShotClassifier:
    name = "zero_shot_classifier"
    is_probability = True
    needs_adapter = False
    task_modes = ("generate", "choice")

    def score(self, batch: ScoringBatch) -> list[float]:
        return query_yes_probability(batch.answered_state(), batch.model.tokenizer)
