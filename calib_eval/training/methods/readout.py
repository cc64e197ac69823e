"""Scores on graded examples through the runner scorers' own code path.

Held-out metrics in the card use exactly what `lora_prompt` and `probe`
compute at evaluation time (encode_batch + the query), not the training
forward, so the card and the runner agree.
"""
from __future__ import annotations

import torch

from calib_eval.inference import encode_batch


def _batches(rows, size: int, console=None, label: str = ""):
    """Chunks of `rows`; with a console, a progress bar (a 0.5B model reads ~1,500 rows for minutes)."""
    starts = range(0, len(rows), size)
    if not console:  # None or False (processes other than the main one)
        yield from (rows[s: s + size] for s in starts)
        return
    from rich.progress import BarColumn, MofNCompleteColumn, Progress, TextColumn, TimeRemainingColumn

    with Progress(TextColumn(label or "reading"), BarColumn(), MofNCompleteColumn(), TimeRemainingColumn(),
                  console=console) as progress:
        task = progress.add_task(label, total=len(rows))
        for s in starts:
            yield rows[s: s + size]
            progress.advance(task, min(size, len(rows) - s))


def query_p_yes(model, tokenizer, rows, batch_size: int = 8, console=None, label: str = "") -> list[float]:
    """P(yes) of the uncertainty query after each row's prompt + answer (the lora_prompt scorer)."""
    from calib_eval.scorers.ptrue import query_yes_probability

    out: list[float] = []
    with torch.no_grad():
        for chunk in _batches(rows, batch_size, console, label):
            state = encode_batch(model, [], [list(g.prompt_ids) + list(g.answer_ids) for g in chunk],
                                 tokenizer.pad_token_id)
            out += query_yes_probability(state, tokenizer)
    return out


def query_hidden(model, tokenizer, rows, batch_size: int = 8, console=None, label: str = "") -> torch.Tensor:
    """(N, d) last-layer hidden state at the query's last token (the probe scorer's features)."""
    from calib_eval.scorers.adapted import query_features

    feats = []
    with torch.no_grad():
        for chunk in _batches(rows, batch_size, console, label):
            state = encode_batch(model, [], [list(g.prompt_ids) + list(g.answer_ids) for g in chunk],
                                 tokenizer.pad_token_id)
            feats.append(query_features(state, tokenizer).float().cpu())
    return torch.cat(feats) if feats else torch.zeros((0, 0))


def likelihood_and_p_yes(model, tokenizer, rows, batch_size: int = 8, console=None,
                         label: str = "") -> tuple[list[float], list[float]]:
    """(answer likelihood, query P(yes)) per row, the perplexity and P(True) scorers' values.

    The prompt, the costly part, is encoded once: the answer is read by
    teacher forcing, then kept in the cache for the query.
    """
    from calib_eval.inference.state import answer_step_logits
    from calib_eval.scorers.likelihood import token_logprobs
    from calib_eval.scorers.ptrue import query_yes_probability

    likelihood: list[float] = []
    p_yes: list[float] = []
    with torch.no_grad():
        for chunk in _batches(rows, batch_size, console, label):
            answers = [list(g.answer_ids) for g in chunk]
            state = encode_batch(model, [], [list(g.prompt_ids) for g in chunk], tokenizer.pad_token_id)
            for step, answer in zip(answer_step_logits(state, answers), answers):
                # as the scorer: an empty answer has no likelihood to speak of
                likelihood.append(float(token_logprobs(step, answer).mean().exp()) if answer else 0.0)
            if any(answers):
                state.forward(answers, keep=True)
            p_yes += query_yes_probability(state, tokenizer)
    return likelihood, p_yes
