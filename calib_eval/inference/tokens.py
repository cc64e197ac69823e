"""Text -> token ids the same way everywhere (runner, rescoring, trainer)."""
from __future__ import annotations


def encode_text(tokenizer, text: str) -> list[int]:
    return tokenizer(text, add_special_tokens=False)["input_ids"] if text else []


def bos_ids(tokenizer) -> list[int]:
    """[bos] if this tokenizer puts one in front by default (Gemma does, SmolLM2 not)."""
    probe = tokenizer("a")["input_ids"]
    bos = tokenizer.bos_token_id
    return [bos] if bos is not None and probe and probe[0] == bos else []


def prompt_ids(tokenizer, prefix: str, suffix: str) -> tuple[list[int], list[int]]:
    """(shared prefix ids, per-item suffix ids); BOS goes on whichever comes first.

    The prompt is always tokenized whole (as lm-eval and any plain HF call
    would); the shared part is the longest run of leading tokens it has in
    common with the prefix alone, so a cached prefix never changes what the
    model reads even when BPE merges across the prefix/suffix boundary.
    """
    bos = bos_ids(tokenizer)
    whole = encode_text(tokenizer, prefix + suffix)
    alone = encode_text(tokenizer, prefix)
    common = 0
    while common < min(len(alone), len(whole)) and alone[common] == whole[common]:
        common += 1
    if common == 0:
        return [], bos + whole
    return bos + whole[:common], whole[common:]
