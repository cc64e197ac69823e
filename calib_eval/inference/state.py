"""A batch of prompts encoded once, whose KV cache scorers extend.

A row reads a stack of KV segments (`segments.py`), oldest first:

    [shared prefix, 1 row][suffix: pad pad tokens, B rows][answer, query ... (the tail)]

The few-shot prefix is stored once for the whole batch, never copied per row;
`fork(k)` for sampling freezes the prompt as a shared segment and gives the
B*k rows only a tail of their own, so k samples cost k answers, not k prompts.
`mask` says which cached positions are real; position ids count real tokens
only, so a padded row sees exactly what an unpadded one would.

Memory bound (keys + values of one batch, bytes), with N layers, H kv heads,
D head dim, b bytes per element (4 fp32, 2 bf16), P prefix tokens, S the
longest suffix, A the tokens a row appends after it (answer + longest query
or verbalized reply), B rows, k samples drawn c at a time (c <= k), A_s the
sampled answer length (the decode budget, reserved exactly), and
g(n) = max(n + 64, floor(3n / 2)) the room a tail is allocated with
(`segments.grown_capacity`):

    M <= 2 N H D b [ P + B g(S) + B g(S + A) + B c A_s ]

P once (the shared prefix), B g(S) the suffix buffer a checkpoint may keep
alive after the tail grows past it, B g(S + A) the grown tail, B c A_s the
live sample rows. The copying engine this replaced held 2 N H D b B k (P + S
+ A_s) for sampling alone. `memory_bound_bytes` computes M;
tests/engine/test_engine_memory.py checks a batch against it. Encoding adds,
transiently, one row's batch-1 cache (P + S tokens).
"""
from __future__ import annotations

import itertools
from dataclasses import dataclass, field

import torch

from calib_eval.inference.cache_arg import with_cache
from calib_eval.inference.hf_adapter import (SegmentCache, cache_tensors, check_transformers, encode_rows_cache,
                                             engine_attention)
from calib_eval.inference.segments import Segment, Tail, grown_capacity


def memory_bound_bytes(layers: int, kv_heads: int, head_dim: int, dtype_bytes: int, prefix: int, suffix: int,
                       appended: int, batch: int, chunk: int = 0, sampled: int = 0) -> int:
    """The docstring's M: KV-cache bytes one batch may hold."""
    g = grown_capacity
    tokens = prefix + batch * g(suffix) + batch * g(suffix + appended) + batch * chunk * sampled
    return 2 * layers * kv_heads * head_dim * dtype_bytes * tokens


