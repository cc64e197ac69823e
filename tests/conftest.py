"""Shared fixtures. Keep this small; fixtures for one area live near its tests."""
from __future__ import annotations

from pathlib import Path

import pytest

SHARED_DATA = Path(__file__).resolve().parents[1].parent / "shared" / "data"


@pytest.fixture(scope="session")
def data_root() -> Path:
    """The offline copies of the data sets (``<repo>/../shared/data``); skip if absent."""
    if not SHARED_DATA.is_dir():
        pytest.skip(f"offline data not found at {SHARED_DATA}")
    return SHARED_DATA


@pytest.fixture(scope="session")
def tiny_lm(data_root):
    """(model, tokenizer): a tiny random Llama and an on-the-fly BPE tokenizer."""
    from tiny_models import build_tiny_model, build_tiny_tokenizer

    tokenizer = build_tiny_tokenizer(data_root)
    return build_tiny_model(len(tokenizer)), tokenizer


@pytest.fixture(scope="session")
def tiny_model_dir(tmp_path_factory, tiny_lm) -> Path:
    """The tiny model saved as a normal HF folder (`--model <folder>`, `pretrained=<folder>`)."""
    folder = tmp_path_factory.mktemp("tiny-llama")
    model, tokenizer = tiny_lm
    model.save_pretrained(folder)
    tokenizer.save_pretrained(folder)
    return folder
