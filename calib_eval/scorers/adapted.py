"""Scorers that need a trained adapter: the probe and LoRA+Prompt.

`probe`: the frozen base model reads the uncertainty query; an MLP head maps
the last token's hidden state to P(correct). Base-model forward work is
reused (the query extends the generation cache).
`lora_prompt`: the same query through the calibration-tuned LoRA, read as
the two-way ` i`/` ii` softmax. Adapters change keys and values, so the
prompt is encoded again under the adapter: one forward over prompt + answer
+ query. The few-shot prefix under the adapter is cached like the base
model's (AdapterSet.prefix_cache), so a subject's batches encode it once.
With `ScorerConfig.lora_prompt_mode = "shared-cache"` the runner generates
under the adapter instead (`answers_under_adapter`) and leaves that live
cache in `batch.shared[ADAPTER_ANSWERED]`; the query then only extends it.
"""
from __future__ import annotations

import torch

from calib_eval import prompts
from calib_eval.errors import ModelError
from calib_eval.inference.state import encode_batch
from calib_eval.inference.tokens import encode_text
from calib_eval.scorers.base import SCORERS, ScoringBatch
from calib_eval.scorers.ptrue import query_yes_probability


def _require(batch: ScoringBatch, name: str):
    if batch.adapters is None or not batch.adapters.has(name):
        raise ModelError(f"scorer {name!r} needs a trained adapter: pass --adapter {name}=PATH "
                         f"(make one with `calib-eval train`)")
    return batch.adapters


def query_features(state, tokenizer) -> torch.Tensor:
    """Last-layer hidden state at the query's last token, (B, d)."""
    query_ids = encode_text(tokenizer, prompts.UNCERTAINTY_QUERY)
    _, hidden, lengths = state.forward([query_ids] * state.batch_size, keep=False, hidden=True)
    return hidden[torch.arange(state.batch_size), torch.tensor(lengths) - 1]


@SCORERS.register("probe")
class Probe:
    name = "probe"
    is_probability = True
    needs_adapter = True
    task_modes = ("generate", "choice")

    def score(self, batch: ScoringBatch) -> list[float]:
        adapters = _require(batch, self.name)
        head = adapters.heads.get(self.name)
        if head is None:
            raise ModelError(f"adapter {adapters.folders[self.name]} has no probe head")
        if adapters.cards[self.name].get("has_lora"):  # lora-probe: features under the LoRA
            with adapters.active(self.name) as model:
                state = encode_answered(model, batch, self.name)
                features = query_features(state, batch.model.tokenizer)
        else:
            features = query_features(batch.answered_state(), batch.model.tokenizer)
        with torch.no_grad():
            return head.p_correct(features).tolist()


def encode_answered(model, batch: ScoringBatch, name: str):
    """Prompt + answer under adapter `name`; its few-shot prefix cache is shared with earlier batches."""
    rows = [s + a for s, a in zip(batch.suffix_ids, batch.answer_ids)]
    prefix_cache = batch.adapters.prefix_cache(name, model, batch.prefix_ids)
    return encode_batch(model, batch.prefix_ids, rows, batch.model.tokenizer.pad_token_id, prefix_cache)


ADAPTER_ANSWERED = "lora_prompt:answered"  # batch.shared key: prompt + answer decoded under the adapter


def answers_under_adapter(cfg, task_mode: str, scorers, adapters) -> bool:
    """Whether the runner should generate this batch under the lora_prompt adapter (shared-cache mode).

    Only open-answer tasks: a choice task's answer is an option picked by
    log-likelihood, which is one forward either way and feeds max_softmax.
    """
    return (cfg.lora_prompt_mode == "shared-cache" and task_mode == "generate" and "lora_prompt" in scorers
            and adapters is not None and adapters.has("lora_prompt")
            and adapters.cards["lora_prompt"].get("has_lora", True))


@SCORERS.register("lora_prompt")
class LoraPrompt:
    name = "lora_prompt"
    is_probability = True
    needs_adapter = True
    task_modes = ("generate", "choice")

    def score(self, batch: ScoringBatch) -> list[float]:
        adapters = _require(batch, self.name)
        state = batch.shared.get(ADAPTER_ANSWERED)  # shared-cache mode: the adapter wrote the answer
        batch.extra[self.name] = {"mode": "paper" if state is None else "shared-cache"}
        with adapters.active(self.name) as model:
            if state is None:
                state = encode_answered(model, batch, self.name)
            return query_yes_probability(state, batch.model.tokenizer)
