"""KV segments shared between rows, and attention over a stack of them.

A batch's cache is a stack of segments, oldest first. Each holds keys and
values for `rows` rows; a segment with fewer rows than the query batch is
shared by consecutive query rows (row r reads segment row r // (B / rows)),
which is how `PromptState.fork(repeats)` lays out its rows (item-major). So a
few-shot prefix is one 1-row segment read by every row, a prompt's suffix one
B-row segment read by its k samples, and only each row's own new tokens live
in its `Tail`, the one segment a state writes.

Attention over the stack computes each segment's part on its own layout
(a 1-row prefix is read once per step for the whole batch, not once per row)
and merges the parts with their softmax maxima and sums; it equals attention
over the concatenated keys within float rounding.
"""
from __future__ import annotations

from dataclasses import dataclass

import torch

MASKED = -1e9  # finite: a segment with no visible key then adds exactly 0 once merged


@dataclass(frozen=True)
class Segment:
    """Read-only keys/values of `rows` rows over `length` positions, one tensor pair per layer."""

    keys: tuple[torch.Tensor, ...]  # per layer (rows, kv heads, length, head dim)
    values: tuple[torch.Tensor, ...]
    mask: torch.Tensor  # (rows, length) bool, True = a real token
    positions: torch.Tensor  # (rows, length) long, the position id each token was encoded at

    @property
    def rows(self) -> int:
        return self.mask.shape[0]

    @property
    def length(self) -> int:
        return self.mask.shape[1]


class Tail:
    """The growing segment one state writes: preallocated, appended in place.

    Only its owner writes, and only at positions no checkpoint or fork has
    seen (`pinned`): everyone else keeps reading a view that never changes.
    """

    def __init__(self, like: list[tuple[torch.Tensor, torch.Tensor]], rows: int, capacity: int, owner: object):
        self.keys = [k.new_zeros((rows, k.shape[1], capacity, k.shape[3])) for k, _ in like]
        self.values = [v.new_zeros((rows, v.shape[1], capacity, v.shape[3])) for _, v in like]
        device = like[0][0].device
        self.mask = torch.zeros((rows, capacity), dtype=torch.bool, device=device)
        self.positions = torch.zeros((rows, capacity), dtype=torch.long, device=device)
        self.owner, self.pinned = owner, 0

    @property
    def capacity(self) -> int:
        return self.mask.shape[1]

    def writable(self, owner: object, start: int, width: int) -> bool:
        return self.owner is owner and self.pinned <= start and start + width <= self.capacity

    def copy_from(self, other: "Tail", length: int) -> None:
        for mine, theirs in zip(self.keys + self.values, other.keys + other.values):
            mine[:, :, :length] = theirs[:, :, :length]
        self.mask[:, :length] = other.mask[:, :length]
        self.positions[:, :length] = other.positions[:, :length]

    def view(self, length: int) -> Segment:
        return Segment(tuple(k[:, :, :length] for k in self.keys), tuple(v[:, :, :length] for v in self.values),
                       self.mask[:, :length], self.positions[:, :length])


def grown_capacity(needed: int) -> int:
    """Room a (re)allocated tail gets: 64 spare positions or half again, whichever is more."""
    return max(needed + 64, needed * 3 // 2)


def to_segment_layout(x: torch.Tensor, rows: int, kv_heads: int) -> torch.Tensor:
    """(B, H, T, X) -> (rows, kv heads, (B / rows) * groups * T, X): the queries that read one segment row."""
    batch, heads, steps, last = x.shape
    shared, groups = batch // rows, heads // kv_heads
    return x.view(rows, shared, kv_heads, groups, steps, last).transpose(1, 2).reshape(
        rows, kv_heads, shared * groups * steps, last)


def from_segment_layout(x: torch.Tensor, batch: int, heads: int, steps: int) -> torch.Tensor:
    rows, kv_heads, _, last = x.shape
    shared, groups = batch // rows, heads // kv_heads
    return x.view(rows, kv_heads, shared, groups, steps, last).transpose(1, 2).reshape(batch, heads, steps, last)


def stacked_attention(query: torch.Tensor, parts: list[tuple[torch.Tensor, torch.Tensor, torch.Tensor | None]],
                      scaling: float) -> torch.Tensor:
    """Softmax attention of query (B, H, T, D) over segments [(keys, values, bias)], -> (B, T, H, D).

    keys/values (rows, kv heads, L, D); bias None or broadcastable to
    (rows, 1, (B / rows) * groups * T, L), MASKED where a key is hidden.
    """
    batch, heads, steps, _ = query.shape
    maxima, sums, outputs = [], [], []
    for keys, values, bias in parts:
        rows, kv_heads = keys.shape[0], keys.shape[1]
        q = to_segment_layout(query, rows, kv_heads)
        scores = torch.matmul(q, keys.transpose(-1, -2)).float() * scaling  # (rows, kvh, shared*g*T, L)
        if bias is not None:
            scores = scores + bias
        peak = scores.amax(dim=-1, keepdim=True)
        weights = torch.exp(scores - peak)
        out = torch.matmul(weights.to(values.dtype), values).float()
        maxima.append(from_segment_layout(peak, batch, heads, steps))
        sums.append(from_segment_layout(weights.sum(dim=-1, keepdim=True), batch, heads, steps))
        outputs.append(from_segment_layout(out, batch, heads, steps))
    top = torch.stack(maxima).amax(dim=0)
    numerator = sum(o * torch.exp(m - top) for o, m in zip(outputs, maxima))
    denominator = sum(s * torch.exp(m - top) for s, m in zip(sums, maxima))
    return (numerator / denominator).to(query.dtype).transpose(1, 2).contiguous()


def segment_bias(segment: Segment, groups: int, query_positions: torch.Tensor, causal_from: int | None,
                 window: int | None) -> torch.Tensor | None:
    """Additive mask of one segment for queries at query_positions (B, T), in segment layout.

    causal_from: the segment is the tail and the queries are its positions
    [causal_from, causal_from + T) (each sees itself and what came before);
    window: sliding-window layers see keys fewer than `window` positions back.
    """
    rows, length = segment.rows, segment.length
    batch, steps = query_positions.shape
    shared = batch // rows
    if causal_from is None and window is None:  # the same for every query: (rows, 1, 1, L)
        if bool(segment.mask.all()):
            return None
        return _additive(segment.mask.view(rows, 1, 1, length))
    visible = segment.mask.view(rows, 1, 1, 1, length)  # (rows, shared, groups, T, L) once broadcast
    if causal_from is not None:
        index = torch.arange(length, device=visible.device)
        step = torch.arange(steps, device=visible.device)
        visible = visible & (index[None, :] <= causal_from + step[:, None]).view(1, 1, 1, steps, length)
    if window is not None:
        q = query_positions.view(rows, shared, 1, steps, 1)
        visible = visible & (q - segment.positions.view(rows, 1, 1, 1, length) < window)
    visible = visible.expand(rows, shared, groups, steps, length).reshape(rows, 1, shared * groups * steps, length)
    return _additive(visible)


def _additive(visible: torch.Tensor) -> torch.Tensor:
    return torch.zeros(visible.shape, dtype=torch.float32, device=visible.device).masked_fill_(~visible, MASKED)
