"""BioASQ Task b golden batches (biomedical QA; the UA-CLM out-of-distribution set).

Upstream JSON: ``questions[]`` with id, body, type (yesno | factoid | list |
summary), exact_answer and ideal_answer. Offline layout:
``<root>/bioasq/12B{1,2,3}_golden.json``. There is no canonical hub copy (BioASQ
terms require registration), so only local files load. Ids: ``bioasq/<batch>/<id>``.
References: yesno -> the yes/no word; factoid -> all synonyms flattened; list ->
all items' synonyms flattened (nested list kept in metadata); summary -> the
ideal answers, graded by ROUGE-L.
"""
from __future__ import annotations

from pathlib import Path
from typing import Any, Iterable

from calib_eval.data.files import read_json
from calib_eval.data.sources import Row, check_opts, is_hub_id, local_path
from calib_eval.errors import DataError, unknown_name
from calib_eval.types import Example

NAME = "bioasq"
_LAYOUT = "<root>/bioasq/<batch>_golden.json files (BioASQ JSON with a 'questions' list), e.g. 12B1_golden.json"


def _flatten(answer: Any) -> list[str]:
    """Synonym lists (or lists of lists) -> unique strings in order."""
    items = answer if isinstance(answer, list) else [answer]
    flat: list[str] = []
    for item in items:
        for s in (item if isinstance(item, list) else [item]):
            if isinstance(s, str) and s.strip() and s.strip() not in flat:
                flat.append(s.strip())
    return flat


def _ideal(row: Row) -> list[str]:
    ideal = row.get("ideal_answer") or []
    return [ideal] if isinstance(ideal, str) else [str(s) for s in ideal]


def to_example(row: Row, batch: str, source: str = "") -> Example:
    qtype = row["type"]
    meta = {"type": qtype, "batch": batch, "split": batch, "source": source, "ideal_answer": _ideal(row),
            "snippets": [s.get("text", "") for s in row.get("snippets") or []]}
    common = dict(id=f"bioasq/{batch}/{row['id']}", task=NAME, question=row["body"].strip(), metadata=meta)
    if qtype == "yesno":
        word = _flatten(row["exact_answer"])[0].lower()
        if word not in ("yes", "no"):
            raise DataError(f"yes/no question {row['id']} has exact_answer {word!r}")
        return Example(**common, references=(word,), choices=("yes", "no"),
                       answer_index=("yes", "no").index(word), answer_kind="yesno")
    if qtype in ("factoid", "list"):
        meta["exact_answer"] = row["exact_answer"]
        return Example(**common, references=tuple(_flatten(row["exact_answer"])), answer_kind="open")
    if qtype == "summary":
        return Example(**common, references=tuple(meta["ideal_answer"]), answer_kind="summary")
    raise DataError(f"question {row.get('id')} has unknown type {qtype!r} (expected yesno, factoid, list, summary)")


def batch_files(path: Path) -> dict[str, Path]:
    """Batch name -> file, sorted by name; a folder must hold ``*_golden.json`` (or any ``*.json``)."""
    if path.is_file():
        return {path.stem.removesuffix("_golden"): path}
    files = sorted(path.glob("*_golden.json")) or sorted(path.glob("*.json"))
    if not files:
        raise DataError(f"bioasq: no golden files in {path}; expected {_LAYOUT}")
    return {f.stem.removesuffix("_golden"): f for f in files}


def _read_batch(batch: str, path: Path) -> list[Example]:
    data = read_json(path)
    if not isinstance(data, dict) or not isinstance(data.get("questions"), list):
        raise DataError(f"{path}: expected a JSON object with a 'questions' list (BioASQ golden format)")
    out = []
    for i, row in enumerate(data["questions"]):
        try:
            out.append(to_example(row, batch, str(path)))
        except (KeyError, IndexError, TypeError, AttributeError, DataError) as e:
            raise DataError(f"{path}, question {i + 1}: malformed ({type(e).__name__}: {e})") from None
    return out


def load(source: str | Path | None = None, split: str = "all", limit: int | None = None,
         data_root: str | Path | None = None, batches: Iterable[str] | None = None,
         **opts: Any) -> list[Example]:
    """Questions of the chosen batches (default: all, sorted by batch name), file order within a batch."""
    check_opts(NAME, opts, ("batches",))
    if is_hub_id(source):
        raise DataError(f"bioasq: no hub copy is supported ({source!r}); BioASQ data needs registration at "
                        f"bioasq.org. Download the golden files and pass the folder; expected {_LAYOUT}")
    files = batch_files(local_path(source, data_root, NAME))
    wanted = list(batches) if batches is not None else ([split] if split != "all" else list(files))
    for b in wanted:
        if b not in files:
            raise unknown_name("BioASQ batch", b, files)
    examples = [e for b in sorted(wanted) for e in _read_batch(b, files[b])]
    return examples if limit is None else examples[:limit]
