"""Reading upstream files with errors that name the file and the position."""
from __future__ import annotations

import csv
import json
from pathlib import Path
from typing import Any, Iterator

from calib_eval.errors import DataError

# keys under which upstream JSON files keep their list of records
_LIST_KEYS = ("data", "Data", "example", "questions", "rows")


def read_json(path: Path) -> Any:
    """Parse one JSON file; a syntax error names the file, line and column."""
    try:
        with open(path, encoding="utf-8") as f:
            return json.load(f)
    except json.JSONDecodeError as e:
        raise DataError(f"{path}: invalid JSON at line {e.lineno}, column {e.colno} (char {e.pos}): {e.msg}") from None
    except OSError as e:
        raise DataError(f"{path}: cannot read file ({e.strerror or e})") from None


def read_jsonl(path: Path) -> list[dict[str, Any]]:
    """Parse JSON Lines; blank lines are skipped, a bad line is named by number."""
    rows: list[dict[str, Any]] = []
    try:
        with open(path, encoding="utf-8") as f:
            for lineno, line in enumerate(f, start=1):
                if not line.strip():
                    continue
                try:
                    rows.append(json.loads(line))
                except json.JSONDecodeError as e:
                    raise DataError(f"{path}, line {lineno}: invalid JSON at column {e.colno}: {e.msg}") from None
    except OSError as e:
        raise DataError(f"{path}: cannot read file ({e.strerror or e})") from None
    return rows


def read_records(path: Path) -> list[dict[str, Any]]:
    """Rows of a .jsonl file, a JSON list, or a JSON object holding the list under a usual key."""
    if path.suffix == ".jsonl":
        return read_jsonl(path)
    data = read_json(path)
    if isinstance(data, dict):
        for key in _LIST_KEYS:
            if isinstance(data.get(key), list):
                return data[key]
    if not isinstance(data, list):
        raise DataError(f"{path}: expected a JSON list of records (or an object with one of {_LIST_KEYS}), "
                        f"found {type(data).__name__}")
    return data


def read_csv_rows(path: Path, ncols: int) -> Iterator[tuple[int, list[str]]]:
    """Yield (line number where the record starts, fields) of a headerless CSV; wrong widths raise."""
    try:
        with open(path, encoding="utf-8", newline="") as f:
            reader = csv.reader(f)
            start = 1
            for fields in reader:
                if len(fields) != ncols:
                    raise DataError(f"{path}, line {start}: expected {ncols} columns, found {len(fields)}")
                yield start, fields
                start = reader.line_num + 1
    except csv.Error as e:
        raise DataError(f"{path}: malformed CSV: {e}") from None
    except OSError as e:
        raise DataError(f"{path}: cannot read file ({e.strerror or e})") from None


def find_file(folder: Path, stems: tuple[str, ...], extensions: tuple[str, ...], expected: str) -> Path:
    """First existing folder/stem+ext; otherwise a DataError describing the expected layout."""
    for stem in stems:
        for ext in extensions:
            path = folder / f"{stem}{ext}"
            if path.is_file():
                return path
    tried = ", ".join(f"{s}{e}" for s in stems for e in extensions)
    raise DataError(f"No data file in {folder} (looked for {tried}); expected {expected}")
