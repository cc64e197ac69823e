"""The KV-cache engine: extending a batch's cache must equal encoding from scratch."""
from __future__ import annotations

import torch

from calib_eval.inference import encode_batch, greedy_decode, length_sorted_batches
from calib_eval.inference.state import encode_prefix
from calib_eval.inference.tokens import encode_text

PREFIX = "The following are questions (with answers) about astronomy.\n\nNow, answer the next question.\n\n"
SUFFIXES = ["Question: Why is Mars red?\nAnswer:", "Question: What is a star?\nAnswer:",
            "Question: Which planet is the largest planet of the solar system by far?\nAnswer:"]


def _ids(tok):
    return encode_text(tok, PREFIX), [encode_text(tok, s) for s in SUFFIXES]


def test_length_sorted_batches_keeps_groups_apart_and_covers_all():
    batches = length_sorted_batches([5, 1, 9, 3, 7], 2, groups=["a", "b", "a", "b", "a"])
    assert sorted(i for b in batches for i in b) == [0, 1, 2, 3, 4]
    for b in batches:
        assert len({["a", "b", "a", "b", "a"][i] for i in b}) == 1
    assert batches[0] == [2, 4]  # longest first


def test_padded_batch_matches_unpadded_single_rows(tiny_lm):
    model, tok = tiny_lm
    prefix, suffixes = _ids(tok)
    state = encode_batch(model, prefix, suffixes, tok.pad_token_id)
    for row, suffix in enumerate(suffixes):
        with torch.no_grad():
            ref = model(torch.tensor([prefix + suffix])).logits[0, -1]
        assert torch.allclose(state.last_logits[row], ref, atol=1e-4)


def test_prefix_cache_reuse_gives_the_same_logits(tiny_lm):
    model, tok = tiny_lm
    prefix, suffixes = _ids(tok)
    fresh = encode_batch(model, prefix, suffixes, tok.pad_token_id)
    cached = encode_batch(model, prefix, suffixes, tok.pad_token_id, encode_prefix(model, prefix))
    assert torch.allclose(fresh.last_logits, cached.last_logits, atol=1e-5)


def test_greedy_decode_matches_hf_generate_and_query_extension_matches_reencode(tiny_lm):
    model, tok = tiny_lm
    prefix, suffixes = _ids(tok)
    state = encode_batch(model, prefix, suffixes, tok.pad_token_id)
    result = greedy_decode(state, tok, max_new_tokens=6, stop=("\n",))
    query = encode_text(tok, "\n\nIs the proposed answer correct?\nAnswer:")
    logits, _, lengths = state.forward([query] * 3, keep=False)
    for row, suffix in enumerate(suffixes):
        ids = torch.tensor([prefix + suffix])
        out = model.generate(ids, attention_mask=torch.ones_like(ids), max_new_tokens=6, do_sample=False,
                             pad_token_id=tok.pad_token_id)
        generated = out[0, ids.shape[1]:].tolist()
        assert generated[: len(result.token_ids[row])] == result.token_ids[row]
        with torch.no_grad():
            ref = model(torch.tensor([prefix + suffix + result.token_ids[row] + query])).logits[0, -1]
        assert torch.allclose(logits[row, lengths[row] - 1], ref, atol=1e-4)


def test_forward_without_keep_leaves_the_state_unchanged(tiny_lm):
    model, tok = tiny_lm
    prefix, suffixes = _ids(tok)
    state = encode_batch(model, prefix, suffixes, tok.pad_token_id)
    before = (state.mask.clone(), state.cache.get_seq_length())
    state.forward([[1, 2, 3]] * 3, keep=False)
    assert torch.equal(state.mask, before[0]) and state.cache.get_seq_length() == before[1]


def test_stop_after_text_forbids_eos_until_there_is_text(tiny_lm):
    """A model that wants to end at once answers empty, unless stops wait for text (like min_new_tokens)."""
    model, tok = tiny_lm
    assert tok.eos_token_id is not None
    prefix, suffixes = _ids(tok)
    word = encode_text(tok, " Paris")[0]
    assert tok.decode([word]).strip()

    def boost(_module, _inputs, logits):  # EOS first choice everywhere, a word second
        logits = logits.clone()
        logits[..., tok.eos_token_id] += 1e4
        logits[..., word] += 5e3
        return logits

    handle = model.lm_head.register_forward_hook(boost)
    try:
        plain = greedy_decode(encode_batch(model, prefix, suffixes, tok.pad_token_id), tok, 6, ("\n",))
        waited = greedy_decode(encode_batch(model, prefix, suffixes, tok.pad_token_id), tok, 6, ("\n",),
                               stop_after_text=True)
    finally:
        handle.remove()
    assert plain.token_ids == [[], [], []]
    # EOS is masked while the answer is blank; once it has text, EOS ends it as usual
    assert waited.token_ids == [[word]] * 3
    assert all(lp[0] > -1e-3 for lp in waited.logprobs)  # log p from the masked distribution
