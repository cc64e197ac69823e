"""The k sampled answers per item that every sampling-family scorer reads.

They are drawn once per batch (`ScoringBatch.sampled()`), stored with the
item in items.jsonl as ``row["samples"]`` (`SampleSet.to_json`), and read back
by `calib-eval score`, so each method can be recomputed without generating
again. The prompt is encoded once and forked k times (`PromptState.fork`:
the B*k sample rows read the prompt's keys/values, only their own answer
tokens are new), so k samples cost k decodes of the answer, not k encodes or
k copies of a 5-shot prompt. With `chunk` < k the rows are drawn c at a time,
bounding the live sample rows at B*c (see the memory bound in
calib_eval/inference/state.py); chunk = k draws them all at once.
"""
from __future__ import annotations

from dataclasses import dataclass

from calib_eval.errors import DataError


@dataclass(frozen=True)
class SampleSet:
    texts: tuple[str, ...]  # decoded sampled answers, as the greedy answer_raw (stop token cut)
    # log p of each whole sampled sequence (stop token included) under the sampling
    # distribution, and its length in tokens: what semantic entropy weighs samples by
    logprobs: tuple[float, ...]
    n_tokens: tuple[int, ...]
    temperature: float

    def __post_init__(self) -> None:
        if not self.texts or not len(self.texts) == len(self.logprobs) == len(self.n_tokens):
            raise DataError(f"samples need k >= 1 texts with one log-prob and length each, got "
                            f"{len(self.texts)} texts, {len(self.logprobs)} log-probs, {len(self.n_tokens)} lengths")

    @property
    def k(self) -> int:
        return len(self.texts)

    def to_json(self) -> dict:
        return {"texts": list(self.texts), "logprobs": list(self.logprobs), "n_tokens": list(self.n_tokens),
                "temperature": self.temperature}

    @classmethod
    def from_json(cls, raw: dict) -> "SampleSet":
        missing = [key for key in ("texts", "logprobs", "n_tokens", "temperature") if key not in raw]
        if missing:
            raise DataError(f"stored samples lack {', '.join(missing)}")
        return cls(tuple(str(t) for t in raw["texts"]), tuple(float(x) for x in raw["logprobs"]),
                   tuple(int(n) for n in raw["n_tokens"]), float(raw["temperature"]))


def draw_samples(batch, chunk: int | None = None) -> list[SampleSet]:
    """k answers per item at the configured temperature, decoded as the greedy answer was.

    `chunk` (default cfg.sampling_chunk, 0 = k) rows per item are decoded at
    a time. One generator (cfg.seed) serves every chunk, so chunk = k gives
    the samples the run has always drawn; a smaller chunk draws as valid but
    different ones.
    """
    import torch

    from calib_eval.inference.decode import greedy_decode

    if batch.model is None or getattr(batch.model, "model", None) is None:
        raise DataError("no stored samples for these items and no model to draw them with")
    cfg = batch.config
    k = cfg.sampling_k
    chunk = (cfg.sampling_chunk or k) if chunk is None else chunk
    if chunk < 1:
        raise DataError(f"sampling chunk must be >= 1, got {chunk}")
    prompt = batch.prompt_state()
    generator = torch.Generator(device=prompt.real_length.device).manual_seed(cfg.seed)
    drawn = [([], [], []) for _ in batch.items]
    for done in range(0, k, chunk):
        c = min(chunk, k - done)
        state = prompt.fork(repeats=c)  # (B*c) rows, item-major, reading the prompt's keys/values
        out = greedy_decode(state, batch.model.tokenizer, batch.max_new_tokens, batch.stop,
                            sample_temperature=cfg.sampling_temperature, generator=generator)
        for i, (texts, logprobs, lengths) in enumerate(drawn):
            texts += out.texts[i * c:(i + 1) * c]
            logprobs += out.sequence_logprobs[i * c:(i + 1) * c]
            lengths += out.sequence_lengths[i * c:(i + 1) * c]
    return [SampleSet(tuple(t), tuple(lp), tuple(n), cfg.sampling_temperature) for t, lp, n in drawn]
