"""Verbalized confidence: ask for a 0-100 number after the answer, parse it.

Prompted without training (the SFT variant is the same query through an
adapter). Unparsable replies get `verbalized_fallback` and are counted, so the
results say how often the model failed to answer the question at all.
"""
from __future__ import annotations

import re

from calib_eval import prompts
from calib_eval.inference.decode import greedy_decode
from calib_eval.inference.tokens import encode_text
from calib_eval.scorers.base import SCORERS, ScoringBatch

_NUMBER = re.compile(r"(\d{1,3}(?:\.\d+)?)\s*(%?)")


def parse_confidence(text: str) -> float | None:
    """First number in 0-100 (optionally with %) as a probability, else None.

    A bare number in [0, 1] with a decimal point (e.g. "0.8") is read as a
    probability too, since models answer that way surprisingly often.
    """
    for match in _NUMBER.finditer(text):
        value = float(match.group(1))
        if "." in match.group(1) and value <= 1.0 and not match.group(2):
            return value
        if 0.0 <= value <= 100.0:
            return value / 100.0
    return None


def verbalized_confidences(state, tokenizer, max_tokens: int, query: str = prompts.VERBALIZED_QUERY):
    """Decode the model's stated confidence for every row; state restored afterwards."""
    checkpoint = state.checkpoint()
    query_ids = encode_text(tokenizer, query)
    state.forward([query_ids] * state.batch_size, keep=True)
    replies = greedy_decode(state, tokenizer, max_tokens, stop=("\n",)).texts
    state.rollback(checkpoint)
    return replies, [parse_confidence(r) for r in replies]


@SCORERS.register("verbalized")
class Verbalized:
    name = "verbalized"
    is_probability = True
    needs_adapter = False
    task_modes = ("generate", "choice")

    def score(self, batch: ScoringBatch) -> list[float]:
        adapters = batch.adapters
        if adapters is not None and adapters.has(self.name) and adapters.cards[self.name].get("has_lora", True):
            # verbalized-/multitask-SFT adapter: the same query, asked of the tuned model
            from calib_eval.scorers.adapted import encode_answered

            with adapters.active(self.name) as model:
                state = encode_answered(model, batch, self.name)
                replies, parsed = verbalized_confidences(state, batch.model.tokenizer, batch.config.verbalized_max_tokens)
        else:
            replies, parsed = verbalized_confidences(
                batch.answered_state(), batch.model.tokenizer, batch.config.verbalized_max_tokens)
        failures = batch.extra.setdefault("verbalized", {"parse_failures": 0, "examples": []})
        for reply, value in zip(replies, parsed):
            if value is None:
                failures["parse_failures"] += 1
                if len(failures["examples"]) < 5:
                    failures["examples"].append(reply)
        return [batch.config.verbalized_fallback if v is None else v for v in parsed]
