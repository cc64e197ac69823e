"""The engine's transformers adapter (version check, attention switch) and its segment attention."""
from __future__ import annotations

import pytest
import torch
import transformers

from calib_eval.inference import encode_batch, greedy_decode
from calib_eval.inference.hf_adapter import EngineError, check_transformers, engine_attention
from calib_eval.inference.segments import MASKED, stacked_attention
from calib_eval.inference.tokens import encode_text


def test_the_installed_transformers_passes_and_other_majors_are_refused_by_name():
    check_transformers()
    assert transformers.__version__.startswith("5.")
    for version in ("4.57.1", "6.0.0"):
        with pytest.raises(EngineError, match=version.replace(".", r"\.")):
            check_transformers(version)


@pytest.mark.parametrize("rows", [(1, 6, 6), (2, 6), (1, 3, 6)])
def test_stacked_attention_equals_sdpa_over_the_concatenated_rows(rows):
    """Segments shared by 6/n consecutive query rows, masked keys, GQA: same as plain attention."""
    g = torch.Generator().manual_seed(0)
    batch, heads, kv_heads, steps, dim = 6, 4, 2, 3, 8
    query = torch.randn(batch, heads, steps, dim, generator=g)
    parts, full_k, full_v, full_mask = [], [], [], []
    for n in rows:
        length = int(torch.randint(2, 9, (1,), generator=g))
        keys = torch.randn(n, kv_heads, length, dim, generator=g)
        values = torch.randn(n, kv_heads, length, dim, generator=g)
        mask = torch.rand(n, length, generator=g) > 0.3
        mask[:, -1] = True  # every row sees something in every segment but may not elsewhere
        bias = torch.zeros(n, 1, 1, length).masked_fill_(~mask.view(n, 1, 1, length), MASKED)
        parts.append((keys, values, bias))
        full_k.append(keys.repeat_interleave(batch // n, 0))
        full_v.append(values.repeat_interleave(batch // n, 0))
        full_mask.append(mask.repeat_interleave(batch // n, 0))
    got = stacked_attention(query, parts, dim ** -0.5)
    keys = torch.cat(full_k, 2).repeat_interleave(heads // kv_heads, 1)
    values = torch.cat(full_v, 2).repeat_interleave(heads // kv_heads, 1)
    want = torch.nn.functional.scaled_dot_product_attention(query, keys, values,
                                                            attn_mask=torch.cat(full_mask, 1)[:, None, None, :])
    assert got.shape == (batch, steps, heads, dim)
    assert torch.allclose(got, want.transpose(1, 2), atol=1e-5)


def test_engine_attention_switches_back_even_when_the_forward_fails(tiny_lm):
    model, _ = tiny_lm
    before = model.config._attn_implementation
    with pytest.raises(RuntimeError, match="boom"):
        with engine_attention(model):
            assert model.config._attn_implementation != before
            raise RuntimeError("boom")
    assert model.config._attn_implementation == before


def test_the_engine_attention_refuses_to_run_without_its_segments(tiny_lm):
    model, _ = tiny_lm
    with engine_attention(model), pytest.raises(EngineError, match="shared_kv"):
        model(torch.tensor([[1, 2, 3]]))


def _tiny_gemma3(vocab_size: int):
    from transformers import Gemma3ForCausalLM, Gemma3TextConfig

    torch.manual_seed(0)
    config = Gemma3TextConfig(vocab_size=vocab_size, hidden_size=32, intermediate_size=64, num_hidden_layers=2,
                              num_attention_heads=2, num_key_value_heads=1, head_dim=16, sliding_window=6,
                              layer_types=["sliding_attention", "full_attention"], max_position_embeddings=512,
                              pad_token_id=0, bos_token_id=0, eos_token_id=0, initializer_range=0.2)
    return Gemma3ForCausalLM(config).eval()


def test_sliding_window_layers_see_what_an_unpadded_row_sees(tiny_lm):
    """Gemma 3's sliding layers, measured in positions: padded, prefix-shared rows match solo forwards."""
    _, tok = tiny_lm
    model = _tiny_gemma3(len(tok))
    prefix = encode_text(tok, "The following are questions about astronomy.\n\n")
    suffixes = [encode_text(tok, s) for s in ("Question: Why is Mars red?\nAnswer:",
                                               "Question: Which planet is the largest planet of all?\nAnswer:")]
    query = encode_text(tok, "\n\nIs the proposed answer correct?\nAnswer:")
    state = encode_batch(model, prefix, suffixes, tok.pad_token_id)
    answer = greedy_decode(state, tok, 4, stop=("\n",))
    logits, _, lengths = state.forward([query] * 2, keep=False)
    for row, suffix in enumerate(suffixes):
        ids = prefix + suffix + answer.token_ids[row] + query
        with torch.no_grad():
            ref = model(torch.tensor([ids])).logits[0, -1]
        assert len(ids) > 2 * 6  # longer than the window, so the window matters
        assert torch.allclose(logits[row, lengths[row] - 1], ref, atol=1e-4)
