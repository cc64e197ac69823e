"""What the server engine computes for scorers, from completions and their log-probs.

Each op reads the same quantity the in-process scorer reads, only through
the server: the greedy answer's token log-probs (perplexity) and top-k
entropies (UA-CLM), the next-token log-probs of " i"/" ii" after the
uncertainty query (P(True)), a short greedy reply (verbalized), and k
sampled answers (the sampling family). Prompts are text; the server
tokenizes them whole.
"""
from __future__ import annotations

import math

from calib_eval import prompts
from calib_eval.engines.completions import Completion
from calib_eval.errors import ServerError
from calib_eval.scorers.max_softmax import softmax_max
from calib_eval.scorers.samples import SampleSet
from calib_eval.scorers.verbalized import parse_confidence


def greedy(engine, texts: list[str], max_tokens: int, stop, logprobs: bool) -> list[Completion]:
    """Greedy completions, cut as the in-process decoder cuts: no stop token, no trailing blanks."""
    params = {"max_tokens": max_tokens, "temperature": 0.0, "stop": list(stop)}
    if logprobs:
        params["logprobs"] = engine.config.top_logprobs
    return [c[0].kept(c[0].text.rstrip()) for c in engine.complete(texts, **params)]


def perplexity_scores(batch) -> list[float]:
    return [math.exp(sum(lp) / len(lp)) if lp else 0.0 for lp in (g.generation.token_logprobs for g in batch.items)]


def entropy_scores(batch) -> list[float]:
    how = batch.config.entropy_reduce
    # an empty answer gets the largest entropy the top-k estimate can give
    floor = -math.log(batch.model.config.top_logprobs + 1)
    out = []
    for g in batch.items:
        e = g.generation.token_entropies
        out.append((-(sum(e) / len(e)) if how == "mean" else -max(e)) if e else floor)
    return out


def answered_prompts(batch, query: str) -> list[str]:
    return [g.generation.prompt + g.generation.answer + query for g in batch.items]


WIDE_TOP_LOGPROBS = 1000  # second try for items whose wanted tokens fell outside the first top-k


def _alternatives(completion: Completion) -> dict[str, float]:
    top = dict(completion.top[0]) if completion.top else {}
    if completion.tokens and completion.logprobs:
        top.setdefault(completion.tokens[0], completion.logprobs[0])
    return top


def next_token_logprobs(engine, texts: list[str], wanted: list[list[str]], info: dict) -> list[list[float | None]]:
    """log p of each wanted next token after each text; None where the server never listed it.

    Items with a wanted token outside the top k are asked again with a
    top-1000, then with the whole vocabulary where the server reports its
    size (llama.cpp serves both; vLLM refuses more than its --max-logprobs,
    20 by default). `info` counts the retries; the caller decides what a
    missing token means.
    """
    tops = [_alternatives(c[0]) for c in engine.complete(texts, max_tokens=1, temperature=0.0,
                                                          logprobs=engine.config.top_logprobs)]
    vocab = engine.meta.get("n_vocab") if isinstance(engine.meta.get("n_vocab"), int) else 0
    for width in sorted({WIDE_TOP_LOGPROBS, vocab}):
        missing = [i for i, top in enumerate(tops) if any(w not in top for w in wanted[i])]
        if not missing or width <= engine.config.top_logprobs or not engine.wide_top_k:
            continue
        try:
            wide = engine.complete([texts[i] for i in missing], max_tokens=1, temperature=0.0, logprobs=width)
        except ServerError:
            engine.wide_top_k = False  # this server caps top-k: do not ask again
            break
        info["wide_top_k_retries"] = info.get("wide_top_k_retries", 0) + len(missing)
        for i, c in zip(missing, wide):
            tops[i] = _alternatives(c[0])
    info["whole_vocabulary_seen"] = bool(vocab) and engine.wide_top_k
    return [[top.get(w) for w in want] + [min(top.values(), default=0.0)] for top, want in zip(tops, wanted)]


def ptrue_scores(batch) -> list[float]:
    """Two-way softmax over log p(" i") and log p(" ii") (`next_token_logprobs`).

    A token the server never listed gets the smallest log-prob seen (an upper
    bound); how many items needed that is recorded: their score is approximate.
    """
    texts = answered_prompts(batch, prompts.UNCERTAINTY_QUERY)
    info = batch.extra.setdefault("zero_shot_classifier", {"wide_top_k_retries": 0, "bounded_from_top_k": 0})
    found = next_token_logprobs(batch.model, texts, [[prompts.QUERY_NO, prompts.QUERY_YES]] * len(texts), info)
    info.pop("whole_vocabulary_seen", None)
    out = []
    for no, yes, floor in found:
        if no is None or yes is None:
            info["bounded_from_top_k"] += 1
        no, yes = floor if no is None else no, floor if yes is None else yes
        out.append(1.0 / (1.0 + math.exp(no - yes)))
    return out


def verbalized_scores(batch) -> list[float]:
    cfg = batch.config
    replies = greedy(batch.model, answered_prompts(batch, prompts.VERBALIZED_QUERY),
                     cfg.verbalized_max_tokens, ("\n",), logprobs=False)
    failures = batch.extra.setdefault("verbalized", {"parse_failures": 0, "examples": []})
    out = []
    for reply in replies:
        value = parse_confidence(reply.text)
        if value is None:
            failures["parse_failures"] += 1
            if len(failures["examples"]) < 5:
                failures["examples"].append(reply.text)
        out.append(cfg.verbalized_fallback if value is None else value)
    return out


def remote_samples(batch) -> list[SampleSet]:
    """k answers per item at the sampling temperature: one request with n=k where the server
    allows it (vLLM, SGLang), else k requests with seeds seed..seed+k-1 (llama.cpp)."""
    engine, cfg = batch.model, batch.config
    k = cfg.sampling_k
    params = {"max_tokens": batch.max_new_tokens, "temperature": cfg.sampling_temperature, "stop": list(batch.stop)}
    if "token_logprobs" in engine.capabilities:
        params["logprobs"] = 1
    texts = [g.generation.prompt for g in batch.items]
    if "n_choices" in engine.capabilities:
        drawn = engine.complete(texts, n=k, seed=cfg.seed, **params)
    else:
        flat = engine.complete_bodies([{"prompt": t, "seed": cfg.seed + j, **params} for t in texts for j in range(k)])
        drawn = [[c for reply in flat[i * k:(i + 1) * k] for c in reply] for i in range(len(texts))]
    out = []
    for choices in drawn:
        kept = [c.kept(c.text.rstrip()) for c in choices[:k]]
        out.append(SampleSet(tuple(c.text for c in kept), tuple(float(sum(c.logprobs)) for c in kept),
                             tuple(len(c.tokens) for c in kept), cfg.sampling_temperature))
    return out


def max_softmax_scores(batch) -> list[float]:
    return [softmax_max(g.generation.choice_logprobs) for g in batch.items]


REMOTE_SCORES = {"max_softmax": max_softmax_scores, "perplexity": perplexity_scores, "ua_clm_entropy": entropy_scores,
                 "zero_shot_classifier": ptrue_scores, "verbalized": verbalized_scores}
