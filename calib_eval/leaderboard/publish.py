"""Atomic-ish publication: render into a private staging folder, then rename into place.

Everything slow (plots, rendering) happens in the staging folder, a hidden
sibling of the leaderboard on the same filesystem; only renames touch the live
folder, so an interrupted build leaves the previous README.md/index.html as
they were. `results/` (the history) and any other file in the folder, such as
models.yaml, are never touched by the swap.
"""
from __future__ import annotations

import os
import shutil
import tempfile
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

# swapped in this order: the pages that link the plots come last, so they never point at missing files
GENERATED = ("plots", "leaderboard.json", "index.html", "README.md")


@contextmanager
def staging_dir(out_dir: Path) -> Iterator[Path]:
    """A fresh hidden sibling of `out_dir`, removed afterwards whatever happens."""
    out_dir.parent.mkdir(parents=True, exist_ok=True)
    staging = Path(tempfile.mkdtemp(dir=out_dir.parent, prefix=f".{out_dir.name}.build-"))
    try:
        yield staging
    finally:
        shutil.rmtree(staging, ignore_errors=True)


def swap_in(staging: Path, out_dir: Path) -> list[Path]:
    """Move the generated artefacts from `staging` over those in `out_dir`."""
    out_dir.mkdir(parents=True, exist_ok=True)
    retired = staging / ".retired"  # old folders go here and die with the staging folder
    retired.mkdir()
    published = []
    for name in GENERATED:
        new, target = staging / name, out_dir / name
        if not new.exists():
            continue
        if new.is_dir():
            if target.exists():
                os.rename(target, retired / name)  # a folder cannot be replaced in one rename
            os.rename(new, target)
        else:
            os.replace(new, target)
        published.append(target)
    return published
