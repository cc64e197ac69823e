"""The runner's batch loop on the server engine: answer, grade, score, one batch at a time.

Mirrors `calib_eval.runner.run.answered_batches` (same rows, same
BatchOutcome), so the item cache, resume and results files are shared code.
The server does its own prompt caching, so batches are plain slices; a
batch is what goes out concurrently and what is appended to the cache.
"""
from __future__ import annotations

import time

from calib_eval.engines.completions import topk_entropy
from calib_eval.engines.remote_ops import (
    REMOTE_SCORES,
    greedy,
    next_token_logprobs,
    remote_samples,
)
from calib_eval.errors import ModelError
from calib_eval.runner.batch_work import BatchOutcome, _row
from calib_eval.scorers.base import ScoringBatch
from calib_eval.types import Generation, Graded


def remote_answered_batches(engine, spec, examples, todo: list[int], scorers: dict, adapters, config):
    """Yield (item indexes, BatchOutcome) for examples[todo]."""
    for start in range(0, len(todo), config.batch_size):
        batch = todo[start:start + config.batch_size]
        yield batch, remote_batch(engine, spec, [examples[i] for i in batch], scorers, config)


def generations(engine, spec, examples, data_root, extra: dict) -> list[Generation]:
    texts = [spec.build_prefix(ex, data_root) + spec.build_suffix(ex) for ex in examples]
    if spec.mode == "choice":
        return choice_generations(engine, spec, examples, texts, extra)
    logprobs = "token_logprobs" in engine.capabilities
    replies = greedy(engine, texts, spec.max_new_tokens, spec.stop, logprobs)
    return [Generation(ex, text, c.text, c.logprobs, tuple(_entropies(c)))
            for ex, text, c in zip(examples, texts, replies)]


def choice_generations(engine, spec, examples, texts, extra: dict) -> list[Generation]:
    """Pick the likeliest option from the next-token log-probs: options must be single tokens
    (the built-in tasks' " A", " B", ...). One the server never listed gets the smallest
    log-prob seen, counted; with the whole vocabulary seen, it cannot be one token: refused."""
    options = [list(spec.continuations(ex)) for ex in examples]
    info = extra.setdefault("max_softmax", {"wide_top_k_retries": 0, "options_bounded": 0})
    found = next_token_logprobs(engine, texts, options, info)
    whole = info.pop("whole_vocabulary_seen")
    out = []
    for ex, text, opts, values in zip(examples, texts, options, found):
        floor, logps = values[-1], values[:-1]
        if any(v is None for v in logps):
            if whole:
                bad = next(o for o, v in zip(opts, logps) if v is None)
                raise ModelError(f"task {spec.name!r}: option {bad!r} of item {ex.id} is not one token for this "
                                 f"server; choice tasks through a server need single-token options (letters)")
            info["options_bounded"] += 1
        logps = [floor if v is None else v for v in logps]
        best = max(range(len(logps)), key=logps.__getitem__)
        out.append(Generation(ex, text, opts[best], choice_logprobs=tuple(logps)))
    return out


def _entropies(completion) -> list[float]:
    return [topk_entropy(top) for top in completion.top] if len(completion.top) == len(completion.tokens) else []


def remote_batch(engine, spec, examples, scorers: dict, config) -> BatchOutcome:
    started = time.perf_counter()
    extra: dict = {}
    graded = [Graded(g, *spec.grade(g.example, g.answer)) for g in generations(engine, spec, examples,
                                                                                config.data_root, extra)]
    generation_s = time.perf_counter() - started
    batch = ScoringBatch(graded, engine, [], [], [], config=config.scorer, max_new_tokens=spec.max_new_tokens,
                         stop=spec.stop, grader=spec.grade, extra=extra)
    scores, timings = {}, {}
    for name, scorer in scorers.items():
        t0 = time.perf_counter()
        if name in REMOTE_SCORES:
            scores[name] = REMOTE_SCORES[name](batch)
        else:  # sampling family: pure functions of the k samples, drawn here through the server once
            if batch.samples is None:
                batch.samples = remote_samples(batch)
            scores[name] = scorer.score(batch)
            note = batch.extra.get(name, {})
            if isinstance(note.get("samples"), str):  # the family calls pre-filled samples "stored"
                note["samples"] = note["samples"].replace("stored", "drawn by the server")
        timings[name] = time.perf_counter() - t0
    rows = [_row(g, spec.name, {n: s[i] for n, s in scores.items()}) for i, g in enumerate(graded)]
    for row, samples in zip(rows, batch.samples or ()):
        row["samples"] = samples.to_json()
    return BatchOutcome(rows, generation_s, timings, batch.extra)
