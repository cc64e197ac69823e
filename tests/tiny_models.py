"""Tiny random models for unit tests: nothing downloaded, seconds to build.

A 2-layer Llama (hidden 32) and a byte-level BPE tokenizer trained on the fly
on real MMLU dev text plus our prompt scaffolding (so ` i` and ` ii`, the
uncertainty query's answers, are distinct tokens as in real tokenizers).
"""
from __future__ import annotations

from pathlib import Path

EOS = "<|endoftext|>"


def _corpus(data_root: Path) -> list[str]:
    from calib_eval import prompts
    from calib_eval.data import load_dataset

    lines = [prompts.UNCERTAINTY_QUERY, prompts.VERBALIZED_QUERY, " i ii i ii (i) (ii)",
             "The following are questions (with answers) about", "Now, answer the next question.",
             "Question: Answer:", " A B C D yes no maybe 0 1 2 3 4 5 6 7 8 9 73 %"]
    for ex in load_dataset("mmlu", split="dev", data_root=data_root)[:300]:
        lines += [ex.question, *ex.choices]
    return lines


def build_tiny_tokenizer(data_root: Path, vocab_size: int = 1000):
    from tokenizers import Tokenizer, decoders, models, pre_tokenizers, trainers
    from transformers import PreTrainedTokenizerFast

    tok = Tokenizer(models.BPE())
    tok.pre_tokenizer = pre_tokenizers.ByteLevel(add_prefix_space=False)
    tok.decoder = decoders.ByteLevel()
    trainer = trainers.BpeTrainer(vocab_size=vocab_size, special_tokens=[EOS],
                                  initial_alphabet=pre_tokenizers.ByteLevel.alphabet(), show_progress=False)
    tok.train_from_iterator(_corpus(data_root), trainer)
    return PreTrainedTokenizerFast(tokenizer_object=tok, eos_token=EOS, bos_token=EOS, pad_token=EOS)


def build_tiny_model(vocab_size: int, seed: int = 0, init_std: float = 0.02):
    """init_std well above the default 0.02 gives peaked, item-dependent outputs."""
    import torch
    from transformers import LlamaConfig, LlamaForCausalLM

    torch.manual_seed(seed)
    config = LlamaConfig(vocab_size=vocab_size, hidden_size=32, intermediate_size=64, num_hidden_layers=2,
                         num_attention_heads=2, num_key_value_heads=2, max_position_embeddings=8192,
                         bos_token_id=0, eos_token_id=0, pad_token_id=0, tie_word_embeddings=False,
                         initializer_range=init_std)
    return LlamaForCausalLM(config).eval()
