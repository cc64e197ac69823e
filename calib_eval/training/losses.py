"""Training losses as pure functions on tensors (no model, no state).

Shapes: B = batch, T = positions, V = vocabulary. ``mask`` is (B, T) with 1 on
the positions that count; means are over counted positions only, and a batch
with no counted position contributes exactly 0 (not NaN).
"""
from __future__ import annotations

import math

import torch
import torch.nn.functional as F


def two_way_query_ce(last_logits: torch.Tensor, no_id: int, yes_id: int, correct: torch.Tensor) -> torch.Tensor:
    """CE of the ` i`/` ii` answer, normalised over those two tokens (as the scorer reads it).

    last_logits (B, V) at the query's last position; correct (B,) bool/0-1.
    """
    pair = torch.stack([last_logits[:, no_id], last_logits[:, yes_id]], dim=1).float()  # (B, 2)
    return F.cross_entropy(pair, correct.long())


def _masked_mean(values: torch.Tensor, mask: torch.Tensor) -> torch.Tensor:
    mask = mask.to(values.dtype)
    return (values * mask).sum() / mask.sum().clamp(min=1.0)


def kl_divergence(logits_p: torch.Tensor, logits_q: torch.Tensor, mask: torch.Tensor) -> torch.Tensor:
    """Mean over masked positions of KL(p || q) between softmax(logits_p) and softmax(logits_q); (B,T,V)."""
    logp = torch.log_softmax(logits_p.float(), dim=-1)
    logq = torch.log_softmax(logits_q.float(), dim=-1)
    kl = (logp.exp() * (logp - logq)).sum(dim=-1)  # (B, T)
    return _masked_mean(kl, mask)


def js_divergence(logits_p: torch.Tensor, logits_q: torch.Tensor, mask: torch.Tensor) -> torch.Tensor:
    """Mean over masked positions of Jensen-Shannon divergence (nats, in [0, log 2])."""
    logp = torch.log_softmax(logits_p.float(), dim=-1)
    logq = torch.log_softmax(logits_q.float(), dim=-1)
    logm = torch.logsumexp(torch.stack([logp, logq]), dim=0) - math.log(2.0)
    js = 0.5 * (logp.exp() * (logp - logm)).sum(-1) + 0.5 * (logq.exp() * (logq - logm)).sum(-1)  # (B, T)
    return _masked_mean(js.clamp(min=0.0), mask)


def divergence(kind: str, tuned_logits: torch.Tensor, frozen_logits: torch.Tensor, mask: torch.Tensor) -> torch.Tensor:
    """The calibration-tuning regulariser: js, kl (= KL(frozen || tuned)) or none."""
    if kind == "js":
        return js_divergence(tuned_logits, frozen_logits, mask)
    if kind == "kl":
        return kl_divergence(frozen_logits, tuned_logits, mask)
    if kind == "none":
        return tuned_logits.new_zeros(())
    raise ValueError(f"unknown divergence {kind!r}; use js, kl or none")


def token_entropy(logits: torch.Tensor) -> torch.Tensor:
    """Predictive entropy (nats) per position: (B, T, V) -> (B, T)."""
    logp = torch.log_softmax(logits.float(), dim=-1)
    return -(logp.exp() * logp).sum(dim=-1)


def ua_clm_loss(logits: torch.Tensor, targets: torch.Tensor, mask: torch.Tensor, ce_weight: float = 0.0,
                p_source: str = "predicted", eps: float = 1e-6) -> torch.Tensor:
    """Uncertainty-aware causal LM loss (Krishnan et al. 2024; DESIGN.md s.2).

    logits (B, T, V) predict targets (B, T). A token is *correct* when the
    argmax equals the target. With H the token entropy and u = tanh(H) in [0, 1):

        L = -mean_incorrect[p * log u] - mean_correct[(1 - p) * log(1 - u)] + ce_weight * CE

    p is the probability of the predicted (argmax) token, or of the target
    token with p_source="target"; gradients flow through p and H. Each mean
    is over its own tokens (0 when there are none).
    """
    return ua_clm_loss_from_parts(ua_clm_loss_parts(logits, targets, mask, p_source, eps), ce_weight)


def ua_clm_loss_parts(logits: torch.Tensor, targets: torch.Tensor, mask: torch.Tensor, p_source: str = "predicted",
                      eps: float = 1e-6) -> torch.Tensor:
    """The sums and token counts behind ua_clm_loss, a (6,) tensor that adds up across batches.

    (sum over wrong tokens of -p log u, their count, sum over right tokens of
    -(1-p) log(1-u), their count, sum of the NLL over answer tokens, their count):
    a loss over many rows can be computed in chunks and still be exactly the
    loss of one batch (a held-out set's full-vocabulary logits do not fit in memory at once).
    """
    logp = torch.log_softmax(logits.float(), dim=-1)
    probs = logp.exp()
    entropy = -(probs * logp).sum(dim=-1)  # (B, T)
    u = torch.tanh(entropy).clamp(eps, 1.0 - eps)
    predicted = logp.argmax(dim=-1)
    mask = mask.bool()
    right = ((predicted == targets) & mask).to(logp.dtype)
    wrong = ((predicted != targets) & mask).to(logp.dtype)
    if p_source == "predicted":
        p = probs.gather(-1, predicted[..., None]).squeeze(-1)
    elif p_source == "target":
        p = probs.gather(-1, targets.clamp(min=0)[..., None]).squeeze(-1)
    else:
        raise ValueError(f"unknown p_source {p_source!r}; use predicted or target")
    nll = -logp.gather(-1, targets.clamp(min=0)[..., None]).squeeze(-1)
    answer = mask.to(logp.dtype)
    return torch.stack([(-p * torch.log(u) * wrong).sum(), wrong.sum(),
                        (-(1.0 - p) * torch.log1p(-u) * right).sum(), right.sum(),
                        (nll * answer).sum(), answer.sum()])


def ua_clm_loss_from_parts(parts: torch.Tensor, ce_weight: float = 0.0) -> torch.Tensor:
    """ua_clm_loss from (summed) ua_clm_loss_parts."""
    loss = parts[0] / parts[1].clamp(min=1.0) + parts[2] / parts[3].clamp(min=1.0)
    if ce_weight:
        loss = loss + ce_weight * parts[4] / parts[5].clamp(min=1.0)
    return loss


def masked_lm_ce(logits: torch.Tensor, targets: torch.Tensor, mask: torch.Tensor) -> torch.Tensor:
    """Plain next-token CE averaged over masked target positions (SFT)."""
    logp = torch.log_softmax(logits.float(), dim=-1)
    nll = -logp.gather(-1, targets.clamp(min=0)[..., None]).squeeze(-1)
    return _masked_mean(nll, mask)
