"""`calib-eval score --lm-eval-samples DIR`: calibration of any lm-eval task from its logged samples.

Multiple-choice tasks need no model: the confidence is the max-softmax over
the options' logged log-likelihoods, once raw (the prediction lm-eval's
``acc`` scores) and once per-character normalised (``acc_norm``). The two
predict different options, so each gets its own results file:
``<task>`` and ``<task>_acc_norm``. With ``--scorers`` the scorer model also
rescores the logged answers (the chosen option, or the generated text of a
``generate_until`` task): P(True), verbalized, perplexity ... read the
logged prompt and answer, so nothing is regenerated.
"""
from __future__ import annotations

from dataclasses import dataclass, replace
from pathlib import Path

import numpy as np
from rich.console import Console

from calib_eval.errors import CalibEvalError
from calib_eval.harness.samples import LoggedItem, LoggedTask, find_sample_files, read_logged_tasks
from calib_eval.runner.config import RunConfig
from calib_eval.runner.samples_only import SamplesOnlyModel
from calib_eval.types import Example, Generation, Graded

NORM_SUFFIX = "_acc_norm"


@dataclass(frozen=True)
class LoggedMaxSoftmax:
    """Max-softmax read from logged log-likelihoods (the `max_softmax` scorer, computed by lm-eval's model)."""

    name: str = "max_softmax"
    is_probability: bool = True


def max_softmax(lls) -> float:
    x = np.asarray(lls, dtype=np.float64)
    p = np.exp(x - x.max())
    return float(p.max() / p.sum())


def normalised_lls(item: LoggedItem, delimiter: str) -> list[float]:
    """Log-likelihood per character of each option (without the target delimiter), as lm-eval's acc_norm."""
    lengths = [len(c[len(delimiter):] if delimiter and c.startswith(delimiter) else c) for c in item.continuations]
    return [ll / max(n, 1) for ll, n in zip(item.lls, lengths)]


def score_lmeval_samples(path: Path, config: RunConfig, scorers_asked: bool,
                         console: Console | None = None) -> list[Path]:
    """Results files for every task whose samples lie under ``path`` (newest file per task)."""
    console = console or Console()
    logged = [t for task, f in find_sample_files(Path(path)).items() for t in read_logged_tasks(f, task)]
    needs_model = [t.task for t in logged if t.mode == "generate"]
    if needs_model and not scorers_asked:
        raise CalibEvalError(f"{', '.join(needs_model)}: generate_until samples carry no confidence of their own; "
                             "pass --scorers (e.g. zero_shot_classifier,verbalized,perplexity) and --scorer-model")
    loaded = _scorer_model(config) if scorers_asked else None
    written = []
    for task in logged:
        written += _one_task(task, config, loaded, console)
    for results in written:
        draw_reliability(results)
    return written


def draw_reliability(results: Path) -> list[Path]:
    """reliability_<scorer>.png beside a results.json (the leaderboard's own diagram)."""
    import json

    from matplotlib.backends.backend_agg import FigureCanvasAgg

    from calib_eval.leaderboard.from_results import rows_from_results
    from calib_eval.leaderboard.plots import ReliabilityDisplay

    drawn = []
    for row in rows_from_results(json.loads(Path(results).read_text(encoding="utf-8")), str(results)):
        display = ReliabilityDisplay.from_row(row)
        if display is None:
            continue
        figure = display.plot().figure_
        FigureCanvasAgg(figure)
        out = Path(results).with_name(f"reliability_{row.scorer}.png")
        figure.savefig(out, format="png", bbox_inches="tight")
        drawn.append(out)
    return drawn


def _scorer_model(config: RunConfig):
    from calib_eval.models import load_model

    return load_model(config.model, config.device, config.dtype, config.placement)


def _identity(task: LoggedTask) -> SamplesOnlyModel:
    name = task.model_name or "unknown"
    if name.startswith(("/", "~", ".")):  # a local folder: its own name, not the whole path
        name = Path(name).name
    name = name.replace("/", "__")
    return SamplesOnlyModel(name=name, source=f"lm-eval samples {task.path} (model {task.model_name})",
                            fingerprint=None)


def _one_task(task: LoggedTask, config: RunConfig, loaded, console: Console) -> list[Path]:
    from calib_eval.runner.rescore import score_items
    from calib_eval.runner.run import resolve_scorers

    scorers = resolve_scorers(config.scorers, config.adapters, task.mode) if loaded is not None else {}
    holder = loaded if loaded is not None else _identity(task)
    items = _prepared(task, holder.tokenizer)
    written = []
    if task.mode == "choice":
        raw = {"max_softmax": (LoggedMaxSoftmax(), [max_softmax(i.lls) for i in task.items])}
        scorers.pop("max_softmax", None)  # the logged log-likelihoods already are its input
        written.append(score_items(task.task, items, scorers, config, holder, None, console, task.path,
                                   extra_rows=raw))
        normed = [(replace(g, correct=bool(i.correct_norm)), *rest) for i, (g, *rest) in zip(task.items, items)]
        norm = {"max_softmax": (LoggedMaxSoftmax(), [max_softmax(normalised_lls(i, task.target_delimiter))
                                                      for i in task.items])}
        written.append(score_items(task.task + NORM_SUFFIX, normed, {}, config, holder, None, console, task.path,
                                   extra_rows=norm))
    else:
        written.append(score_items(task.task, items, scorers, config, holder, None, console, task.path))
    return written


def _prepared(task: LoggedTask, tokenizer) -> list[tuple]:
    """(Graded, prompt ids, answer ids, None) per item: the logged prompt and answer, as lm-eval read them."""
    from calib_eval.inference.tokens import encode_text, prompt_ids

    out = []
    for item in task.items:
        choice = task.mode == "choice"
        options = tuple(c[len(task.target_delimiter):] if c.startswith(task.target_delimiter) else c
                        for c in item.continuations)
        example = Example(id=item.id, task=task.task, question=item.prompt,
                          references=(item.target,) if item.target and not choice else (), choices=options,
                          answer_index=item.gold[0] if choice else None, answer_kind="choice" if choice else "open")
        generation = Generation(example, item.prompt, item.answer, choice_logprobs=item.lls)
        graded = Graded(generation, item.correct, "logged by lm-eval")
        if tokenizer is None:
            out.append((graded, [], [], None))
            continue
        _, ids = prompt_ids(tokenizer, "", item.prompt)
        out.append((graded, ids, encode_text(tokenizer, item.answer.rstrip()), None))
    return out
