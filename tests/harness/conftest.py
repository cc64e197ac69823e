"""Fixtures for the lm-eval tests (the tiny model itself lives in tests/conftest.py).

The model is a random 2-layer Llama (hidden 32) and the tokenizer a byte-level
BPE trained on the fly on MMLU dev text, both saved with ``save_pretrained`` so
``lm_eval --model hf --model_args pretrained=<folder>`` loads them like any
checkpoint. Nothing is downloaded.
"""
from __future__ import annotations

import os
from pathlib import Path

import pytest

# set before lm-eval / datasets / huggingface_hub read them
os.environ.setdefault("HF_DATASETS_OFFLINE", "1")
os.environ.setdefault("HF_HUB_OFFLINE", "1")
os.environ.setdefault("TOKENIZERS_PARALLELISM", "false")

REPO = Path(__file__).resolve().parents[2]
TASKS_DIR = REPO / "tasks"


@pytest.fixture(scope="session")
def task_manager(data_root):
    """A TaskManager over the repo's tasks/ only (skips indexing lm-eval's ~10k YAMLs)."""
    from lm_eval.tasks import TaskManager

    return TaskManager(include_path=str(TASKS_DIR), include_defaults=False, metadata={"data_root": str(data_root)})


@pytest.fixture(scope="session")
def run_lm_eval(task_manager):
    """``lm_eval --model hf`` from Python: ``run(model_dir, tasks, limit, **kw) -> results``."""

    def run(model_dir: Path, tasks: list[str], limit: int, **kwargs):
        import lm_eval

        options = dict(model_args=f"pretrained={model_dir},dtype=float32", batch_size=1, device="cpu",
                       task_manager=task_manager, log_samples=True, bootstrap_iters=0)
        return lm_eval.simple_evaluate(model="hf", tasks=tasks, limit=limit, **(options | kwargs))

    return run
