"""Engines: what answers the prompts. The in-process Hugging Face model (a
`calib_eval.models.LoadedModel`, with its KV-cache batch loop in
`calib_eval.runner.run`) or an OpenAI-compatible server (`ServerEngine`).

The runner asks an engine for three things: its identity (name, source,
fingerprint, device, dtype: what results and item caches record), its
capabilities (`calib_eval.engines.needs`) and its batch loop.
"""
from __future__ import annotations

import dataclasses

from calib_eval.engines.needs import IN_PROCESS, WEIGHTS_ONLY, plan_scorers
from calib_eval.engines.spec import (
    SERVER_PREFIX,
    ServerConfig,
    is_server_model,
    parse_server_model,
)
from calib_eval.errors import ConfigError

__all__ = [
    "SERVER_PREFIX",
    "ServerConfig",
    "batch_loop",
    "capabilities",
    "engine_notes",
    "is_server_model",
    "open_for_run",
    "parse_server_model",
]


def capabilities(engine) -> frozenset:
    return getattr(engine, "capabilities", IN_PROCESS)


def open_for_run(config, console=None):
    """(config with the scorers this server can run, ServerEngine); refuses what it cannot do at all."""
    from calib_eval.engines.server import open_server
    from calib_eval.scorers import SCORERS
    from calib_eval.task_specs import get_task

    if config.adapters:
        raise ConfigError(f"--adapter needs the model's weights; the server engine ({config.model}) has none: "
                          f"run adapter scorers with an in-process model")
    if config.judge or config.scorer.semantic_equivalence == "judge":
        raise ConfigError("the LLM judge reads the model in-process; with a server engine use the grader or "
                          "--semantic-equivalence nli:<model>")
    plan_scorers(config.scorers, SCORERS, IN_PROCESS - WEIGHTS_ONLY)  # refuse weight-only scorers before any request
    engine = open_server(config.model, config.server)
    for task in config.tasks:
        spec = get_task(task)
        if spec.mode == "choice" and "choice_logprobs" not in engine.capabilities:
            raise ConfigError(f"task {spec.name!r} is multiple choice: picking an option needs next-token "
                              f"log-probs, which {engine.url} does not return")
    kept, skipped = plan_scorers(config.scorers, SCORERS, engine.capabilities)
    for name, why in skipped.items():
        (console.print if console else print)(f"skipping scorer {name}: {why}")
    if not kept:
        raise ConfigError(f"no requested scorer can run on {engine.url}: "
                          + "; ".join(f"{n}: {w}" for n, w in skipped.items()))
    engine.skipped = skipped
    return dataclasses.replace(config, scorers=kept), engine


def batch_loop(engine):
    """The engine's batch loop, called as loop(engine, spec, examples, todo, scorers, adapters, config)."""
    if is_server_model(getattr(engine, "source", "")):
        from calib_eval.engines.remote_batch import remote_answered_batches

        return remote_answered_batches
    from calib_eval.runner.run import answered_batches

    return answered_batches


def engine_notes(engine) -> dict:
    """What results.json records about a server engine, skipped scorers included ({} in process)."""
    if not is_server_model(getattr(engine, "source", "")):
        return {}
    notes = engine.describe()
    skipped = getattr(engine, "skipped", {})
    if skipped:
        notes["skipped_scorers"] = "; ".join(f"{n}: {w}" for n, w in skipped.items())
    return {"engine": notes}
