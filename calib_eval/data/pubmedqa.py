"""PubMedQA labelled set (1,000 expert-labelled yes/no/maybe questions).

Offline: upstream ``ori_pqal.json``, a dict pubmed id -> QUESTION, CONTEXTS,
final_decision, LONG_ANSWER. Hub: ``qiaojin/PubMedQA`` config ``pqa_labeled``
(pubid, question, context{contexts}, long_answer, final_decision; one split
``train``). The abstract is kept in metadata ``context``; the question is the
question alone. Ids: ``pubmedqa/<pubid>``.
"""
from __future__ import annotations

from pathlib import Path
from typing import Any

from calib_eval.data.files import find_file, read_json, read_records
from calib_eval.data.sources import Row, build, check_opts, check_split, hub_rows, is_hub_id, local_path
from calib_eval.errors import DataError
from calib_eval.types import Example

NAME = "pubmedqa"
HUB_ID = "qiaojin/PubMedQA"
CHOICES = ("yes", "no", "maybe")


def to_example(row: Row, source: str = "") -> Example:
    """Either row style: upstream (QUESTION, CONTEXTS, ...) or hub (question, context, ...)."""
    if "QUESTION" in row:
        pubid, question, contexts = row["pubid"], row["QUESTION"], row["CONTEXTS"]
        long_answer, labels = row.get("LONG_ANSWER", ""), row.get("LABELS", [])
    else:
        ctx = row["context"]
        pubid, question, contexts = row["pubid"], row["question"], ctx["contexts"]
        long_answer, labels = row.get("long_answer", ""), ctx.get("labels", [])
    decision = str(row["final_decision"]).strip().lower()
    if decision not in CHOICES:
        raise DataError(f"final_decision {decision!r} is not one of {CHOICES}")
    return Example(
        id=f"pubmedqa/{pubid}", task=NAME, question=question, references=(decision,), choices=CHOICES,
        answer_index=CHOICES.index(decision), answer_kind="yesno",
        metadata={"context": "\n".join(contexts), "context_labels": list(labels), "long_answer": long_answer,
                  "split": "all", "source": source},
    )


def _local_rows(path: Path) -> tuple[list[dict[str, Any]], str]:
    if path.is_dir():
        path = find_file(path, ("ori_pqal",), (".json",), f"{path}/ori_pqal.json (upstream PubMedQA labelled set)")
    data = read_json(path) if path.suffix == ".json" else read_records(path)
    if isinstance(data, dict):  # upstream: pubid -> row
        return [{"pubid": k, **v} for k, v in data.items()], str(path)
    return list(data), str(path)


def load(source: str | Path | None = None, split: str = "all", limit: int | None = None,
         data_root: str | Path | None = None, **opts: Any) -> list[Example]:
    """The 1,000 labelled PubMedQA questions in file order."""
    check_opts(NAME, opts)
    check_split(NAME, split, ["all"])
    if is_hub_id(source):
        rows, where = hub_rows(str(source), opts.get("hub_config") or "pqa_labeled", "train", NAME), str(source)
    else:
        path = local_path(source, data_root, NAME)
        if source is None and not path.is_dir():
            raise DataError(f"pubmedqa: {path} is missing; expected {path}/ori_pqal.json (upstream PubMedQA)")
        rows, where = _local_rows(path)
    return build(rows, lambda r, i: to_example(r, where), where, limit)
