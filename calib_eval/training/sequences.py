"""Token sequences the trainers learn from, built exactly as the scorers read them.

The runner's `lora_prompt`/`probe` scorers see ``prompt ids + generated
answer ids + encode_text(UNCERTAINTY_QUERY)``; the trainers build the same ids
from the cached generation (not by re-tokenising the answer text), so what is
trained is what is scored. Rows are right-padded, so default position ids
match the scorer's unpadded positions.
"""
from __future__ import annotations

from dataclasses import dataclass

import torch

from calib_eval import prompts
from calib_eval.inference.tokens import bos_ids, encode_text


@dataclass
class Seq:
    """One training row: ids, which positions' next-token targets count, and a label."""

    ids: list[int]
    target_start: int  # first index (in ids) of the supervised / compared span
    target_end: int  # one past its last index
    label: int = 0  # 1 = the model's answer was correct (classification methods)


def query_seq(g, query: str = prompts.UNCERTAINTY_QUERY, tokenizer=None) -> Seq:
    """prompt + answer + query; the span is the answer (for the divergence term)."""
    head = list(g.prompt_ids) + list(g.answer_ids)
    ids = head + encode_text(tokenizer, query)
    return Seq(ids, len(g.prompt_ids), len(head), int(g.correct))


def target_seq(prefix_ids: list[int], target_ids: list[int], label: int = 0) -> Seq:
    """prefix + target; the span is the target (supervised tokens)."""
    return Seq(list(prefix_ids) + list(target_ids), len(prefix_ids), len(prefix_ids) + len(target_ids), label)


def text_prompt_ids(tokenizer, text: str) -> list[int]:
    return bos_ids(tokenizer) + encode_text(tokenizer, text)


@dataclass
class Collated:
    ids: torch.Tensor  # (B, L) right-padded
    mask: torch.Tensor  # (B, L) attention mask
    last: torch.Tensor  # (B,) index of each row's last real token
    span_mask: torch.Tensor  # (B, L-1): position t predicts token t+1, 1 where t+1 lies in the span
    targets: torch.Tensor  # (B, L-1) next tokens
    labels: torch.Tensor  # (B,)


def collate(rows: list[Seq], pad_id: int, device) -> Collated:
    width = max(len(r.ids) for r in rows)
    ids = torch.full((len(rows), width), pad_id, dtype=torch.long)
    mask = torch.zeros((len(rows), width), dtype=torch.long)
    span = torch.zeros((len(rows), width), dtype=torch.long)
    for i, r in enumerate(rows):
        ids[i, : len(r.ids)] = torch.tensor(r.ids)
        mask[i, : len(r.ids)] = 1
        span[i, r.target_start: r.target_end] = 1
    last = mask.sum(dim=1) - 1
    labels = torch.tensor([r.label for r in rows], dtype=torch.long)
    return Collated(ids.to(device), mask.to(device), last.to(device), span[:, 1:].to(device),
                    ids[:, 1:].to(device), labels.to(device))


def at_last(tensor: torch.Tensor, last: torch.Tensor) -> torch.Tensor:
    """(B, L, X) -> (B, X) at each row's last real token."""
    return tensor[torch.arange(tensor.shape[0], device=tensor.device), last]


def span_positions(batch: Collated) -> torch.Tensor:
    """Sorted positions whose next-token prediction falls in some row's span."""
    return batch.span_mask.any(dim=0).nonzero().squeeze(1)


def span_logits(model, batch: Collated) -> tuple[torch.Tensor, torch.Tensor, torch.Tensor]:
    """(logits, targets, mask), each (B, P, ...), at the span positions only.

    The vocabulary projection is about a fifth of a 135M model's compute and
    its (B, L, V) output the largest tensor of a step: losses that read only
    the answer span should not pay for every position.
    """
    positions = span_positions(batch)
    logits = model(input_ids=batch.ids, attention_mask=batch.mask, logits_to_keep=positions).logits
    return logits, batch.targets[:, positions], batch.span_mask[:, positions]
