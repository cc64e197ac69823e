"""A KV-cache layer that appends in place instead of concatenating.

transformers' DynamicLayer does `torch.cat([cache, new])` at every decode
step, copying the whole cache each time: O(cache) per token. With a 5-shot
prompt repeated k=10 times for sampling that copy dominates the run. This
layer keeps spare capacity and writes new keys/values into it: O(new) per
token, amortised doubling when full.

Copy-on-write: a buffer may only be written by the layer object that
allocated it. Forked states (copy.copy of a layer) share the tensors for
reading and reallocate on their first write, so they never clobber each
other; a rollback restores the owner's own view, so it may keep writing.
"""
from __future__ import annotations

import torch
from transformers.cache_utils import DynamicLayer


class GrowableLayer(DynamicLayer):
    def update(self, key_states: torch.Tensor, value_states: torch.Tensor, *args, **kwargs):
        if not self.is_initialized:
            self.lazy_initialization(key_states, value_states)
        used = self.keys.shape[-2] if self.keys.numel() else 0
        new = key_states.shape[-2]
        if not self._owns_room_for(used + new, key_states):
            self._reallocate(used, used + new, key_states, value_states)
        self._k_buffer[..., used : used + new, :] = key_states
        self._v_buffer[..., used : used + new, :] = value_states
        self.keys = self._k_buffer[..., : used + new, :]
        self.values = self._v_buffer[..., : used + new, :]
        return self.keys, self.values

    def _owns_room_for(self, length: int, like: torch.Tensor) -> bool:
        buffer = self.__dict__.get("_k_buffer")
        return (
            buffer is not None
            and self.__dict__.get("_owner") == id(self)
            and buffer.shape[-2] >= length
            and buffer.shape[0] == like.shape[0]
            and (self.keys.numel() == 0 or self.keys.data_ptr() == buffer.data_ptr())
        )

    def _reallocate(self, used: int, needed: int, keys: torch.Tensor, values: torch.Tensor) -> None:
        capacity = max(needed + 64, needed * 3 // 2)
        shape_k = (*keys.shape[:-2], capacity, keys.shape[-1])
        shape_v = (*values.shape[:-2], capacity, values.shape[-1])
        k_buffer = keys.new_empty(shape_k)
        v_buffer = values.new_empty(shape_v)
        if used:
            k_buffer[..., :used, :] = self.keys
            v_buffer[..., :used, :] = self.values
        self._k_buffer, self._v_buffer, self._owner = k_buffer, v_buffer, id(self)


def make_growable(cache) -> object:
    """Switch a DynamicCache's full-attention layers to in-place appends."""
    for layer in getattr(cache, "layers", []):
        if type(layer) is DynamicLayer:
            layer.__class__ = GrowableLayer
    return cache
