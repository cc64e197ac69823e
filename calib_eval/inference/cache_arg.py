"""The KV-cache keyword of a transformers forward call, across versions.

transformers 5.24 renamed `past_key_values` to `cache` (input and output) and
warns on every call with the old name (removal announced for 5.40); older
releases only know `past_key_values`. One check at import picks the name.
"""
from __future__ import annotations

import dataclasses

from transformers.modeling_outputs import CausalLMOutputWithPast

CACHE_ARG = "cache" if "cache" in {f.name for f in dataclasses.fields(CausalLMOutputWithPast)} else "past_key_values"


def with_cache(cache) -> dict:
    """Keyword arguments passing `cache` to a causal LM's forward."""
    return {CACHE_ARG: cache}


def cache_of(output):
    """The KV cache a forward call returned."""
    return getattr(output, CACHE_ARG)
