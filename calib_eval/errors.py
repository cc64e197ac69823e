"""User-facing errors: every message names the problem and what to do."""
from __future__ import annotations

import difflib
from typing import Iterable


class CalibEvalError(Exception):
    """Base class; the CLI prints these as one clean message, no traceback."""


class DataError(CalibEvalError):
    """Missing or malformed data file."""


class UnknownNameError(CalibEvalError, KeyError):
    """Unknown task, scorer, dataset, model or method name."""

    def __str__(self) -> str:  # KeyError would quote the message
        return str(self.args[0]) if self.args else ""


class ConfigError(CalibEvalError, ValueError):
    """A setting out of range (e.g. limit 0): the CLI prints one line, code may still catch ValueError."""


class PluginError(CalibEvalError):
    """An installed plugin (entry point) failed to load, has the wrong type or clashes on a name."""


class ModelError(CalibEvalError):
    """Model could not be loaded, or an adapter does not fit the model."""


class ChecksumError(ModelError):
    """Downloaded model weights differ from the pinned size or sha256 (a changed or corrupted upload)."""


def unknown_name(kind: str, name: str, known: Iterable[str]) -> UnknownNameError:
    """Build a did-you-mean error for an unknown registry name."""
    known = sorted(known)
    close = difflib.get_close_matches(name, known, n=3, cutoff=0.5)
    hint = f" Did you mean {', '.join(repr(c) for c in close)}?" if close else ""
    return UnknownNameError(f"Unknown {kind} {name!r}.{hint} Known {kind}s: {', '.join(known)}.")


class ServerError(ModelError):
    """A model server (OpenAI-compatible engine) is unreachable, refuses, or keeps failing after retries."""
