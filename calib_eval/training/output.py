"""Write an adapter folder the runner (calib_eval.adapters) and any PEFT tool can load.

    <output>/adapter_config.json, adapter_model.safetensors   (PEFT, when the method has a LoRA)
    <output>/probe_head.safetensors                           (when it has a probe head)
    <output>/heldout_scores.jsonl                             (per held-out item: id, correct, scores)
    <output>/train_losses.json                                (the loss curve, one [step, loss] per step)
    <output>/calib_card.json                                  (what the runner reads)
"""
from __future__ import annotations

import json
import os
import shutil
from pathlib import Path

from calib_eval.adapters import CARD, HEAD_FILE
from calib_eval.training.errors import OutputExistsError, TrainingError

HELDOUT_FILE = "heldout_scores.jsonl"


def prepare_output(output: str | Path, overwrite: bool = False, resume: bool = False) -> Path:
    """Check (and with overwrite, clear) the output folder before any work is done."""
    if not str(output):
        raise TrainingError("an output folder is required (--output adapters/<name>)")
    path = Path(output)
    if path.exists() and not path.is_dir():
        raise OutputExistsError(f"{path} exists and is not a folder")
    if path.is_dir() and any(path.iterdir()):
        if resume:
            return path
        if not overwrite:
            raise OutputExistsError(f"output folder {path} already exists; pass --overwrite to replace it "
                                    f"or --resume to continue its checkpoint")
        if not ((path / CARD).exists() or (path / "checkpoint").exists()):
            raise OutputExistsError(f"{path} is not an adapter folder (no {CARD}); refusing to delete it")
        shutil.rmtree(path)
    path.mkdir(parents=True, exist_ok=True)
    return path


def write_adapter(path: Path, card: dict, peft_model=None, head=None, lora_state: dict | None = None,
                  head_state: dict | None = None) -> Path:
    """Weights first, the card last (a folder with a card is complete).

    `lora_state` / `head_state`: the gathered LoRA weights / head state dict
    when sharded training (FSDP) left each process only a shard of them.
    """
    from safetensors.torch import save_file

    path.mkdir(parents=True, exist_ok=True)
    if peft_model is not None:
        peft_model.save_pretrained(str(path), **({"state_dict": lora_state} if lora_state is not None else {}))
    if head is not None:
        state = head_state if head_state is not None else head.state_dict()
        save_file({k: v.detach().cpu().contiguous() for k, v in state.items()}, str(path / HEAD_FILE))
    full = {
        "has_lora": peft_model is not None,
        "head": HEAD_FILE if head is not None else None,
        "head_input_size": getattr(head, "input_size", None),
        "head_hidden": list(getattr(head, "hidden", ())) or None,
        "temperature": None,
        **card,
    }
    tmp = path / (CARD + ".tmp")
    tmp.write_text(json.dumps(full, indent=2, sort_keys=True, default=str))
    os.replace(tmp, path / CARD)
    shutil.rmtree(path / "checkpoint", ignore_errors=True)
    return path


def write_heldout_scores(path: Path, holdout, scores: dict[str, list[float]]) -> Path | None:
    """One row per held-out example: its id, source, grade and every scorer's score (written before the card)."""
    from calib_eval.results import write_jsonl_atomic

    if not holdout or not scores:
        return None
    wrong = {name: len(v) for name, v in scores.items() if len(v) != len(holdout)}
    if wrong:
        raise TrainingError(f"held-out scores do not match the {len(holdout)} held-out examples: {wrong}")
    rows = [{"id": g.id, "source": g.source, "correct": bool(g.correct),
             "scores": {name: float(v[i]) for name, v in scores.items()}} for i, g in enumerate(holdout)]
    write_jsonl_atomic(path / HELDOUT_FILE, rows)
    return path / HELDOUT_FILE


def read_heldout_scores(folder: str | Path) -> dict[str, dict]:
    """id -> row of an adapter folder's heldout_scores.jsonl ({} when the folder has none)."""
    from calib_eval.results import read_jsonl

    path = Path(folder) / HELDOUT_FILE
    return {row["id"]: row for _, row in read_jsonl(path, "held-out scores")} if path.is_file() else {}
