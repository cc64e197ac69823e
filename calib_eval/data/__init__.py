"""Data loaders: one module per source, one registry of short names.

Every loader has the signature
``load(source=None, split=..., limit=None, data_root=None, **opts) -> list[Example]``
where ``source`` is a local file/folder in the upstream format, a Hugging Face
dataset id (``owner/name``), or None for the offline copy under the data root
(see :func:`resolve_data_root`).
"""
from __future__ import annotations

from typing import Any, Callable

from calib_eval.data import (anli, arc, bioasq, boolq, commonsense_qa, coqa, medqa, mmlu, openbookqa, pubmedqa,
                             selfaware, sciq, strategy_qa, trivia_qa)
from calib_eval.data.root import ENV_VAR, resolve_data_root
from calib_eval.registry import Registry
from calib_eval.types import Example

Loader = Callable[..., "list[Example]"]

DATASETS: Registry[Loader] = Registry("dataset")
for _name, _module in [
    ("mmlu", mmlu), ("selfaware", selfaware), ("bioasq", bioasq), ("pubmedqa", pubmedqa), ("medqa", medqa),
    ("arc_challenge", arc), ("commonsense_qa", commonsense_qa), ("strategy_qa", strategy_qa), ("anli", anli),
    ("boolq", boolq), ("openbookqa", openbookqa), ("coqa", coqa), ("trivia_qa", trivia_qa), ("sciq", sciq),
]:
    DATASETS.register(_name)(_module.load)

# the calibration-tuning training mix (Kapoor et al.): never MMLU
TRAINING_MIX = ("arc_challenge", "commonsense_qa", "strategy_qa", "anli", "boolq", "openbookqa")


def load_dataset(name: str, **kw: Any) -> list[Example]:
    """Load a registered data set by short name; unknown names get a did-you-mean."""
    return DATASETS.get(name)(**kw)


__all__ = ["DATASETS", "ENV_VAR", "TRAINING_MIX", "load_dataset", "resolve_data_root"]
