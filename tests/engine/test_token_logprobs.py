"""token_logprobs: the one place answer tokens are read off step logits (perplexity fallback, training readout)."""
import torch

from calib_eval.scorers.likelihood import token_logprobs


def test_each_token_is_read_under_the_logits_that_predicted_it():
    logits = torch.randn(3, 7, generator=torch.Generator().manual_seed(0))
    answer = [4, 0, 6]
    expected = [torch.log_softmax(logits[i], dim=-1)[t].item() for i, t in enumerate(answer)]
    assert torch.allclose(token_logprobs(logits, answer), torch.tensor(expected))


def test_an_empty_answer_has_no_log_probs_on_the_logits_device():
    logits = torch.randn(0, 7)
    out = token_logprobs(logits, [])
    assert out.shape == (0,) and out.device == logits.device
