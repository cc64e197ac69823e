"""Where a loader's rows come from: a local path, the offline copy, or the hub.

A ``source`` is either a local file/folder in the upstream format, a Hugging
Face dataset id (``owner/name``, used when no such local path exists), or None
for the offline copy at ``<data root>/<folder>/``. Whatever the origin, rows go
through the same row -> Example function, so hub and local data agree.
"""
from __future__ import annotations

import re
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Callable, Iterable, Mapping, TypeVar

from calib_eval.errors import DataError, unknown_name
from calib_eval.data.files import find_file, read_records
from calib_eval.data.root import ENV_VAR, resolve_data_root

Row = Mapping[str, Any]
T = TypeVar("T")
_HUB_ID = re.compile(r"^[A-Za-z0-9][\w.-]*/[\w.-]+$")
_FILE_EXTS = (".json", ".jsonl", ".csv", ".parquet", ".txt", ".tsv")
COMMON_OPTS = ("hub_config",)


@dataclass(frozen=True)
class Spec:
    """How one data set is laid out offline and on the hub."""

    name: str  # task name, and the folder under the data root
    upstream: str  # the upstream source of the format (hub id or repository), for messages
    hub_config: str | None = None
    hub_splits: Mapping[str, str] = field(default_factory=dict)  # our split -> hub split
    file_stems: Mapping[str, tuple[str, ...]] = field(default_factory=dict)  # our split -> file stems
    extensions: tuple[str, ...] = (".jsonl", ".json")

    def stems(self, split: str) -> tuple[str, ...]:
        return self.file_stems.get(split, (split,))

    def layout(self, root: Path | str, split: str) -> str:
        stems, exts = self.stems(split), [e.lstrip(".") for e in self.extensions]
        stem = stems[0] if len(stems) == 1 else "{" + ",".join(stems) + "}"
        ext = exts[0] if len(exts) == 1 else "{" + ",".join(exts) + "}"
        return f"{root}/{self.name}/{stem}.{ext} in the upstream format of {self.upstream}"


def is_hub_id(source: str | Path | None) -> bool:
    """A string shaped like ``owner/name`` that is not an existing local path."""
    if source is None or isinstance(source, Path):
        return False
    s = str(source)
    return bool(_HUB_ID.match(s)) and not Path(s).expanduser().exists() and not s.endswith(_FILE_EXTS)


def offline_help(name: str) -> str:
    return (f"Offline options: pass --data-root DIR (data_root=DIR) or set {ENV_VAR}=DIR to a folder holding "
            f"{name}/ in the upstream format, or pass a local file or folder as the source.")


def hub_rows(hub_id: str, config: str | None, split: str, name: str) -> list[dict[str, Any]]:
    """Load a split with ``datasets.load_dataset``; any failure becomes a DataError with offline options."""
    try:
        import datasets
    except ImportError:
        raise DataError(f"Loading {hub_id!r} from the hub needs the 'datasets' package (pip install datasets). "
                        + offline_help(name)) from None
    args = (hub_id, config) if config else (hub_id,)
    try:
        ds = datasets.load_dataset(*args, split=split)
        return [dict(row) for row in ds]
    except Exception as e:  # noqa: BLE001 - network, auth, missing config: all end the same way for the user
        what = f"{hub_id!r}" + (f" (config {config!r}, split {split!r})" if config else f" (split {split!r})")
        local = Path(hub_id).resolve()
        raise DataError(f"Could not load {what} from the Hugging Face hub; the hub could not be reached or refused "
                        f"the request ({type(e).__name__}: {e}). No local path {local} exists either. "
                        + offline_help(name)) from e


def local_path(source: str | Path | None, data_root: str | Path | None, name: str) -> Path:
    """The local file/folder for a source: the path itself, or ``<data root>/<name>``."""
    if source is None:
        return resolve_data_root(data_root) / name
    path = Path(source).expanduser()
    if not path.exists():
        raise DataError(f"{name}: no such file or folder: {path.resolve()}. " + offline_help(name))
    return path


def load_rows(spec: Spec, source: str | Path | None, split: str, data_root: str | Path | None,
              hub_config: str | None = None) -> tuple[list[dict[str, Any]], str]:
    """Rows and a description of where they came from (for metadata and errors)."""
    if is_hub_id(source):
        hub_split = spec.hub_splits.get(split, split)
        return hub_rows(str(source), hub_config or spec.hub_config, hub_split, spec.name), str(source)
    path = local_path(source, data_root, spec.name)
    if path.is_dir():
        where = path if source is not None else path.parent
        path = find_file(path, spec.stems(split), spec.extensions, spec.layout(where, split) if source is None
                         else f"{path}/<split file> such as " + ", ".join(spec.stems(split)))
    elif source is None:
        raise DataError(f"{spec.name}: {path} is missing; expected {spec.layout(path.parent, split)}. "
                        + offline_help(spec.name))
    return read_records(path), str(path)


def build(rows: Iterable[Row], to_example: Callable[[Row, int], T], where: str,
          limit: int | None = None) -> list[T]:
    """Map rows to Examples (stopping at ``limit``); a bad row names its place and the problem."""
    out: list[T] = []
    for i, row in enumerate(rows):
        if limit is not None and len(out) >= limit:
            break
        try:
            out.append(to_example(row, i))
        except DataError as e:
            raise DataError(f"{where}, record {i + 1}: {e}") from None
        except (KeyError, IndexError, TypeError, ValueError, AttributeError) as e:
            raise DataError(f"{where}, record {i + 1}: malformed row ({type(e).__name__}: {e})") from None
    return out


def check_opts(name: str, opts: Mapping[str, Any], allowed: Iterable[str] = ()) -> None:
    """Reject options a loader does not know, with a did-you-mean."""
    known = set(allowed) | set(COMMON_OPTS)
    for key in opts:
        if key not in known:
            raise unknown_name(f"{name} loader option", key, known)


def check_split(name: str, split: str, known: Iterable[str]) -> None:
    known = list(known)
    if split not in known:
        raise DataError(f"{name}: unknown split {split!r}; known splits: {', '.join(known)}")


def letter_index(letter: str, labels: list[str] | tuple[str, ...]) -> int:
    """Index of an answer key among choice labels; a missing key is a DataError."""
    key = str(letter).strip()
    if key not in labels:
        raise DataError(f"answer key {key!r} is not one of the choice labels {list(labels)}")
    return list(labels).index(key)
