"""Every point where the KV-cache engine meets transformers, behind one version check.

Public extension points only, no private attributes or class swaps:
- `Cache` built from `CacheLayerMixin` layers (transformers' custom-cache API):
  `SegmentCache` hands the model a state's segments and writes its new
  keys/values into the state's tail;
- `AttentionInterface.register` and `PreTrainedModel.set_attn_implementation`:
  during the engine's own forward calls (`engine_attention`) the attention
  layers run `segments.stacked_attention`, reaching the segments through the
  `shared_kv` forward keyword (transformers passes forward keywords down to
  the attention function); every other call keeps the model's own attention;
- `DynamicCache(ddp_cache_data=...)` and `DynamicLayer.keys/.values`: a batch-1
  cache preloaded with a prefix, to encode one row with the model's own kernels;
- the cache keyword's name (`cache_arg`).

Written for and tested on transformers 5.24 (tests/engine/test_engine_adapter.py);
`check_transformers` refuses another major version with a clear error.
"""
from __future__ import annotations

import contextlib

import torch
import transformers
from transformers import AttentionInterface, DynamicCache
from transformers.cache_utils import Cache, CacheLayerMixin

from calib_eval.errors import ModelError
from calib_eval.inference.segments import Segment, Tail, segment_bias, stacked_attention

ATTENTION_NAME = "calib_eval_segments"
TESTED = "5.24"


class EngineError(ModelError):
    """The KV-cache engine cannot run this transformers version or model."""


def check_transformers(version: str = transformers.__version__) -> None:
    """Raise unless `version` is a transformers release this adapter was written for (5.x)."""
    major = version.split(".")[0]
    if major != TESTED.split(".")[0]:
        raise EngineError(f"calib-eval's KV-cache engine uses transformers {TESTED.split('.')[0]}.x cache and "
                          f"attention hooks (tested on {TESTED}); found transformers {version}. "
                          f"Install 'transformers>=5,<6'.")


class _TailLayer(CacheLayerMixin):
    """One model layer's view of a SegmentCache: writes new keys/values into the tail."""

    is_sliding = False

    def __init__(self, cache: "SegmentCache", index: int):
        super().__init__()
        self.cache, self.index, self.is_initialized = cache, index, True

    def lazy_initialization(self, key_states, value_states) -> None:
        return None

    def update(self, key_states, value_states, *args, **kwargs):
        c = self.cache
        end = c.start + key_states.shape[-2]
        keys, values = c.tail.keys[self.index], c.tail.values[self.index]
        keys[:, :, c.start:end] = key_states
        values[:, :, c.start:end] = value_states
        return keys[:, :, :end], values[:, :, :end]

    def get_mask_sizes(self, query_length: int) -> tuple[int, int]:
        return self.get_seq_length() + query_length, 0

    def get_seq_length(self) -> int:
        return sum(s.length for s in self.cache.segments) + self.cache.start

    def get_max_length(self) -> int:
        return -1


class SegmentCache(Cache):
    """The cache one engine forward sees: shared segments, then the tail from position `start` on.

    query_positions (B, T) are the new tokens' position ids (sliding windows
    are measured in positions, so a padded row sees what an unpadded one would).
    """

    def __init__(self, segments: tuple[Segment, ...], tail: Tail | None, start: int, query_positions: torch.Tensor):
        layers = len((segments[0] if segments else tail).keys)
        super().__init__(layers=[_TailLayer(self, i) for i in range(layers)])
        self.segments, self.tail, self.start, self.query_positions = segments, tail, start, query_positions
        self._biases: dict = {}

    def attend(self, layer: int, query, keys, values, scaling: float, window: int | None) -> torch.Tensor:
        groups, device = query.shape[1] // keys.shape[1], query.device
        parts = [(s.keys[layer], s.values[layer], self._bias(i, groups, window, device))
                 for i, s in enumerate(self.segments)]
        parts.append((keys, values, self._bias(-1, groups, window, device)))
        return stacked_attention(query, parts, scaling)

    def _bias(self, index: int, groups: int, window: int | None, device):
        # the same for every layer of one forward (per device, when layers are spread over several): built once
        key = (index, groups, window, device)
        if key not in self._biases:
            if index >= 0:
                segment, causal_from = self.segments[index], None
            else:  # the tail, new tokens included: they see themselves and what came before
                end = self.start + self.query_positions.shape[1]
                segment = Segment((), (), self.tail.mask[:, :end], self.tail.positions[:, :end])
                causal_from = self.start
            bias = segment_bias(segment, groups, self.query_positions, causal_from, window)
            self._biases[key] = None if bias is None else bias.to(device)
        return self._biases[key]


def _segment_attention(module, query, key, value, attention_mask, scaling=None, dropout=0.0,
                       sliding_window=None, softcap=None, shared_kv=None, **kwargs):
    if shared_kv is None:
        raise EngineError("the engine's attention ran without its segments (shared_kv); "
                          "it is only switched on inside engine_attention")
    if softcap is not None or kwargs.get("s_aux") is not None or kwargs.get("position_bias") is not None:
        raise EngineError(f"{type(module).__name__}: attention softcapping, sinks or position biases are not "
                          "supported by calib-eval's KV-cache engine")
    scale = scaling if scaling is not None else query.shape[-1] ** -0.5
    return shared_kv.attend(module.layer_idx, query, key, value, scale, sliding_window), None


def _pretrained(model):
    return model.get_base_model() if hasattr(model, "get_base_model") else model  # peft wraps the HF model


@contextlib.contextmanager
def engine_attention(model):
    """Inside: `model`'s attention layers attend to the SegmentCache passed as `shared_kv`."""
    base = _pretrained(model)
    previous = base.config._attn_implementation
    AttentionInterface.register(ATTENTION_NAME, _segment_attention)  # idempotent; no import-time registration
    base.set_attn_implementation(ATTENTION_NAME)
    try:
        if base.config._attn_implementation != ATTENTION_NAME:
            raise EngineError(f"{type(base).__name__} does not dispatch attention through transformers' "
                              "AttentionInterface, which calib-eval's KV-cache engine needs")
        yield
    finally:
        base.set_attn_implementation(previous)


def encode_rows_cache(prefix: Segment | None) -> DynamicCache:
    """A fresh batch-1 cache holding `prefix` (copied: the shared segment is never written)."""
    check_transformers()
    if prefix is None:
        return DynamicCache()  # full layers everywhere: sliding-window layers keep every key too
    return DynamicCache(ddp_cache_data=list(zip(prefix.keys, prefix.values)))


def cache_tensors(cache: DynamicCache) -> list[tuple[torch.Tensor, torch.Tensor]]:
    """(keys, values) of every layer of a batch-1 DynamicCache, (1, kv heads, length, head dim)."""
    return [(layer.keys, layer.values) for layer in cache.layers]
