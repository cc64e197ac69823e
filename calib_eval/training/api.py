"""`train(cfg)`: graded data -> method -> adapter folder. The CLI is a thin layer on this."""
from __future__ import annotations

import time
from pathlib import Path

from calib_eval.training.errors import TrainingError


def train(cfg, loaded=None, console=None, graded=None) -> Path:
    """Train cfg.method on cfg.model and write the adapter folder; returns its path.

    `loaded` (a LoadedModel) may be passed to reuse a model already in memory
    (tests); it is modified in place (wrapped in a PeftModel). `graded` (a
    list of GradedExample) replaces building the graded set from the sources.
    """
    from calib_eval import __version__
    from calib_eval.models import load_model
    from calib_eval.training.methods.base import TrainContext, get_method
    from calib_eval.training.output import prepare_output, write_adapter, write_heldout_scores
    from calib_eval.training.trainer import seed_everything

    method = get_method(cfg.method)
    if not isinstance(cfg, method.config_class):
        raise TrainingError(f"method {cfg.method!r} needs a {method.config_class.__name__}, got {type(cfg).__name__}")
    out = prepare_output(cfg.output, cfg.overwrite, cfg.resume)
    started = time.perf_counter()
    loaded = loaded or load_model(cfg.model, cfg.device, "float32", cfg.placement)
    fingerprint = loaded.fingerprint  # of the base, before any LoRA is attached
    train_rows, holdout, data_card = graded_split(cfg, loaded, graded) if method.needs_graded else ([], [], {})
    seed_everything(cfg.seed)
    outcome = method().train(TrainContext(cfg, loaded, train_rows, holdout, out, console))
    card = {"method": method.name, "scorer": method.scorer, "base_model": loaded.name, "base_source": loaded.source,
            "base_fingerprint": fingerprint, "steps": outcome.steps, "resumed_from": outcome.resumed_from,
            "final_train_loss": outcome.final_loss, "seed": cfg.seed, "heldout_metrics": outcome.metrics,
            "config": _plain(cfg), "calib_eval_version": __version__,
            "train_seconds": round(time.perf_counter() - started, 1), **data_card, **outcome.card}
    write_heldout_scores(out, holdout, outcome.heldout_scores)
    return write_adapter(out, card, outcome.peft_model, outcome.head)


def graded_split(cfg, loaded, graded=None) -> tuple[list, list, dict]:
    """(train rows, held-out rows, card fields): built/cached, filtered, checked, split."""
    from calib_eval.training import graded_data as gd

    rows = list(graded) if graded is not None else gd.build_graded(
        loaded, cfg.sources, cfg.max_examples, cfg.seed, cfg.max_new_tokens, cfg.gen_batch_size,
        cfg.data_root or None, cfg.cache_dir or None)
    n_built = len(rows)
    if not cfg.keep_empty:
        rows = [g for g in rows if g.answer.strip()]
    gd.require_two_classes(rows, "graded training set")
    if cfg.balance:
        rows = gd.balance_classes(rows, cfg.seed)
    train_rows, holdout = gd.split_holdout(rows, cfg.holdout_fraction, cfg.seed)
    gd.require_two_classes(train_rows, "training split")
    card = {"data_sources": list(cfg.sources), "graded_examples": n_built, "examples": len(rows),
            "train_examples": len(train_rows), "holdout_examples": len(holdout),
            "train_accuracy": sum(g.correct for g in train_rows) / len(train_rows)}
    return train_rows, holdout, card


def _plain(cfg) -> dict:
    import dataclasses

    return {k: list(v) if isinstance(v, tuple) else v for k, v in dataclasses.asdict(cfg).items()}
