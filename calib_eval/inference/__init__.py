"""Batched forward work shared by generation and every base-model scorer.

`PromptState` holds one batch's KV cache; scorers *extend* it with their query
instead of re-encoding the prompt (DESIGN.md section 7).
"""
from calib_eval.inference.batching import length_sorted_batches
from calib_eval.inference.state import PromptState, encode_batch
from calib_eval.inference.decode import greedy_decode, DecodeResult

__all__ = ["length_sorted_batches", "PromptState", "encode_batch", "greedy_decode", "DecodeResult"]
