"""A batch of prompts encoded once, whose KV cache scorers extend.

Layout of one row (left padding lives *between* the shared prefix and the
per-item suffix, so the prefix cache can be reused as is):

    [shared prefix][pad pad][suffix tokens][answer tokens][masked stop/pad]

`mask` says which cached positions are real; position ids are counted over
real tokens only, so a padded row sees exactly what an unpadded one would.
"""
from __future__ import annotations

from dataclasses import dataclass, field

import torch

from calib_eval.inference.cache_arg import cache_of, with_cache
from calib_eval.inference.growable import GrowableLayer, make_growable


@dataclass
class PromptState:
    model: torch.nn.Module
    cache: object  # transformers Cache
    mask: torch.Tensor  # (B, L) long, 1 = real token in the cache
    last_logits: torch.Tensor  # (B, V) next-token logits after the last real token
    pad_id: int
    stats: dict = field(default_factory=lambda: {"forward_tokens": 0, "forward_calls": 0})

    @property
    def batch_size(self) -> int:
        return self.mask.shape[0]

    def forward(self, token_rows: list[list[int]], keep: bool, hidden: bool = False):
        """Run `token_rows` (one list per row, any lengths) on top of the cache.

        Rows are right-padded; returns (logits (B, T, V), hidden (B, T, D) or
        None, lengths). With keep=False the cache and mask are restored
        afterwards, so several scorers can each extend the same state.
        """
        lengths = [len(r) for r in token_rows]
        width = max(lengths)
        if width == 0:
            raise ValueError("nothing to extend the prompt with")
        device = self.mask.device
        ids = torch.full((self.batch_size, width), self.pad_id, dtype=torch.long, device=device)
        new_mask = torch.zeros((self.batch_size, width), dtype=torch.long, device=device)
        for row, tokens in enumerate(token_rows):
            ids[row, : len(tokens)] = torch.tensor(tokens, dtype=torch.long)
            new_mask[row, : len(tokens)] = 1
        full_mask = torch.cat([self.mask, new_mask], dim=1)
        positions = (full_mask.cumsum(dim=1) - 1).clamp(min=0)[:, -width:]
        snapshot = None if keep else _snapshot(self.cache)
        with torch.no_grad():
            out = self.model(input_ids=ids, attention_mask=full_mask, position_ids=positions,
                             **with_cache(self.cache), use_cache=True, output_hidden_states=hidden)
        self.stats["forward_tokens"] += int(new_mask.sum())
        self.stats["forward_calls"] += 1
        states = out.hidden_states[-1] if hidden else None
        if keep:
            self.mask = full_mask
            self.cache = cache_of(out)
            last = torch.tensor(lengths, device=device) - 1
            self.last_logits = out.logits[torch.arange(self.batch_size, device=device), last]
        else:
            _restore(self.cache, snapshot)
        return out.logits, states, lengths

    def checkpoint(self) -> tuple:
        """Cheap snapshot (tensor references) to roll back to after a decode."""
        return (_snapshot(self.cache), self.mask, self.last_logits)

    def rollback(self, checkpoint: tuple) -> None:
        snapshot, self.mask, self.last_logits = checkpoint
        _restore(self.cache, snapshot)

    def fork(self, repeats: int = 1) -> "PromptState":
        """An independent state sharing this one's tensors, each row repeated."""
        cache = _shallow_cache_copy(self.cache)
        if repeats > 1:
            cache.batch_repeat_interleave(repeats)
        return PromptState(self.model, cache, self.mask.repeat_interleave(repeats, dim=0),
                           None if self.last_logits is None else self.last_logits.repeat_interleave(repeats, dim=0),
                           self.pad_id, self.stats)

    def mask_tail(self, keep_last: list[int], appended: int) -> None:
        """Of the last `appended` cached positions, keep only the first keep_last[row] real."""
        for row, keep in enumerate(keep_last):
            self.mask[row, self.mask.shape[1] - appended + keep :] = 0


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


def _shallow_cache_copy(cache):
    import copy

    clone = copy.copy(cache)  # layers re-pointed, tensors shared until updated
    clone.layers = [copy.copy(layer) for layer in cache.layers]
    return clone


def _snapshot(cache) -> list[dict]:
    # Cache updates concatenate into new tensors, so holding references is
    # enough to roll back; no copy of the (large) prefix keys and values.
    return [dict(layer.__dict__) for layer in cache.layers]


def _restore(cache, snapshot: list[dict]) -> None:
    for layer, saved in zip(cache.layers, snapshot):
        layer.__dict__.clear()
        layer.__dict__.update(saved)


