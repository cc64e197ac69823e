"""Synthetic, schema-valid results payloads: for tests, screenshots and trying the leaderboard.

The numbers are made up (no model runs); only their shape is real: bins as
calib_eval.metrics writes them (10 uniform bins plus the 1.0 point bin), ECE
consistent with the bins, CIs around every estimate.
"""
from __future__ import annotations

from pathlib import Path

import numpy as np

from calib_eval import __version__, provenance
from calib_eval.results import KIND, SCHEMA_VERSION, write_json_atomic

DEMO_MODELS = ("smollm2-135m-instruct", "gemma3-270m")
DEMO_TASKS = ("mmlu_oe_calib", "selfaware_calib")
DEMO_SCORERS = ("zero_shot_classifier", "verbalized", "perplexity", "lora_prompt")
RAW_SCORERS = ("perplexity", "ua_clm_entropy")  # scores that are not probabilities
DEMO_ADAPTER = "adapters/smollm2-calibration-tune"


def demo_payload(model: str, task: str, scorers=DEMO_SCORERS, created: str = "2026-01-15T12:00:00+00:00",
                 seed: int = 0, n: int = 200) -> dict:
    """One results file's content for (model, task) with the given scorers."""
    rng = np.random.default_rng(seed)
    acc = float(rng.uniform(0.25, 0.6))
    return {
        "schema_version": SCHEMA_VERSION,
        "kind": KIND,
        "created": created,
        "package_version": __version__,
        "provenance": provenance.record(),  # made "by" this code: not stale
        "task": task,
        "model": {"name": model, "source": f"~/.cache/calib-eval/models/{model}", "fingerprint": f"fp-{model}",
                  "device": "cpu", "dtype": "float32"},
        "hardware": "cpu x2 (demo)",
        "config": {"limit": n, "seed": seed},
        "n": n,
        "accuracy": _interval(acc, n),
        "scorers": {name: demo_scorer(name, acc, n, rng) for name in scorers},
        "timings": {"generation_s": 1.0, "scoring_s": {name: 0.1 for name in scorers}, "items": n},
    }


def demo_scorer(name: str, acc: float, n: int, rng: np.random.Generator) -> dict:
    is_probability = name not in RAW_SCORERS
    bins = _bins(acc, n, rng, skew=float(rng.uniform(-0.25, 0.25)))
    counts, gaps = np.array(bins["count"]), np.abs(np.nan_to_num(np.array(bins["accuracy"], dtype=float)
                                                                 - np.array(bins["mean_confidence"], dtype=float)))
    ece = float((counts * gaps).sum() / counts.sum())
    auroc = float(rng.uniform(0.52, 0.8))
    adapter = {"path": DEMO_ADAPTER, "method": "lora_prompt", "base_fingerprint": "fp"} if name == "lora_prompt" else None
    return {
        "adapter": adapter,
        "is_probability": is_probability,
        "calibration": "none" if is_probability else "platt, 2-fold cross-fit",
        "ece": _interval(ece, n),
        "auroc": _interval(auroc, n),
        "brier": _interval(float(rng.uniform(0.18, 0.3)), n),
        "aurc": _interval(float(rng.uniform(0.3, 0.6)), n),
        "reliability": bins,
        "extra": {},
    }


def write_demo_results(folder: str | Path, models=DEMO_MODELS, tasks=DEMO_TASKS, **kwargs) -> list[Path]:
    """Write one results file per (model, task) into `folder`; returns their paths."""
    paths = []
    for i, model in enumerate(models):
        for j, task in enumerate(tasks):
            path = Path(folder) / f"{model}__{task}.json"
            write_json_atomic(path, demo_payload(model, task, seed=10 * i + j, **kwargs))
            paths.append(path)
    return paths


def _interval(value: float, n: int) -> dict:
    half = 1.96 * np.sqrt(max(value * (1 - value), 0.01) / n)
    return {"estimate": value, "low": max(0.0, value - half), "high": min(1.0, value + half)}


def _bins(acc: float, n: int, rng: np.random.Generator, skew: float) -> dict:
    edges = np.linspace(0.0, 1.0, 11)
    centre = np.clip(acc + skew, 0.1, 0.9)
    weights = np.exp(-((edges[:-1] + 0.05 - centre) ** 2) / 0.05)
    count = rng.multinomial(n, weights / weights.sum())
    mean_conf = edges[:-1] + 0.05 + rng.uniform(-0.02, 0.02, 10)
    accuracy = np.clip(mean_conf - skew + rng.normal(0, 0.05, 10), 0, 1)
    empty = count == 0
    return {
        "bin_edges": edges.tolist(),
        # the 11th entry is calib_eval.metrics' point bin for confidence == 1.0 (empty here)
        "mean_confidence": [None if e else float(c) for e, c in zip(empty, mean_conf)] + [None],
        "accuracy": [None if e else float(a) for e, a in zip(empty, accuracy)] + [None],
        "count": count.tolist() + [0],
    }
