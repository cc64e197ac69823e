"""`calib-eval score` without a language model, when stored samples are all it needs.

The sampling family (calib_eval.scorers.family) reads only the k samples a
run stored with each item, so rescoring them loads no LM: a `SamplesOnlyModel`
stands in, carrying the identity of the model that generated the samples
(from the results.json beside the items file, when there is one).
"""
from __future__ import annotations

import json
from dataclasses import dataclass
from pathlib import Path
from typing import Any


@dataclass(frozen=True)
class SamplesOnlyModel:
    name: str
    source: str
    fingerprint: str | None
    device: str = "cpu"
    dtype: str = "n/a"
    model: Any = None  # no LM: scorers that need one are never run with this
    tokenizer: Any = None


def needs_language_model(rows: list[dict], scorer_names, adapters: dict, equivalence: str = "grader") -> bool:
    """False when every scorer reads stored samples only, every row has them, and the LM is not the judge."""
    from calib_eval.scorers import SCORERS

    from_samples = all(getattr(SCORERS.get(n), "from_samples", False) for n in scorer_names)
    judged = equivalence == "judge"
    return bool(adapters) or judged or not from_samples or not all(r.get("samples") for r in rows)


def stored_identity(items_path: Path) -> SamplesOnlyModel:
    """Who generated the samples, as the run's results.json says; 'unknown' without one."""
    results = Path(items_path).with_name("results.json")
    model = {}
    if results.is_file():
        try:
            model = json.loads(results.read_text()).get("model", {}) or {}
        except (OSError, ValueError):
            model = {}
    return SamplesOnlyModel(name=model.get("name", "unknown"),
                            source=f"stored samples in {items_path} (model {model.get('source', 'unknown')})",
                            fingerprint=model.get("fingerprint"))
