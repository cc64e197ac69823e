"""Where the offline copies of the data sets live.

Order of precedence (first hit wins):
1. an explicit argument (``--data-root``), which must exist;
2. the environment variable ``CALIB_EVAL_DATA``, which must exist;
3. ``./data`` relative to the current directory, if it is a folder;
4. ``../shared/data`` relative to the current directory, if it is a folder;
5. ``<repo>/../shared/data`` next to the source checkout, if it is a folder.
Explicit choices that point nowhere raise instead of silently falling back,
so a typo never evaluates on a different copy than the user meant.
"""
from __future__ import annotations

import os
from pathlib import Path

from calib_eval.errors import DataError

ENV_VAR = "CALIB_EVAL_DATA"
_HOW_TO = (
    f"Pass --data-root DIR (or data_root=DIR), or set {ENV_VAR}=DIR, to a folder "
    "holding one subfolder per data set (mmlu/, selfaware/, ...) in the upstream format."
)


def _candidates() -> list[Path]:
    repo = Path(__file__).resolve().parents[2]
    return [Path.cwd() / "data", Path.cwd().parent / "shared" / "data", repo.parent / "shared" / "data"]


def resolve_data_root(explicit: str | Path | None = None) -> Path:
    """Return the data root folder, or raise DataError naming every place looked."""
    if explicit is not None:
        path = Path(explicit).expanduser()
        if not path.is_dir():
            raise DataError(f"Data root {str(path)!r} (given explicitly) is not a folder. {_HOW_TO}")
        return path.resolve()
    env = os.environ.get(ENV_VAR)
    if env:
        path = Path(env).expanduser()
        if not path.is_dir():
            raise DataError(f"{ENV_VAR}={env!r} is not a folder. {_HOW_TO}")
        return path.resolve()
    looked = _candidates()
    for path in looked:
        if path.is_dir():
            return path.resolve()
    places = ", ".join(str(p) for p in looked)
    raise DataError(f"No data root found: {ENV_VAR} is not set and none of {places} exists. {_HOW_TO}")
