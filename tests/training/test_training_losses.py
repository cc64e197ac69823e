import math

import pytest
import torch

from calib_eval.training import losses


def test_js_zero_for_identical_and_bounded():
    torch.manual_seed(0)
    a, b = torch.randn(2, 5, 11), torch.randn(2, 5, 11)
    mask = torch.ones(2, 5)
    assert float(losses.js_divergence(a, a, mask)) == pytest.approx(0.0, abs=1e-7)
    js = float(losses.js_divergence(a, b, mask))
    assert 0 < js <= math.log(2)
    assert js == pytest.approx(float(losses.js_divergence(b, a, mask)), rel=1e-5)


def test_kl_matches_torch_and_respects_mask():
    torch.manual_seed(1)
    p, q = torch.randn(3, 4, 7), torch.randn(3, 4, 7)
    mask = torch.tensor([[1, 1, 0, 0], [1, 0, 0, 0], [0, 0, 0, 0]])
    ref = torch.nn.functional.kl_div(torch.log_softmax(q, -1), torch.log_softmax(p, -1), log_target=True,
                                     reduction="none").sum(-1)
    expected = (ref * mask).sum() / mask.sum()
    assert float(losses.kl_divergence(p, q, mask)) == pytest.approx(float(expected), rel=1e-5)
    assert float(losses.divergence("js", p, q, torch.zeros(3, 4))) == 0.0


def test_two_way_ce_uses_only_the_two_tokens():
    logits = torch.full((2, 10), -5.0)
    logits[0, 3], logits[0, 4] = 0.0, 2.0  # yes more likely
    logits[1, 3], logits[1, 4] = 1.0, 1.0
    got = float(losses.two_way_query_ce(logits, 3, 4, torch.tensor([1, 0])))
    want = 0.5 * (-math.log(math.exp(2) / (1 + math.exp(2))) + math.log(2))
    assert got == pytest.approx(want, rel=1e-6)


def test_ua_clm_loss_by_hand():
    # one position, vocabulary of 2
    logits = torch.tensor([[[2.0, 0.0], [0.0, 1.0]]])  # (1, 2, 2)
    targets = torch.tensor([[0, 0]])  # first token right (argmax 0), second wrong (argmax 1)
    mask = torch.ones(1, 2)
    p = torch.softmax(logits[0], -1)
    h = -(p * p.log()).sum(-1)
    u = torch.tanh(h)
    p_pred = p.max(-1).values
    want = -(p_pred[1] * torch.log(u[1])) - ((1 - p_pred[0]) * torch.log(1 - u[0]))
    assert float(losses.ua_clm_loss(logits, targets, mask)) == pytest.approx(float(want), rel=1e-5)
    # ce_weight adds mean NLL of the targets
    nll = -torch.log_softmax(logits[0], -1)[[0, 1], [0, 0]].mean()
    got = float(losses.ua_clm_loss(logits, targets, mask, ce_weight=0.5))
    assert got == pytest.approx(float(want + 0.5 * nll), rel=1e-5)
    # p_source=target uses the target token's probability on the wrong token
    want_t = -(p[1, 0] * torch.log(u[1])) - ((1 - p[0, 0]) * torch.log(1 - u[0]))
    assert float(losses.ua_clm_loss(logits, targets, mask, p_source="target")) == pytest.approx(float(want_t), rel=1e-5)


def test_ua_clm_loss_parts_add_up_across_chunks():
    """A held-out loss computed a few rows at a time is the loss of the whole batch (memory: 152k vocabularies)."""
    torch.manual_seed(0)
    logits, targets = torch.randn(6, 4, 7), torch.randint(0, 7, (6, 4))
    mask = (torch.rand(6, 4) > 0.3).float()
    for ce_weight in (0.0, 0.7):
        whole = losses.ua_clm_loss(logits, targets, mask, ce_weight)
        parts = sum(losses.ua_clm_loss_parts(logits[s: s + 4], targets[s: s + 4], mask[s: s + 4]) for s in (0, 4))
        assert float(losses.ua_clm_loss_from_parts(parts, ce_weight)) == pytest.approx(float(whole), rel=1e-6)
        halves = [losses.ua_clm_loss(logits[s: s + 3], targets[s: s + 3], mask[s: s + 3], ce_weight) for s in (0, 3)]
        assert float(sum(halves) / 2) != pytest.approx(float(whole), rel=1e-6)  # averaging chunk losses is not it


def test_ua_clm_loss_empty_mask_is_zero_and_grad_finite():
    logits = torch.randn(2, 3, 5, requires_grad=True)
    loss = losses.ua_clm_loss(logits, torch.zeros(2, 3, dtype=torch.long), torch.zeros(2, 3))
    assert float(loss) == 0.0
    loss = losses.ua_clm_loss(logits, torch.zeros(2, 3, dtype=torch.long), torch.ones(2, 3), ce_weight=1.0)
    loss.backward()
    assert torch.isfinite(logits.grad).all()


def test_span_logits_equal_the_full_projection_at_the_span(make_loaded, graded_rows):
    """Losses read the same numbers whether every position or only the span is projected."""
    from calib_eval.training.methods.ua_clm import reference_seq
    from calib_eval.training.sequences import collate, span_logits

    loaded = make_loaded()
    batch = collate([reference_seq(g, loaded.tokenizer) for g in graded_rows[:5]], loaded.tokenizer.pad_token_id,
                    "cpu")
    with torch.no_grad():
        full = loaded.model(input_ids=batch.ids, attention_mask=batch.mask).logits[:, :-1]
        logits, targets, mask = span_logits(loaded.model, batch)
    want = losses.ua_clm_loss(full, batch.targets, batch.span_mask)
    got = losses.ua_clm_loss(logits, targets, mask)
    assert float(got) == pytest.approx(float(want), rel=1e-5)
    assert float(losses.masked_lm_ce(logits, targets, mask)) == pytest.approx(
        float(losses.masked_lm_ce(full, batch.targets, batch.span_mask)), rel=1e-5)
    assert int(mask.sum()) == int(batch.span_mask.sum()) and logits.shape[1] < full.shape[1]
