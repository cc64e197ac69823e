"""An NLI classifier (hub id or local folder) for semantic equivalence between answers.

Any `AutoModelForSequenceClassification` whose labels include one naming
entailment (``id2label`` such as {0: "contradiction", 1: "neutral",
2: "entailment"}, as microsoft/deberta-large-mnli has) will do. Loaded once
per (source, device) and kept for the process.
"""
from __future__ import annotations

from dataclasses import dataclass
from functools import lru_cache
from typing import Any

import numpy as np

from calib_eval.errors import CalibEvalError


@dataclass
class NliModel:
    model: Any
    tokenizer: Any
    entail_index: int
    source: str
    batch_size: int = 32

    def entailment(self, premises: list[str], hypotheses: list[str]) -> tuple[np.ndarray, np.ndarray]:
        """(P(entailment), entailment is the predicted label) per premise/hypothesis pair."""
        import torch

        probs, preds = [], []
        for start in range(0, len(premises), self.batch_size):
            enc = self.tokenizer(premises[start:start + self.batch_size], hypotheses[start:start + self.batch_size],
                                 return_tensors="pt", padding=True, truncation=True)
            enc = {k: v.to(self.model.device) for k, v in enc.items()}
            with torch.no_grad():
                logits = self.model(**enc).logits.float()  # (pairs, labels)
            probs.append(torch.softmax(logits, dim=-1)[:, self.entail_index].cpu().numpy())
            preds.append((logits.argmax(dim=-1) == self.entail_index).cpu().numpy())
        if not probs:
            return np.zeros(0), np.zeros(0, dtype=bool)
        return np.concatenate(probs).astype(np.float64), np.concatenate(preds)


def entailment_label(id2label: dict) -> int:
    """Index of the label that names entailment; a clear error when there is none."""
    hits = [int(i) for i, label in id2label.items() if "entail" in str(label).lower()]
    if len(hits) != 1:
        raise CalibEvalError(f"NLI model labels {dict(id2label)} do not name exactly one entailment label")
    return hits[0]


@lru_cache(maxsize=4)
def load_nli(source: str, device: str = "cpu") -> NliModel:
    from transformers import AutoModelForSequenceClassification, AutoTokenizer

    try:
        tokenizer = AutoTokenizer.from_pretrained(source)
        model = AutoModelForSequenceClassification.from_pretrained(source).to(device).eval()
    except (OSError, ValueError) as exc:
        raise CalibEvalError(f"cannot load NLI model {source!r} (a hub id in the local cache or a folder): {exc}") \
            from exc
    if tokenizer.pad_token is None:
        tokenizer.pad_token = tokenizer.eos_token or tokenizer.unk_token
    return NliModel(model, tokenizer, entailment_label(model.config.id2label), source)
