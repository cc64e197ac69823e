"""The engine's memory: a shared prefix is stored once, sampling forks copy nothing, a batch respects its bound."""
from __future__ import annotations

from types import SimpleNamespace

import pytest
import torch

from calib_eval.inference import encode_batch, greedy_decode
from calib_eval.inference.state import encode_prefix, memory_bound_bytes
from calib_eval.inference.tokens import encode_text

PREFIX = ("The following are questions (with answers) about astronomy.\n\n"
          + "Question: What is a star?\nAnswer: A ball of hot gas.\n\n" * 12)
SUFFIXES = ["Question: Why is Mars red?\nAnswer:", "Question: What is a planet?\nAnswer:",
            "Question: Which planet is the largest planet of the solar system by far?\nAnswer:"]
QUERY = "\n\nIs the proposed answer correct?\nAnswer:"
ANSWER_TOKENS, SAMPLED_TOKENS, K = 6, 5, 8


def _union(*states) -> int:
    held = {}
    for state in states:
        held.update(state.kv_storages())
    return sum(held.values())


def _one_batch(model, tok, chunk: int):
    """What a run does to one batch: answer, P(True)-style query, verbalized-style decode, sampling."""
    prefix = encode_text(tok, PREFIX)
    suffixes = [encode_text(tok, s) for s in SUFFIXES]
    query = encode_text(tok, QUERY)
    shared = encode_prefix(model, prefix)
    answered = encode_batch(model, prefix, suffixes, tok.pad_token_id, shared)
    prompt_only = answered.checkpoint()
    greedy_decode(answered, tok, ANSWER_TOKENS, stop=("\n",))
    answered.forward([query] * len(suffixes), keep=False)
    before_reply = answered.checkpoint()
    answered.forward([query] * len(suffixes), keep=True)
    greedy_decode(answered, tok, ANSWER_TOKENS, stop=("\n",))
    peak = _union(answered)
    answered.rollback(before_reply)
    prompt = answered.fork()
    prompt.rollback(prompt_only)
    generator = torch.Generator().manual_seed(0)
    live = []
    for _ in range(0, K, chunk):
        sampled = prompt.fork(repeats=chunk)
        greedy_decode(sampled, tok, SAMPLED_TOKENS, stop=("\n",), sample_temperature=1.0, generator=generator)
        peak = max(peak, _union(answered, prompt, sampled))
        live.append(sampled)
    dims = SimpleNamespace(prefix=len(prefix), suffix=max(map(len, suffixes)),
                           appended=ANSWER_TOKENS + len(query) + ANSWER_TOKENS, batch=len(suffixes))
    return shared, live, peak, dims


@pytest.mark.parametrize("chunk", [K, 2])
def test_a_batch_holds_no_more_kv_cache_than_its_bound(tiny_lm, chunk):
    model, tok = tiny_lm
    cfg = model.config
    shared, live, peak, d = _one_batch(model, tok, chunk)
    head_dim = cfg.hidden_size // cfg.num_attention_heads
    per_token = 2 * cfg.num_hidden_layers * cfg.num_key_value_heads * head_dim * 4  # keys + values, fp32
    bound = memory_bound_bytes(cfg.num_hidden_layers, cfg.num_key_value_heads, head_dim, 4, d.prefix, d.suffix,
                               d.appended, d.batch, chunk, SAMPLED_TOKENS)
    assert peak <= bound
    # the prefix is stored once: copying it into each of the B*c sample rows would not fit the bound
    copied = per_token * d.batch * chunk * (d.prefix + d.suffix)
    assert d.prefix > 10 * d.suffix and peak < copied
    for sampled in live:  # every sample row reads the very tensors encode_prefix made
        assert sampled.segments[0].keys[0].data_ptr() == shared.keys[0].data_ptr()


def test_sampling_forks_copy_no_prompt_tensor(tiny_lm):
    model, tok = tiny_lm
    prefix = encode_text(tok, PREFIX)
    state = encode_batch(model, prefix, [encode_text(tok, s) for s in SUFFIXES], tok.pad_token_id)
    before = state.kv_storages()
    forked = state.fork(repeats=K)
    assert forked.kv_storages() == {p: n for p, n in before.items() if p in forked.kv_storages()}
    assert forked.batch_size == K * len(SUFFIXES) and forked.tail is None


def test_forked_rows_decode_like_their_parent_rows(tiny_lm):
    """Greedy decoding of a k-fold fork gives every copy its parent row's answer and logits."""
    model, tok = tiny_lm
    prefix = encode_text(tok, PREFIX)
    suffixes = [encode_text(tok, s) for s in SUFFIXES]
    parent = encode_batch(model, prefix, suffixes, tok.pad_token_id)
    forked = parent.fork(repeats=3)
    ref = greedy_decode(parent, tok, 5, stop=("\n",))
    got = greedy_decode(forked, tok, 5, stop=("\n",))
    assert got.token_ids == [ids for ids in ref.token_ids for _ in range(3)]
    for row in range(len(suffixes)):
        for copy in range(3):
            assert got.logprobs[3 * row + copy] == pytest.approx(ref.logprobs[row], abs=1e-5)


def test_chunked_sampling_draws_k_per_item_with_at_most_b_times_chunk_live_rows(tiny_lm, monkeypatch):
    import calib_eval.inference.decode as decode
    from calib_eval.scorers import ScorerConfig, ScoringBatch
    from calib_eval.scorers.samples import draw_samples
    from calib_eval.types import Example, Generation, Graded

    model, tok = tiny_lm
    rows = []
    real = decode.greedy_decode

    def watching(state, *args, **kwargs):
        rows.append(state.batch_size)
        return real(state, *args, **kwargs)

    monkeypatch.setattr(decode, "greedy_decode", watching)
    items = [Graded(Generation(Example(str(i), "toy", s), s, ""), False) for i, s in enumerate(SUFFIXES)]
    loaded = SimpleNamespace(model=model, tokenizer=tok)
    batch = ScoringBatch(items, loaded, encode_text(tok, PREFIX), [encode_text(tok, s) for s in SUFFIXES],
                         [[] for _ in SUFFIXES], config=ScorerConfig(sampling_k=5), max_new_tokens=4)
    samples = draw_samples(batch, chunk=2)
    assert [s.k for s in samples] == [5, 5, 5]
    assert rows == [6, 6, 3]  # chunks of 2, 2, 1 samples for 3 items


def test_sampling_chunk_keys_item_caches_only_when_it_changes_the_samples():
    from calib_eval.errors import CalibEvalError
    from calib_eval.scorers import ScorerConfig

    plain = ScorerConfig(sampling_k=10).signature()
    assert ScorerConfig(sampling_k=10, sampling_chunk=10).signature() == plain  # all k at once: the same draw
    assert ScorerConfig(sampling_k=10, sampling_chunk=4).signature() == plain | {"sampling_chunk": 4}
    with pytest.raises(CalibEvalError, match="sampling_chunk"):
        ScorerConfig(sampling_chunk=-1)