def encode_batch(model, prefix_ids: list[int], suffix_rows: list[list[int]], pad_id: int,
                 prefix_cache=None) -> PromptState:
    """Encode prefix (or reuse its cache) + per-row suffixes, left-padded between.

    Each row is encoded on its own (no padding, so attention needs no mask
    and takes the memory-efficient kernel; padded 5-shot batches spent most of
    their time and ~10 GB on masked attention over pads), then the rows'
    keys/values are laid side by side for batched decoding. Models with
    sliding-window layers (Gemma 3) are encoded as one padded batch instead.
    """
    if prefix_ids and prefix_cache is None:
        prefix_cache = encode_prefix(model, prefix_ids)
    if not _all_full_attention(model):
        return _encode_padded(model, prefix_ids, suffix_rows, pad_id, prefix_cache)
    device = next(model.parameters()).device
    rows_kv, last = [], []
    for row in suffix_rows:
        cache = _shallow_cache_copy(prefix_cache) if prefix_ids else _new_cache(model)
        positions = torch.arange(len(prefix_ids), len(prefix_ids) + len(row), device=device)[None, :]
        with torch.no_grad():
            out = model(input_ids=torch.tensor([row], device=device), position_ids=positions,
                        **with_cache(cache), use_cache=True, logits_to_keep=1)
        rows_kv.append([(layer.keys, layer.values) for layer in cache_of(out).layers])
        last.append(out.logits[0, -1])
    cache, mask = _stack_rows(model, rows_kv, len(prefix_ids), [len(r) for r in suffix_rows], device)
    state = PromptState(model, cache, mask, torch.stack(last), pad_id)
    state.stats["forward_tokens"] += sum(len(r) for r in suffix_rows)
    state.stats["forward_calls"] += len(suffix_rows)
    return state


def _new_cache(model):
    from transformers import DynamicCache

    return make_growable(DynamicCache(config=model.config))


def _all_full_attention(model) -> bool:
    from transformers.cache_utils import DynamicLayer

    return all(type(layer) in (DynamicLayer, GrowableLayer) for layer in _new_cache(model).layers)


def _stack_rows(model, rows_kv, prefix_len: int, lengths: list[int], device):
    """Per-row (1, H, P+len, D) keys/values -> one left-padded (B, H, P+W, D) cache."""
    width, batch = max(lengths), len(lengths)
    cache = _new_cache(model)
    for index, layer in enumerate(cache.layers):
        parts = [row_kv[index] for row_kv in rows_kv]
        k0, v0 = parts[0]
        keys = k0.new_zeros((batch, k0.shape[1], prefix_len + width, k0.shape[-1]))
        values = v0.new_zeros((batch, v0.shape[1], prefix_len + width, v0.shape[-1]))
        for row, ((k, v), n) in enumerate(zip(parts, lengths)):
            keys[row, :, :prefix_len] = k[0, :, :prefix_len]
            values[row, :, :prefix_len] = v[0, :, :prefix_len]
            keys[row, :, prefix_len + width - n :] = k[0, :, prefix_len:]
            values[row, :, prefix_len + width - n :] = v[0, :, prefix_len:]
        layer.lazy_initialization(keys, values)
        layer.keys, layer.values = keys, values
    pads = torch.tensor([width - n for n in lengths], device=device)
    suffix_mask = (torch.arange(width, device=device)[None, :] >= pads[:, None]).long()
    mask = torch.cat([torch.ones((batch, prefix_len), dtype=torch.long, device=device), suffix_mask], dim=1)
    return cache, mask


def _encode_padded(model, prefix_ids, suffix_rows, pad_id, prefix_cache) -> PromptState:
    device = next(model.parameters()).device
    batch = len(suffix_rows)
    if prefix_ids:
        cache = _shallow_cache_copy(prefix_cache)
        cache.batch_repeat_interleave(batch)
        mask = torch.ones((batch, len(prefix_ids)), dtype=torch.long, device=device)
    else:
        cache = _new_cache(model)
        mask = torch.zeros((batch, 0), dtype=torch.long, device=device)
    width = max(len(r) for r in suffix_rows)
    left_padded = [[pad_id] * (width - len(r)) + list(r) for r in suffix_rows]
    ids = torch.tensor(left_padded, dtype=torch.long, device=device)
    suffix_mask = (torch.arange(width, device=device)[None, :] >= torch.tensor(
        [width - len(r) for r in suffix_rows], device=device)[:, None]).long()
    full_mask = torch.cat([mask, suffix_mask], dim=1)
    positions = (full_mask.cumsum(dim=1) - 1).clamp(min=0)[:, -width:]
    with torch.no_grad():
        # only the last position's logits are needed: full (B, L, V) logits of a
        # 5-shot batch would take gigabytes (8 x 2000 x 49k floats = 3 GB)
        out = model(input_ids=ids, attention_mask=full_mask, position_ids=positions,
                    **with_cache(cache), use_cache=True, logits_to_keep=1)
    state = PromptState(model, cache_of(out), full_mask, out.logits[:, -1, :], pad_id)
    state.stats["forward_tokens"] += sum(len(r) for r in suffix_rows)
    state.stats["forward_calls"] += 1
    return state


def encode_prefix(model, prefix_ids: list[int]):
    """KV cache of a shared prefix, batch size 1 (computed once per prefix)."""
    device = next(model.parameters()).device
    ids = torch.tensor([prefix_ids], dtype=torch.long, device=device)
    with torch.no_grad():
        out = model(input_ids=ids, **with_cache(_new_cache(model)), use_cache=True, logits_to_keep=1)
    return cache_of(out)
