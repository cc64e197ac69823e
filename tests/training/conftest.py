"""Tiny-model fixtures for the trainer tests (CPU, seconds)."""
from __future__ import annotations

from pathlib import Path

import pytest
import torch

SMOLLM = Path("~/.cache/calib-eval/models/smollm2-135m-instruct").expanduser()


@pytest.fixture(scope="session")
def tokenizer():
    """The SmolLM2 tokenizer (real " i"/" ii" tokens); skip when not converted."""
    if not (SMOLLM / "tokenizer.json").exists() and not (SMOLLM / "tokenizer_config.json").exists():
        pytest.skip(f"default model tokenizer not found at {SMOLLM}")
    from transformers import AutoTokenizer

    from calib_eval.models import prepare_tokenizer

    tok = AutoTokenizer.from_pretrained(str(SMOLLM))
    prepare_tokenizer(tok)
    return tok


def build_tiny(tokenizer, seed: int = 0):
    from transformers import LlamaConfig, LlamaForCausalLM

    torch.manual_seed(seed)
    config = LlamaConfig(vocab_size=len(tokenizer), hidden_size=32, num_hidden_layers=2, num_attention_heads=2,
                         num_key_value_heads=2, intermediate_size=64, max_position_embeddings=1024,
                         tie_word_embeddings=True, pad_token_id=tokenizer.pad_token_id)
    return LlamaForCausalLM(config).eval()


@pytest.fixture(scope="session")
def tiny_builder():
    """build_tiny for tests that save the model (a test module cannot import this conftest by name)."""
    return build_tiny


@pytest.fixture
def make_loaded(tokenizer):
    """Factory: a fresh LoadedModel around a tiny random Llama (same seed = same weights)."""
    from calib_eval.models import LoadedModel

    def make(seed: int = 0) -> LoadedModel:
        return LoadedModel(build_tiny(tokenizer, seed), tokenizer, "tiny-llama", "tiny-llama", "cpu", "float32")

    return make


QUESTIONS = [("What is the capital of France?", "Paris"), ("How many legs does a spider have?", "eight"),
             ("What gas do plants absorb?", "carbon dioxide"), ("Is the sun a star?", "yes"),
             ("What color is the sky on a clear day?", "blue"), ("Who wrote Hamlet?", "William Shakespeare"),
             ("What is frozen water called?", "ice"), ("Can fish breathe air?", "no")]


@pytest.fixture
def graded_rows(tokenizer):
    """16 GradedExamples (half correct) with real token ids, as build_graded writes them."""
    from calib_eval.inference.tokens import encode_text, prompt_ids
    from calib_eval.training.graded_data import GradedExample

    rows = []
    for i in range(16):
        q, ref = QUESTIONS[i % len(QUESTIONS)]
        correct = i % 2 == 0
        answer = f" {ref}" if correct else " I am not sure"
        prompt = f"Question: {q}\nAnswer:"
        rows.append(GradedExample(f"toy/{i}", ["arc_challenge", "boolq"][i // 8], prompt,
                                  answer, prompt_ids(tokenizer, "", prompt)[1], encode_text(tokenizer, answer),
                                  correct, ref, "", {"question": q}))
    return rows
