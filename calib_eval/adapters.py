"""Trained adapters as the runner uses them: load, check, switch.

An adapter folder (written by `calib-eval train`) holds a PEFT LoRA (when the
method has one), an optional probe head and `calib_card.json`:

    {"method": "calibration-tune", "scorer": "lora_prompt",
     "base_model": "...", "base_fingerprint": "...", "has_lora": true,
     "head": "probe_head.safetensors" | null, "head_hidden": [256,128,64],
     "temperature": null | float, ...}

All adapters sit on ONE copy of the base model (peft named adapters); base
scorers run with adapters disabled, so memory is one model plus small deltas.
"""
from __future__ import annotations

import contextlib
import json
from dataclasses import dataclass, field
from pathlib import Path
from typing import Iterator

from calib_eval.errors import ModelError

CARD = "calib_card.json"
HEAD_FILE = "probe_head.safetensors"


def read_card(folder: str | Path) -> dict:
    path = Path(folder) / CARD
    if not path.is_file():
        raise ModelError(f"{folder} is not a calib-eval adapter: {CARD} is missing")
    try:
        return json.loads(path.read_text())
    except json.JSONDecodeError as exc:
        raise ModelError(f"corrupt adapter card {path}: {exc}") from None


def check_base(card: dict, folder: str | Path, fingerprint: str, weights_fingerprint: str | None = None) -> None:
    """Refuse an adapter trained on another base model (its deltas mean nothing here).

    Cards record the dtype-independent weights fingerprint, so a float32-trained
    adapter runs on the same base loaded in bfloat16; older cards only have the
    dtype-specific fingerprint and need the base in the dtype they were trained in.
    """
    if card.get("base_weights_fingerprint") and weights_fingerprint:
        expected, got = card["base_weights_fingerprint"], weights_fingerprint
    else:
        expected, got = card.get("base_fingerprint"), fingerprint
    if expected and expected != got:
        hint = "" if card.get("base_weights_fingerprint") else (
            f"; this card predates dtype-independent fingerprints: if it is the same base, load it in the dtype it "
            f"was trained in ({card.get('base_dtype', 'float32')}) or retrain")
        raise ModelError(
            f"adapter {folder} was trained for base model {card.get('base_model')!r} "
            f"(fingerprint {expected}), but the loaded model has fingerprint {got}{hint}"
        )


def apply_card_temperature(p, card: dict):
    """P(correct) values rescaled by the card's temperature (unchanged when it has none)."""
    import numpy as np

    from calib_eval.metrics import apply_temperature

    t = card.get("temperature")
    if t is None:
        return p
    out = apply_temperature(np.asarray(p, dtype=float), float(t), is_probability=True)
    return out.tolist() if isinstance(p, list) else out


def load_head(folder: str | Path, card: dict):
    from safetensors.torch import load_file

    from calib_eval.heads import ProbeHead

    state = load_file(str(Path(folder) / card.get("head", HEAD_FILE)))
    head = ProbeHead(int(card["head_input_size"]), tuple(card.get("head_hidden", (256, 128, 64))))
    head.load_state_dict(state)
    return head.eval()


@dataclass
class AdapterSet:
    """Named adapters (keyed by the scorer that uses them) on one base model."""

    loaded: object  # LoadedModel; its .model becomes a PeftModel when LoRAs exist
    cards: dict[str, dict]
    folders: dict[str, str]
    heads: dict[str, object]
    # adapter name -> (prefix ids, KV cache of that prefix under the adapter): a LoRA changes keys and
    # values, so the base model's prefix cache cannot serve it, but consecutive batches of one subject can
    # share this one (the runner batches items by few-shot prefix)
    prefix_caches: dict = field(default_factory=dict)

    @classmethod
    def load(cls, loaded, adapters: dict[str, str]) -> "AdapterSet":
        fingerprint, weights = loaded.fingerprint, loaded.weights_fingerprint
        cards, heads, folders = {}, {}, {}
        for name, folder in adapters.items():
            card = read_card(folder)
            check_base(card, folder, fingerprint, weights)
            cards[name], folders[name] = card, str(folder)
            if card.get("head"):
                heads[name] = load_head(folder, card).to(loaded.device)
            if card.get("has_lora", True):
                _attach_lora(loaded, name, folder)
        return cls(loaded, cards, folders, heads)

    def has(self, name: str) -> bool:
        return name in self.cards

    @contextlib.contextmanager
    def active(self, name: str) -> Iterator[object]:
        """The model with adapter `name` switched on (plain base if it has no LoRA)."""
        model = self.loaded.model
        if not self.cards[name].get("has_lora", True):
            with self.base() as base:
                yield base
            return
        model.set_adapter(name)
        yield model

    def prefix_cache(self, name: str, model, prefix_ids: list[int]):
        """KV cache of `prefix_ids` under adapter `name` (`model` is it, switched on); one live prefix each."""
        from calib_eval.inference.state import encode_prefix

        if not prefix_ids:
            return None
        held = self.prefix_caches.get(name)
        if held is None or held[0] != list(prefix_ids):
            held = self.prefix_caches[name] = (list(prefix_ids), encode_prefix(model, prefix_ids))
        return held[1]

    @contextlib.contextmanager
    def base(self) -> Iterator[object]:
        model = self.loaded.model
        if hasattr(model, "disable_adapter"):
            with model.disable_adapter():
                yield model
        else:
            yield model


def _attach_lora(loaded, name: str, folder: str) -> None:
    from peft import PeftModel

    if isinstance(loaded.model, PeftModel):
        loaded.model.load_adapter(folder, adapter_name=name)
    else:
        loaded.model = PeftModel.from_pretrained(loaded.model, folder, adapter_name=name)
    loaded.model.eval()
