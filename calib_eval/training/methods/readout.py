"""Scores on graded examples through the runner scorers' own code path.

Held-out metrics in the card use exactly what `lora_prompt` and `probe`
compute at evaluation time (encode_batch + the query), not the training
forward, so the card and the runner agree.
"""
from __future__ import annotations

import torch

from calib_eval.inference import encode_batch


def _batches(rows, size: int):
    for s in range(0, len(rows), size):
        yield rows[s: s + size]


def query_p_yes(model, tokenizer, rows, batch_size: int = 8) -> list[float]:
    """P(yes) of the uncertainty query after each row's prompt + answer (the lora_prompt scorer)."""
    from calib_eval.scorers.ptrue import query_yes_probability

    out: list[float] = []
    with torch.no_grad():
        for chunk in _batches(rows, batch_size):
            state = encode_batch(model, [], [list(g.prompt_ids) + list(g.answer_ids) for g in chunk],
                                 tokenizer.pad_token_id)
            out += query_yes_probability(state, tokenizer)
    return out


def query_hidden(model, tokenizer, rows, batch_size: int = 8) -> torch.Tensor:
    """(N, d) last-layer hidden state at the query's last token (the probe scorer's features)."""
    from calib_eval.scorers.adapted import query_features

    feats = []
    with torch.no_grad():
        for chunk in _batches(rows, batch_size):
            state = encode_batch(model, [], [list(g.prompt_ids) + list(g.answer_ids) for g in chunk],
                                 tokenizer.pad_token_id)
            feats.append(query_features(state, tokenizer).float().cpu())
    return torch.cat(feats) if feats else torch.zeros((0, 0))
