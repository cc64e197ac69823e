"""What each scorer needs from an engine, and which scorers an engine can run.

A scorer may declare `engine_needs` (a set of capability names) itself;
built-in scorers are listed here so their modules stay untouched. A scorer
that declares nothing is assumed to need the in-process model (the safe
guess: it may read weights or the KV cache).

Capabilities: generate, sample, token_logprobs (log p of each generated
token, with top-k alternatives), next_token_logprobs (top-k after a prompt),
choice_logprobs (log-likelihood of given continuations), hidden_states,
adapter, in_process.
"""
from __future__ import annotations

from calib_eval.errors import ModelError

BUILTIN_NEEDS: dict[str, frozenset] = {
    "perplexity": frozenset({"token_logprobs"}),
    "ua_clm_entropy": frozenset({"token_logprobs"}),
    "zero_shot_classifier": frozenset({"next_token_logprobs"}),
    "verbalized": frozenset({"generate"}),
    "max_softmax": frozenset({"choice_logprobs"}),
    "probe": frozenset({"hidden_states", "adapter"}),
    "lora_prompt": frozenset({"adapter"}),
    "semantic_entropy": frozenset({"sample", "token_logprobs"}),  # weighs samples by their log-probs
}
# no server exposes these: a scorer needing them is refused, not skipped
WEIGHTS_ONLY = frozenset({"hidden_states", "adapter", "in_process"})
IN_PROCESS = frozenset({"generate", "sample", "token_logprobs", "next_token_logprobs", "choice_logprobs",
                        "hidden_states", "adapter", "in_process"})


def needs_of(name: str, cls) -> frozenset:
    declared = getattr(cls, "engine_needs", None)
    if declared is not None:
        return frozenset(declared)
    if name in BUILTIN_NEEDS:
        return BUILTIN_NEEDS[name]
    if getattr(cls, "from_samples", False):  # the sampling family reads only the k samples
        return frozenset({"sample"})
    return frozenset({"in_process"})


def plan_scorers(names, registry, capabilities: frozenset) -> tuple[tuple[str, ...], dict[str, str]]:
    """(scorers this engine runs, {skipped scorer: why}); refuses scorers that need the weights."""
    kept, skipped = [], {}
    for name in names:
        missing = needs_of(name, registry.get(name)) - capabilities
        if missing & WEIGHTS_ONLY:
            raise ModelError(f"scorer {name!r} needs {' and '.join(sorted(missing & WEIGHTS_ONLY))}, which an "
                             f"OpenAI-compatible server does not expose; run it with an in-process model "
                             f"(--model default, a Hugging Face folder or hub id)")
        if missing:
            skipped[name] = f"the server returns no {', '.join(sorted(missing))}"
        else:
            kept.append(name)
    return tuple(kept), skipped
