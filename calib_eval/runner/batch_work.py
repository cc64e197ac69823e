"""One batch: encode once, answer (generate or pick a choice), grade, score."""
from __future__ import annotations

import contextlib
import time
from dataclasses import dataclass, replace

import torch

from calib_eval.inference.decode import greedy_decode
from calib_eval.inference.state import PromptState, encode_batch
from calib_eval.inference.tokens import encode_text
from calib_eval.scorers.adapted import ADAPTER_ANSWERED, answers_under_adapter
from calib_eval.scorers.base import ScorerConfig, ScoringBatch
from calib_eval.adapters import apply_card_temperature
from calib_eval.task_specs import TaskSpec
from calib_eval.types import Example, Generation, Graded


@dataclass
class BatchOutcome:
    rows: list[dict]
    generation_s: float
    scoring_s: dict[str, float]
    extra: dict


def answer_generate(state: PromptState, spec: TaskSpec, examples, prompts_text, tokenizer):
    checkpoint = state.checkpoint()
    result = greedy_decode(state, tokenizer, spec.max_new_tokens, spec.stop)
    generations = [
        Generation(ex, prompt, text, tuple(lp), tuple(en))
        for ex, prompt, text, lp, en in zip(examples, prompts_text, result.texts, result.logprobs, result.entropies)
    ]
    return generations, result.token_ids, checkpoint


def choice_logprobs(state: PromptState, options: list[list[list[int]]]) -> list[list[float]]:
    """Sum log-prob of each option continuation per row (state unchanged)."""
    first = torch.log_softmax(state.last_logits.float(), dim=-1)
    n_options = max(len(o) for o in options)
    out = [[0.0] * len(o) for o in options]
    for j in range(n_options):
        rows = [o[j] if j < len(o) else o[0] for o in options]
        needs_more = any(len(r) > 1 for r in rows)
        logits = state.forward(rows, keep=False)[0] if needs_more else None
        for row, tokens in enumerate(rows):
            if j >= len(options[row]):
                continue
            total = float(first[row, tokens[0]])
            if len(tokens) > 1:
                logp = torch.log_softmax(logits[row, : len(tokens) - 1].float(), dim=-1)
                total += float(sum(logp[t, tok] for t, tok in enumerate(tokens[1:])))
            out[row][j] = total
    return out


def answer_choice(state: PromptState, spec: TaskSpec, examples, prompts_text, tokenizer):
    option_texts = [spec.continuations(ex) for ex in examples]
    option_ids = [[encode_text(tokenizer, t) for t in texts] for texts in option_texts]
    logps = choice_logprobs(state, option_ids)
    generations, answer_ids = [], []
    for ex, prompt, texts, ids, lp in zip(examples, prompts_text, option_texts, option_ids, logps):
        best = max(range(len(lp)), key=lp.__getitem__)
        generations.append(Generation(ex, prompt, texts[best], choice_logprobs=tuple(lp)))
        answer_ids.append(ids[best])
    # extend the cache with each row's chosen option so the P(True) query follows it
    state.forward(answer_ids, keep=True)
    return generations, answer_ids, None


def run_batch(loaded, spec: TaskSpec, examples: list[Example], prefix_ids, suffix_ids, prompts_text,
              scorers: dict, cfg: ScorerConfig, adapters, prefix_cache) -> BatchOutcome:
    started = time.perf_counter()
    adapted = answers_under_adapter(cfg, spec.mode, scorers, adapters)
    state, generations, answer_ids, checkpoint = answer_batch(loaded, spec, examples, prefix_ids, suffix_ids,
                                                              prompts_text, adapters, prefix_cache, adapted)
    graded = [Graded(g, *spec.grade(g.example, g.answer)) for g in generations]
    generation_s = time.perf_counter() - started
    # base scorers may reuse the live cache only when the base model wrote it; else they re-encode once
    batch = ScoringBatch(graded, loaded, prefix_ids, suffix_ids, answer_ids, config=cfg, adapters=adapters,
                         prefix_cache=prefix_cache, answered=None if adapted else state,
                         prompt_only=None if adapted else checkpoint,
                         max_new_tokens=spec.max_new_tokens, stop=spec.stop, grader=spec.grade)
    if adapted:
        batch.shared[ADAPTER_ANSWERED] = state
    scores: dict[str, list[float]] = {}
    timings: dict[str, float] = {}
    for name, scorer in scorers.items():
        t0 = time.perf_counter()
        # adapter scorers switch their LoRA on themselves; all others see the base model
        uses_lora = adapters is not None and adapters.has(name) and adapters.cards[name].get("has_lora", True)
        with contextlib.nullcontext() if uses_lora else base_model(adapters):
            scores[name] = scorer.score(batch)
        if adapters is not None and adapters.has(name):  # a fitted temperature, if the card has one
            scores[name] = apply_card_temperature(scores[name], adapters.cards[name])
        timings[name] = time.perf_counter() - t0
    rows = [_row(g, spec.name, {n: s[i] for n, s in scores.items()}) for i, g in enumerate(graded)]
    for row, samples in zip(rows, batch.samples or ()):  # stored, so `calib-eval score` never resamples
        row["samples"] = samples.to_json()
    return BatchOutcome(rows, generation_s, timings, batch.extra)


def answer_batch(loaded, spec: TaskSpec, examples, prefix_ids, suffix_ids, prompts_text, adapters, prefix_cache,
                 adapted: bool):
    """Encode the prompts and answer them with the base model, or with the lora_prompt adapter (`adapted`)."""
    answer = answer_generate if spec.mode == "generate" else answer_choice
    with adapters.active("lora_prompt") if adapted else base_model(adapters) as model:
        if adapted:  # the adapter's keys and values differ: its own prefix cache, shared across batches
            prefix_cache = adapters.prefix_cache("lora_prompt", model, prefix_ids)
        state = encode_batch(loaded.model, prefix_ids, suffix_ids, loaded.tokenizer.pad_token_id, prefix_cache)
        generations, answer_ids, checkpoint = answer(state, spec, examples, prompts_text, loaded.tokenizer)
    if adapted:  # the recorded log-probs/entropies are the adapter's: base scorers recompute theirs
        generations = [replace(g, token_logprobs=(), token_entropies=()) for g in generations]
    return state, generations, answer_ids, checkpoint


def base_model(adapters):
    """Context in which the model behaves as the untouched base model."""
    return adapters.base() if adapters is not None else contextlib.nullcontext()


def _row(g: Graded, task: str, scores: dict[str, float]) -> dict:
    ex = g.generation.example
    return {
        "id": ex.id, "task": task, "dataset": ex.task, "question": ex.question, "answer": g.generation.answer.strip(),
        "answer_raw": g.generation.answer,
        "reference": list(ex.references), "correct": bool(g.correct), "grade_detail": g.grade_detail,
        "answer_kind": ex.answer_kind, "metadata": _json_safe(ex.metadata), "scores": scores,
    }


def _json_safe(meta: dict) -> dict:
    return {k: v for k, v in meta.items() if isinstance(v, (str, int, float, bool, type(None), list))}
