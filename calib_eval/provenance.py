"""What made a results file: code versions, and paths that do not leak this machine's layout.

`record()` is written into every results file (schema 2). `stale_reason()`
compares a file's grader and metrics versions with this code's: a file made by
an older grader or metric code is stale and the leaderboard re-runs it.
"""
from __future__ import annotations

import re
import subprocess
from functools import lru_cache
from importlib import metadata
from pathlib import Path

FIELDS = ("package_version", "git_commit", "git_dirty", "grader_version", "metrics_version", "item_ordering",
          "ece_convention", "torch_version", "transformers_version")
STALE = "grader/metrics version changed"
_PACKAGE_DIR = Path(__file__).resolve().parent
# an absolute POSIX path inside free text: starts the string or follows a space, bracket, quote or '='
_ABSOLUTE = re.compile(r"(?:(?<=^)|(?<=[\s(\['\"=]))/[^\s'\"()\[\],]+")


def record() -> dict:
    """This code's provenance block (git: None outside a git checkout, e.g. a wheel install)."""
    from calib_eval import __version__, task_specs
    from calib_eval.metrics.calibration import ECE_CONVENTION

    commit, dirty = git_state()
    return {"package_version": __version__, "git_commit": commit, "git_dirty": dirty,
            **current_versions(), "item_ordering": task_specs.ITEM_ORDERING,
            "ece_convention": ECE_CONVENTION,
            "torch_version": _installed("torch"), "transformers_version": _installed("transformers"),
            **plugins()}


_REGISTRIES = {"calib_eval.scorers.base": "SCORERS", "calib_eval.task_specs": "TASKS",
               "calib_eval.metrics.registry": "METRICS"}


def plugins() -> dict:
    """{"plugins": ["entry point ... of package NAME VERSION", ...]} when installed plugins extend a registry
    this process has imported (a run imports all three; nothing is imported here just to look); else {}."""
    import sys

    registries = [getattr(sys.modules[m], attr) for m, attr in _REGISTRIES.items() if m in sys.modules]
    found = sorted(where for registry in registries for where in registry.plugins().values())
    return {"plugins": found} if found else {}


def current_versions() -> dict:
    """The versions that decide staleness, as this code has them."""
    from calib_eval.grading import GRADER_VERSION
    from calib_eval.metrics import METRICS_VERSION

    return {"grader_version": GRADER_VERSION, "metrics_version": METRICS_VERSION}


def stale_reason(payload: dict) -> str | None:
    """'grader/metrics version changed (grader 1 -> 2)' when the file's versions differ or are unknown; else None."""
    recorded = payload.get("provenance") or {}
    changes = [f"{key.removesuffix('_version')} {recorded.get(key) or 'unknown'} -> {now}"
               for key, now in current_versions().items() if recorded.get(key) != now]
    return f"{STALE} ({', '.join(changes)})" if changes else None


def unknown() -> dict:
    """The provenance of a file written before schema 2: nothing known, so it reads as stale."""
    return dict.fromkeys(FIELDS)


@lru_cache(maxsize=1)
def git_state() -> tuple[str | None, bool | None]:
    """(commit, dirty) of the git checkout this package runs from; (None, None) when it is not one.

    Only a checkout whose top level holds this package counts (a wheel installed
    into a venv inside some other repository must not record that repository).
    Never raises: provenance must not fail a run.
    """
    top = _git("rev-parse", "--show-toplevel")
    if top is None or (Path(top).resolve() / _PACKAGE_DIR.name) != _PACKAGE_DIR:
        return None, None
    commit = _git("rev-parse", "HEAD")
    status = _git("status", "--porcelain", "--untracked-files=no")  # tracked changes only: runs/ etc. do not count
    return commit, (None if status is None else bool(status))


def _git(*args: str) -> str | None:
    try:
        done = subprocess.run(["git", *args], cwd=_PACKAGE_DIR, capture_output=True, text=True, timeout=5)
    except (OSError, subprocess.SubprocessError):
        return None
    return done.stdout.strip() if done.returncode == 0 else None


def _installed(distribution: str) -> str | None:
    try:
        return metadata.version(distribution)
    except metadata.PackageNotFoundError:
        return None


def portable_path(path: str) -> str:
    """An absolute local path as '~/…' or cwd-relative, else its last component; other strings unchanged.

    Hub ids ('org/name') and relative paths are not absolute and stay as given.
    """
    text = str(path)
    candidate = Path(text).expanduser()
    if not (text.startswith(("/", "~")) and candidate.is_absolute()):
        return text
    resolved = Path(_normalise(candidate))
    for base, prefix in ((Path.cwd(), ""), (Path.home(), "~/")):
        try:
            relative = resolved.relative_to(_normalise(base))
        except ValueError:
            continue
        return prefix + str(relative) if str(relative) != "." else (prefix.rstrip("/") or ".")
    return resolved.name or text


def portable_name(name: str) -> str:
    """A model name given as an absolute folder becomes the folder's name (what the leaderboard shows)."""
    text = str(name)
    return Path(text.rstrip("/")).name or text if text.startswith(("/", "~")) else text


def _normalise(path: Path) -> str:
    try:
        return str(path.resolve())
    except OSError:
        return str(path)


def portable(value):
    """`value` with every absolute path (whole strings and paths inside text) made portable; dicts/lists recursed."""
    if isinstance(value, dict):
        return {k: portable(v) for k, v in value.items()}
    if isinstance(value, (list, tuple)):
        return [portable(v) for v in value]
    if isinstance(value, str):
        return _ABSOLUTE.sub(lambda m: portable_path(m.group(0)), value)
    return value