@dataclass
class PromptState:
    model: torch.nn.Module
    segments: tuple[Segment, ...]  # shared, read-only
    tail: Tail | None  # this state's own rows; written in place while it owns them
    tail_length: int
    real_length: torch.Tensor  # (B,) long, real tokens in each row (the next position id)
    last_logits: torch.Tensor | None  # (B, V) next-token logits after the last real token
    pad_id: int
    stats: dict = field(default_factory=lambda: {"forward_tokens": 0, "forward_calls": 0})
    owner: object = field(default_factory=object)  # identity that may write `tail`

    @property
    def batch_size(self) -> int:
        return self.real_length.shape[0]

    @property
    def mask(self) -> torch.Tensor:
        """(B, L) long, 1 = real token, over every cached position (shared segments repeated per row)."""
        parts = [s.mask.repeat_interleave(self.batch_size // s.rows, dim=0) for s in self._views()]
        return torch.cat(parts, dim=1).long()

    @property
    def cache(self) -> SegmentCache:
        """What the model sees: the segments, then the tail (read-only use: lengths, sizes)."""
        return SegmentCache(self.segments, self.tail, self.tail_length, self.real_length[:, None])

    def kv_storages(self) -> dict[int, int]:
        """{address: bytes} of the distinct key/value storages this state reads, its tail's spare room included."""
        views = self._views() + ((self.tail.view(self.tail.capacity),) if self.tail is not None else ())
        tensors = itertools.chain.from_iterable(s.keys + s.values for s in views)
        return {t.untyped_storage().data_ptr(): t.untyped_storage().nbytes() for t in tensors}

    def kv_bytes(self) -> int:
        """Bytes of key/value storage this state holds (a shared prefix counts once)."""
        return sum(self.kv_storages().values())

    def forward(self, token_rows: list[list[int]], keep: bool, hidden: bool = False):
        """Run `token_rows` (one list per row, any lengths) on top of the cache.

        Rows are right-padded; returns (logits (B, T, V), hidden (B, T, D) or
        None, lengths). With keep=False the state is unchanged afterwards
        (the tokens are written past its length and forgotten), so several
        scorers can each extend the same state.
        """
        lengths = [len(r) for r in token_rows]
        width = max(lengths)
        if width == 0:
            raise ValueError("nothing to extend the prompt with")
        device = self.real_length.device
        ids = torch.full((self.batch_size, width), self.pad_id, dtype=torch.long, device=device)
        new_mask = torch.zeros((self.batch_size, width), dtype=torch.long, device=device)
        for row, tokens in enumerate(token_rows):
            ids[row, : len(tokens)] = torch.tensor(tokens, dtype=torch.long)
            new_mask[row, : len(tokens)] = 1
        # pads after a row's tokens repeat its last position; they are masked for later tokens
        positions = (self.real_length[:, None] + new_mask.cumsum(dim=1) - 1).clamp(min=0)
        tail, start = self._room(width), self.tail_length
        tail.mask[:, start:start + width] = new_mask.bool()
        tail.positions[:, start:start + width] = positions
        cache = SegmentCache(self.segments, tail, start, positions)
        with torch.no_grad(), engine_attention(self.model):
            out = self.model(input_ids=ids, position_ids=positions, **with_cache(cache), use_cache=True,
                             output_hidden_states=hidden, shared_kv=cache)
        self.stats["forward_tokens"] += int(new_mask.sum())
        self.stats["forward_calls"] += 1
        if keep:
            self.tail_length += width
            self.real_length = self.real_length + new_mask.sum(dim=1)
            last = torch.tensor(lengths, device=device) - 1
            self.last_logits = out.logits[torch.arange(self.batch_size, device=device), last]
        return out.logits, out.hidden_states[-1] if hidden else None, lengths

    def checkpoint(self) -> tuple:
        """Cheap snapshot (references) to roll back to after a decode."""
        if self.tail is not None:
            self.tail.pinned = max(self.tail.pinned, self.tail_length)  # later writes go past it
        return (self.segments, self.tail, self.tail_length, self.real_length, self.last_logits)

    def rollback(self, checkpoint: tuple) -> None:
        """Back to a checkpoint (of this state, or of the one it was forked from)."""
        self.segments, self.tail, self.tail_length, self.real_length, self.last_logits = checkpoint

    def fork(self, repeats: int = 1) -> "PromptState":
        """An independent state reading this one's cache, each row repeated (item-major); nothing is copied."""
        segments = self._views()
        if self.tail is not None:
            self.tail.pinned = max(self.tail.pinned, self.tail_length)
        logits = None if self.last_logits is None else self.last_logits.repeat_interleave(repeats, dim=0)
        return PromptState(self.model, segments, None, 0, self.real_length.repeat_interleave(repeats, dim=0),
                           logits, self.pad_id, self.stats)

    def reserve(self, width: int) -> None:
        """Make room for `width` more positions now, exactly (a decode knows its budget; no spare 64)."""
        self._room(width, capacity=self.tail_length + width)

    def mask_tail(self, keep_last: list[int], appended: int) -> None:
        """Of the last `appended` cached positions, keep only the first keep_last[row] real."""
        if appended == 0:
            return
        start = self.tail_length - appended
        tail = self._room(0, rewrite_from=start)
        removed = torch.zeros_like(self.real_length)
        for row, keep in enumerate(keep_last):
            hidden = tail.mask[row, start + keep:self.tail_length]
            removed[row] = hidden.sum()
            hidden.fill_(False)
        self.real_length = self.real_length - removed  # a new tensor: checkpoints hold the old one

    def _views(self) -> tuple[Segment, ...]:
        own = (self.tail.view(self.tail_length),) if self.tail is not None and self.tail_length else ()
        return self.segments + own

    def _room(self, width: int, rewrite_from: int | None = None, capacity: int | None = None) -> Tail:
        """The tail, writable from `rewrite_from` (default: its end) for `width` more positions.

        A tail this state does not own, or whose positions a checkpoint or
        fork has seen, is copied first (copy-on-write); the shared segments never are.
        """
        start = self.tail_length if rewrite_from is None else rewrite_from
        if self.tail is not None and self.tail.writable(self.owner, start, self.tail_length + width - start):
            return self.tail
        like = [(s.keys[i], s.values[i]) for s in self._views()[-1:] for i in range(len(s.keys))]
        room = capacity if capacity is not None else grown_capacity(self.tail_length + width)
        grown = Tail(like, self.batch_size, room, self.owner)
        if self.tail is not None and self.tail_length:
            grown.copy_from(self.tail, self.tail_length)
        self.tail = grown
        return grown


def answer_step_logits(state: PromptState, answer_rows: list[list[int]]) -> list[torch.Tensor]:
    """Teacher-forced next-token logits for each answer token, (len_i, V) per row.

    The state must hold the prompt only; its last logits predict answer token 0
    and the forward over the answer predicts the rest. The state is unchanged.
    """
    first = state.last_logits
    rows = [a if a else [state.pad_id] for a in answer_rows]
    logits, _, _ = state.forward(rows, keep=False)
    return [torch.cat([first[r : r + 1], logits[r, : max(len(a) - 1, 0)]]).float()[: len(a)]
            for r, a in enumerate(answer_rows)]


def encode_batch(model, prefix_ids: list[int], suffix_rows: list[list[int]], pad_id: int,
                 prefix_cache: Segment | None = None) -> PromptState:
    """Encode prefix (or reuse its `encode_prefix` segment) + per-row suffixes, left-padded between.

    Each row is encoded on its own against a batch-1 copy of the prefix (no
    padding, so attention needs no mask and takes the model's memory-efficient
    kernel; padded 5-shot batches spent most of their time and ~10 GB on
    masked attention over pads); then the rows' suffix keys/values are laid
    side by side, left-padded, in the batch's tail. The prefix stays one
    shared 1-row segment.
    """
    if prefix_ids and prefix_cache is None:
        prefix_cache = encode_prefix(model, prefix_ids)
    prefix = prefix_cache if prefix_ids else None
    device = next(model.parameters()).device
    rows_kv, last = [], []
    for row in suffix_rows:
        positions = torch.arange(len(prefix_ids), len(prefix_ids) + len(row), device=device)[None, :]
        cache = encode_rows_cache(prefix)
        with torch.no_grad():
            out = model(input_ids=torch.tensor([row], device=device), position_ids=positions,
                        **with_cache(cache), use_cache=True, logits_to_keep=1)
        rows_kv.append([(k[:, :, len(prefix_ids):], v[:, :, len(prefix_ids):]) for k, v in cache_tensors(cache)])
        last.append(out.logits[0, -1])
    state = PromptState(model, (prefix,) if prefix else (), None, 0,
                        torch.full((len(suffix_rows),), len(prefix_ids), dtype=torch.long, device=device),
                        torch.stack(last), pad_id)
    _lay_rows(state, rows_kv, [len(r) for r in suffix_rows])
    state.stats["forward_tokens"] += sum(len(r) for r in suffix_rows)
    state.stats["forward_calls"] += len(suffix_rows)
    return state


def _lay_rows(state: PromptState, rows_kv, lengths: list[int]) -> None:
    """Per-row (1, H, len, D) suffix keys/values -> the state's left-padded (B, H, W, D) tail."""
    width, prefix_len = max(lengths), int(state.real_length[0])
    tail = Tail(rows_kv[0], len(lengths), grown_capacity(width), state.owner)
    for row, (kv, n) in enumerate(zip(rows_kv, lengths)):
        for layer, (k, v) in enumerate(kv):
            tail.keys[layer][row, :, width - n:width] = k[0]
            tail.values[layer][row, :, width - n:width] = v[0]
        tail.mask[row, width - n:width] = True
        tail.positions[row, width - n:width] = torch.arange(prefix_len, prefix_len + n, device=tail.mask.device)
    state.tail, state.tail_length = tail, width
    state.real_length = state.real_length + torch.tensor(lengths, device=state.real_length.device)


def encode_prefix(model, prefix_ids: list[int]) -> Segment:
    """The shared 1-row KV segment of a prefix (computed once per prefix, read by every batch using it)."""
    check_transformers()
    device = next(model.parameters()).device
    ids = torch.tensor([prefix_ids], dtype=torch.long, device=device)
    cache = encode_rows_cache(None)
    with torch.no_grad():
        model(input_ids=ids, **with_cache(cache), use_cache=True, logits_to_keep=1)
    kv = cache_tensors(cache)
    n = len(prefix_ids)
    mask = torch.ones((1, n), dtype=torch.bool, device=device)
    return Segment(tuple(k for k, _ in kv), tuple(v for _, v in kv), mask, torch.arange(n, device=device)[None, :])
