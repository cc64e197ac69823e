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

    The split is kept only when it tokenizes exactly like the whole prompt
    (as lm-eval and any plain HF call would); otherwise the item gets no
    shared prefix, so a cached prefix never changes what the model reads.
    """
    bos = bos_ids(tokenizer)
    whole = encode_text(tokenizer, prefix + suffix)
    prefix_ids = encode_text(tokenizer, prefix)
    if prefix_ids and whole[: len(prefix_ids)] == prefix_ids:
        return bos + prefix_ids, whole[len(prefix_ids):]
    return [], bos + whole
