"""MMLU (Hendrycks et al.): 57 subjects, 4 choices, headerless CSV per subject.

Offline layout: ``<root>/mmlu/{dev,val,test}/<subject>_<split>.csv`` with rows
``question, A, B, C, D, answer letter``. Hub: ``cais/mmlu`` config ``all``
(question, subject, choices, answer int). Ids: ``mmlu/<split>/<subject>/<row>``
with the 0-based row inside the subject's file, equal for both origins.
"""
from __future__ import annotations

from pathlib import Path
from typing import Any, Iterable

from calib_eval.data.files import read_csv_rows
from calib_eval.data.sources import check_opts, hub_rows, is_hub_id, local_path
from calib_eval.errors import DataError, unknown_name
from calib_eval.types import Example

NAME = "mmlu"
HUB_ID = "cais/mmlu"
LETTERS = ("A", "B", "C", "D")
SPLITS = ("dev", "val", "test")
_ALIASES = {"validation": "val", "valid": "val"}
_HUB_SPLITS = {"dev": "dev", "val": "validation", "test": "test"}


def _split(split: str) -> str:
    s = _ALIASES.get(split, split)
    if s not in SPLITS:
        raise DataError(f"mmlu: unknown split {split!r}; known splits: {', '.join(SPLITS)} (or 'validation')")
    return s


def make_example(subject: str, split: str, row: int, question: str, choices: list[str], answer: int,
                 source: str) -> Example:
    return Example(
        id=f"mmlu/{split}/{subject}/{row}", task=NAME, question=question,
        references=(choices[answer],), choices=tuple(choices), answer_index=answer, answer_kind="choice",
        metadata={"subject": subject, "split": split, "source": source},
    )


def _split_files(path: Path, split: str) -> list[Path]:
    """CSV files of a split: a single file, a split folder, or the folder above the split folders."""
    if path.is_file():
        return [path]
    folder = path / split if (path / split).is_dir() else path
    files = sorted(folder.glob(f"*_{split}.csv"))
    if not files:
        raise DataError(f"mmlu: no {split} files in {folder}; expected {path}/{split}/<subject>_{split}.csv files "
                        "(headerless CSV: question, A, B, C, D, answer letter)")
    return files


def _subject(path: Path, split: str) -> str:
    return path.name.removesuffix(".csv").removesuffix(f"_{split}")


def _check_subjects(wanted: set[str] | None, known: set[str]) -> None:
    for name in sorted(wanted or ()):
        if name not in known:
            raise unknown_name("MMLU subject", name, known)


def _read_file(path: Path, split: str) -> list[Example]:
    subject = _subject(path, split)
    out = []
    for i, (line, f) in enumerate(read_csv_rows(path, 6)):
        letter = f[5].strip()
        if letter not in LETTERS:
            raise DataError(f"{path}, line {line}: answer {f[5]!r} is not one of A, B, C, D")
        out.append(make_example(subject, split, i, f[0], f[1:5], LETTERS.index(letter), str(path)))
    return out


def _from_hub(hub_id: str, split: str, config: str | None) -> list[Example]:
    rows = hub_rows(hub_id, config or "all", _HUB_SPLITS[split], NAME)
    seen: dict[str, int] = {}
    out = []
    for r in rows:
        subject = r["subject"]
        seen[subject] = seen.get(subject, -1) + 1
        out.append(make_example(subject, split, seen[subject], r["question"], list(r["choices"]),
                                int(r["answer"]), hub_id))
    return out


def load(source: str | Path | None = None, split: str = "test", limit: int | None = None,
         data_root: str | Path | None = None, subjects: Iterable[str] | None = None,
         **opts: Any) -> list[Example]:
    """MMLU examples of one split, subjects in alphabetical order, rows in file order."""
    check_opts(NAME, opts, ("subjects",))
    split = _split(split)
    wanted = set(subjects) if subjects is not None else None
    if is_hub_id(source):
        examples = _from_hub(str(source), split, opts.get("hub_config"))
        _check_subjects(wanted, {e.metadata["subject"] for e in examples})
        examples = [e for e in examples if wanted is None or e.metadata["subject"] in wanted]
    else:
        files = _split_files(local_path(source, data_root, NAME), split)
        _check_subjects(wanted, {_subject(f, split) for f in files})
        files = [f for f in files if wanted is None or _subject(f, split) in wanted]
        examples = [e for f in files for e in _read_file(f, split)]
    return examples if limit is None else examples[:limit]


def subjects(source: str | Path | None = None, data_root: str | Path | None = None, split: str = "test") -> list[str]:
    """Sorted subject names present in a split."""
    split = _split(split)
    if is_hub_id(source):
        return sorted({e.metadata["subject"] for e in _from_hub(str(source), split, None)})
    files = _split_files(local_path(source, data_root, NAME), split)
    return sorted(_subject(f, split) for f in files)


def few_shot(subject: str, k: int = 5, source: str | Path | None = None,
             data_root: str | Path | None = None) -> list[Example]:
    """The first ``k`` dev examples of a subject, for the 5-shot prompt."""
    return load(source, split="dev", data_root=data_root, subjects=[subject])[:k]
