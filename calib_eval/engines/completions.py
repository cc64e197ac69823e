"""One completion choice, read the same from any OpenAI-compatible server.

Two log-prob layouts exist in the wild: OpenAI's legacy completions layout
(`tokens`, `token_logprobs`, `top_logprobs` as {token: logprob} dicts; vLLM,
SGLang, TGI, hosted APIs) and llama.cpp's (`content`: a list of
{token, logprob, top_logprobs: [{token, logprob}]}). Both become a
`Completion`; a reply without log-probs gives empty lists.
"""
from __future__ import annotations

import math
from dataclasses import dataclass

from calib_eval.errors import ServerError


@dataclass(frozen=True)
class Completion:
    text: str
    tokens: tuple[str, ...] = ()
    logprobs: tuple[float, ...] = ()  # log p of each returned token
    top: tuple[dict[str, float], ...] = ()  # per position: the alternatives the server returned
    finish_reason: str | None = None

    @property
    def has_logprobs(self) -> bool:
        return bool(self.tokens) and len(self.logprobs) == len(self.tokens)

    def kept(self, text: str) -> Completion:
        """Only the tokens that start inside `text` (a prefix of self.text): drops the
        EOS/stop token and trailing blanks, as the in-process decoder does."""
        start, n = 0, 0
        for token in self.tokens:
            if start >= len(text):
                break
            start, n = start + len(token), n + 1
        return Completion(text, self.tokens[:n], self.logprobs[:n], self.top[:n], self.finish_reason)


def parse_choice(choice: dict) -> Completion:
    if not isinstance(choice, dict) or not isinstance(choice.get("text"), str):
        raise ServerError(f"the server's completion has no text (is this a completions endpoint?): {str(choice)[:200]}")
    text, finish, lp = choice["text"], choice.get("finish_reason"), choice.get("logprobs")
    if not lp:
        return Completion(text, finish_reason=finish)
    if "content" in lp:  # llama.cpp layout
        content = lp.get("content") or []
        tokens = tuple(str(c.get("token", "")) for c in content)
        logprobs = tuple(_num(c.get("logprob")) for c in content)
        top = tuple({str(t.get("token", "")): _num(t.get("logprob")) for t in c.get("top_logprobs") or []}
                    for c in content)
        return Completion(text, tokens, logprobs, top, finish)
    tokens = tuple(str(t) for t in lp.get("tokens") or [])
    logprobs = tuple(_num(x) for x in lp.get("token_logprobs") or [])
    top = tuple({str(k): _num(v) for k, v in (d or {}).items()} for d in lp.get("top_logprobs") or [])
    return Completion(text, tokens, logprobs, top, finish)


def _num(value) -> float:
    return float(value) if isinstance(value, (int, float)) else -math.inf


def choices_of(reply: dict) -> list[Completion]:
    choices = reply.get("choices") if isinstance(reply, dict) else None
    if not choices:
        raise ServerError(f"the server replied without choices: {str(reply)[:200]}")
    return [parse_choice(c) for c in sorted(choices, key=lambda c: c.get("index", 0))]


def topk_entropy(top: dict[str, float]) -> float:
    """Entropy (nats) from the top-k alternatives; the unseen tail counts as one outcome.

    A lower bound on the full-vocabulary entropy; with k = 20 the tail of a
    135M model's next-token distribution rarely carries much mass.
    """
    probs = [math.exp(v) for v in top.values() if v > -math.inf]
    rest = max(0.0, 1.0 - sum(probs))
    return -sum(p * math.log(p) for p in probs + [rest] if p > 0)
