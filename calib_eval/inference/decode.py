"""Greedy decoding on a PromptState, recording what the free scorers need.

Token log-probabilities give the sequence-likelihood scorer and token
entropies give the UA-CLM entropy scorer at no extra forward pass.
"""
from __future__ import annotations

from dataclasses import dataclass, field

import torch

from calib_eval.inference.state import PromptState


@dataclass
class DecodeResult:
    token_ids: list[list[int]]  # kept answer tokens per row (stop token excluded)
    texts: list[str]  # decoded kept tokens
    logprobs: list[list[float]]  # log p of each kept token
    entropies: list[list[float]]  # predictive entropy (nats) at each kept step
    first_logits: torch.Tensor  # (B, V) logits before the first answer token
    # log p of everything each row generated, its stop/EOS token and trailing blanks
    # included (the whole sampled sequence, as semantic entropy weighs it), and how
    # many tokens that was; under the sampling temperature when sampling
    sequence_logprobs: list[float] = field(default_factory=list)
    sequence_lengths: list[int] = field(default_factory=list)


def _stops(tokenizer, token_id: int, stop: tuple[str, ...], eos_ids: set[int]) -> bool:
    if token_id in eos_ids:
        return True
    text = tokenizer.decode([token_id])
    return any(s in text for s in stop)


def greedy_decode(state: PromptState, tokenizer, max_new_tokens: int, stop: tuple[str, ...],
                  sample_temperature: float | None = None, generator=None,
                  stop_after_text: bool = False) -> DecodeResult:
    """Decode up to max_new_tokens per row; the state keeps the kept answer tokens.

    With sample_temperature set it samples instead (same bookkeeping), which
    the sampling scorer uses. Afterwards the cache holds prompt+answer and the
    mask hides each row's stop token and anything after it, so extending the
    state with a query sees exactly prompt + answer.

    ``stop_after_text`` ignores stop strings and forbids EOS until a row has
    produced non-blank text (like ``min_new_tokens``): zero-shot, small chat
    models often open with "\\n" or end at once, leaving the answer empty.
    """
    state.reserve(max_new_tokens)  # one allocation for the whole answer (a fork's tail starts empty)
    eos_ids = {i for i in [tokenizer.eos_token_id, *(_as_list(getattr(state.model.generation_config, "eos_token_id", None)))] if i is not None}
    batch = state.batch_size
    first_logits = state.last_logits
    kept = [[] for _ in range(batch)]
    logprobs = [[] for _ in range(batch)]
    entropies = [[] for _ in range(batch)]
    done = [False] * batch
    seq_logprob, seq_length = [0.0] * batch, [0] * batch
    appended = 0
    stop_cache: dict[int, bool] = {}
    for _ in range(max_new_tokens):
        logits = state.last_logits.float()
        if stop_after_text and eos_ids:
            blank_rows = [row for row in range(batch) if not done[row] and _blank(tokenizer, kept[row])]
            if blank_rows:
                logits[torch.tensor(blank_rows)[:, None], torch.tensor(sorted(eos_ids))[None, :]] = float("-inf")
        if sample_temperature:
            logits = logits / sample_temperature
        logp = torch.log_softmax(logits, dim=-1)
        if sample_temperature:
            next_ids = torch.multinomial(logp.exp(), 1, generator=generator).squeeze(1)
        else:
            next_ids = logp.argmax(dim=-1)
        entropy = -(logp.exp() * logp).nan_to_num().sum(dim=-1)
        chosen = logp.gather(1, next_ids[:, None]).squeeze(1)
        for row in range(batch):
            if done[row]:
                continue
            tok = int(next_ids[row])
            seq_logprob[row] += float(chosen[row])
            seq_length[row] += 1
            if tok not in stop_cache:
                stop_cache[tok] = _stops(tokenizer, tok, stop, eos_ids)
            if stop_cache[tok] and not (stop_after_text and _blank(tokenizer, kept[row])):
                done[row] = True
                continue
            kept[row].append(tok)
            logprobs[row].append(float(chosen[row]))
            entropies[row].append(float(entropy[row]))
        if all(done):
            break
        state.forward([[int(t)] for t in next_ids], keep=True)
        appended += 1
    for row in range(batch):  # " " before the stop is no part of the answer
        while kept[row] and not tokenizer.decode(kept[row][-1:]).strip():
            kept[row].pop(), logprobs[row].pop(), entropies[row].pop()
    state.mask_tail([len(k) for k in kept], appended)
    # last_logits would describe masked tail tokens for rows that stopped early;
    # a scorer must extend the state with its query before reading logits.
    state.last_logits = None  # type: ignore[assignment]
    texts = [tokenizer.decode(k, skip_special_tokens=True) for k in kept]
    return DecodeResult(kept, texts, logprobs, entropies, first_logits, seq_logprob, seq_length)


def _blank(tokenizer, token_ids: list[int]) -> bool:
    return not tokenizer.decode(token_ids).strip()


def _as_list(value) -> list:
    if value is None:
        return []
    return list(value) if isinstance(value, (list, tuple)) else [value]
