"""An LLM judge beside the rule grader: does a model's answer mean the reference?

Optional and slow (one greedy generation per item), so it never labels items;
`calib-eval run --judge MODEL` records how often it agrees with the rule grader
(raw agreement and Cohen's kappa) in the results file, with the judge's name and
prompt, as a check on the rule labels. Any causal LM loads as a judge; small
ones agree with chance, which the kappa shows.
"""
from __future__ import annotations

import re
from dataclasses import dataclass
from typing import Sequence

import numpy as np

JUDGE_PROMPT = (
    "You are grading a student's answer against the reference answer.\n"
    "Question: {question}\n"
    "Reference answer: {reference}\n"
    "Student's answer: {answer}\n"
    "Does the student's answer mean the same as the reference answer? Reply with Yes or No.\n"
    "Reply:"
)
MAX_NEW_TOKENS = 4
_VERDICT = re.compile(r"\b(yes|no|correct|incorrect)\b", re.IGNORECASE)


@dataclass(frozen=True)
class JudgeItem:
    question: str
    references: tuple[str, ...]
    answer: str


def judge_prompt(item: JudgeItem) -> str:
    reference = " / ".join(item.references) if item.references else "(none: the question has no known answer)"
    return JUDGE_PROMPT.format(question=item.question.strip(), reference=reference, answer=item.answer.strip())


def parse_verdict(text: str) -> bool | None:
    """The judge's first yes/no word (or correct/incorrect); None when it gave neither."""
    m = _VERDICT.search(text)
    return None if m is None else m.group(1).lower() in ("yes", "correct")


def judge_answers(loaded, items: Sequence[JudgeItem], batch_size: int = 8) -> list[bool | None]:
    """Greedy verdicts of a loaded model (calib_eval.models.LoadedModel), in item order."""
    from calib_eval.inference.decode import greedy_decode
    from calib_eval.inference.state import encode_batch
    from calib_eval.inference.tokens import bos_ids, encode_text

    tok = loaded.tokenizer
    pad = tok.pad_token_id if tok.pad_token_id is not None else tok.eos_token_id
    verdicts: list[bool | None] = []
    for start in range(0, len(items), batch_size):
        rows = [bos_ids(tok) + encode_text(tok, judge_prompt(it)) for it in items[start:start + batch_size]]
        state = encode_batch(loaded.model, [], rows, pad)
        out = greedy_decode(state, tok, MAX_NEW_TOKENS, ("\n",), stop_after_text=True)
        verdicts.extend(parse_verdict(t) for t in out.texts)
    return verdicts


def cohen_kappa(a: Sequence[bool], b: Sequence[bool]) -> float:
    """Cohen's kappa of two binary labelings; NaN when chance agreement is 1 (both constant and equal)."""
    x, y = np.asarray(a, bool), np.asarray(b, bool)
    if x.shape != y.shape or x.ndim != 1 or x.size == 0:
        raise ValueError(f"cohen_kappa needs two non-empty 1-d label lists of one length, got {x.shape}, {y.shape}")
    observed = float(np.mean(x == y))
    px, py = float(x.mean()), float(y.mean())
    chance = px * py + (1 - px) * (1 - py)
    return float("nan") if chance == 1.0 else (observed - chance) / (1 - chance)


def agreement(rule: Sequence[bool], judge: Sequence[bool | None]) -> dict:
    """Raw agreement and Cohen's kappa over the items the judge gave a verdict on."""
    if len(rule) != len(judge):
        raise ValueError(f"{len(rule)} rule labels but {len(judge)} judge verdicts")
    pairs = [(r, j) for r, j in zip(rule, judge) if j is not None]
    out = {"n": len(rule), "n_judged": len(pairs), "raw_agreement": None, "cohen_kappa": None,
           "judge_accuracy": None}
    if pairs:
        r, j = zip(*pairs)
        kappa = cohen_kappa(r, j)
        out.update(raw_agreement=float(np.mean(np.equal(r, j))), judge_accuracy=float(np.mean(j)),
                   cohen_kappa=None if np.isnan(kappa) else kappa)
    return out


def judge_items(rows: Sequence[dict]) -> list[JudgeItem]:
    """Runner rows (items.jsonl) as judge items."""
    return [JudgeItem(r["question"], tuple(r.get("reference") or ()), r["answer"]) for r in rows]


def run_report(judge_name: str, judge_model, rows: Sequence[dict], batch_size: int = 8) -> dict:
    """What a results file records: the judge, its prompt, and its agreement with the rule grader."""
    verdicts = judge_answers(judge_model, judge_items(rows), batch_size)
    return {"model": judge_name, "source": judge_model.source, "prompt": JUDGE_PROMPT,
            "agreement_with_rule_grader": agreement([bool(r["correct"]) for r in rows], verdicts)}


def load_judge(name: str, config, loaded):
    """The run's own model when the judge is that model, else the judge loaded once per process."""
    if name == config.model:
        return loaded
    return _load(name, config.device, config.dtype)


_LOADED: dict[tuple, object] = {}  # judge models by (name, device, dtype): loaded once per run, not per task


def _load(name: str, device: str, dtype: str):
    from calib_eval.models import load_model

    key = (name, device, dtype)
    if key not in _LOADED:
        _LOADED[key] = load_model(name, device, dtype)
    return _LOADED[key]


def report_for_run(config, loaded, rows: Sequence[dict]) -> dict:
    """The runner's call (config.judge names the judge model): {"judge": run_report(...)}."""
    return {"judge": run_report(config.judge, load_judge(config.judge, config, loaded), rows, config.batch_size)}
