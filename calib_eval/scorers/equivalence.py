"""When do two sampled answers mean the same? One backend per way of telling.

- ``grader`` (default): the task's own grader. Two answers are equivalent
  when their normalised forms are equal, or the grader accepts either one as
  the answer with the other as the reference; for yes/no and choice items,
  when both commit to the same option; for free-text items, also when both
  abstain ("unknown", "I don't know"...). The grader is called, not copied,
  so changes to its rules flow in.
- ``nli:<hub id or folder>``: bidirectional entailment (Kuhn et al. 2023):
  equivalent when an NLI model predicts entailment both ways between
  "question answer_a" and "question answer_b".
- ``judge``: the evaluated LM itself is asked whether the two answers give
  the same answer (JUDGE_PROMPT); equivalent when its two-way P(yes) over
  " yes"/" no" exceeds 0.5 in both orders. Costs two short forwards per pair.

Each backend returns `Relations` over a list of texts: a boolean equivalence
matrix and a [0, 1] similarity matrix (the graph methods' edge weights: 0/1
for the grader, the mean of the two entailment (or judge's yes) probabilities).
Results record ``name`` so a reader knows which was used.
"""
from __future__ import annotations

from dataclasses import dataclass, replace
from typing import Callable

import numpy as np

from calib_eval import grading
from calib_eval.errors import CalibEvalError
from calib_eval.types import Example

YESNO = ("yes", "no", "maybe")


@dataclass(frozen=True)
class Relations:
    equivalent: np.ndarray  # (n, n) bool, symmetric, diagonal True
    similarity: np.ndarray  # (n, n) float in [0, 1], symmetric, diagonal 1


def committed_option(grade: Callable, example: Example, answer: str) -> int | None:
    """Index of the option (choice, or yes/no/maybe) the grader says this answer gives, if any."""
    if example.answer_kind == "choice" and example.choices:
        options = [replace(example, answer_index=i, references=(c,)) for i, c in enumerate(example.choices)]
    else:  # yesno: a reference word per verdict; keep a choice index only where the word is a choice
        options = [replace(example, references=(w,),
                           answer_index=example.choices.index(w) if w in example.choices else None)
                   for w in YESNO]
    return next((i for i, ex in enumerate(options) if grade(ex, answer)[0]), None)


def grader_equivalent(grade: Callable, example: Example, a: str, b: str) -> bool:
    """a and b are the same answer to `example` by the task's grader (see module doc)."""
    if grading.normalize_answer(a) == grading.normalize_answer(b):
        return True
    kind = example.answer_kind
    if kind == "yesno" or (kind == "choice" and example.choices):
        option = committed_option(grade, example, a)
        return option is not None and option == committed_option(grade, example, b)
    if kind in ("open", "unanswerable") and grading.match_abstention(a)[0] and grading.match_abstention(b)[0]:
        return True
    # an unanswerable item's grader only checks abstention: compare the answers as open ones
    base = replace(example, answer_kind="open") if kind == "unanswerable" else example
    return bool(grade(replace(base, references=(b,)), a)[0] or grade(replace(base, references=(a,)), b)[0])


class GraderEquivalence:
    name = "grader"

    def __init__(self, grade: Callable | None = None) -> None:
        self.grade = grade or grading.grade

    def relations(self, example: Example, texts: list[str]) -> Relations:
        n = len(texts)
        eq = np.eye(n, dtype=bool)
        for i in range(n):
            for j in range(i + 1, n):
                eq[i, j] = eq[j, i] = grader_equivalent(self.grade, example, texts[i], texts[j])
        return Relations(eq, eq.astype(np.float64))


class NliEquivalence:
    def __init__(self, source: str, device: str = "cpu") -> None:
        from calib_eval.nli import load_nli

        self.name = f"nli:{source}"
        self.nli = load_nli(source, device)

    def relations(self, example: Example, texts: list[str]) -> Relations:
        distinct = sorted({t.strip() for t in texts})
        index = {t: i for i, t in enumerate(distinct)}
        pairs = [(i, j) for i in range(len(distinct)) for j in range(len(distinct)) if i != j]
        q = example.question.strip()
        entail_p, entails = self.nli.entailment([f"{q} {distinct[i]}" for i, _ in pairs],
                                                [f"{q} {distinct[j]}" for _, j in pairs])
        m = len(distinct)
        prob, pred = np.eye(m), np.eye(m, dtype=bool)
        for (i, j), p, e in zip(pairs, entail_p, entails):
            prob[i, j], pred[i, j] = p, e
        eq_d = pred & pred.T  # entailment both ways
        sim_d = (prob + prob.T) / 2
        rows = [index[t.strip()] for t in texts]  # identical texts: equivalent, similarity 1
        return Relations(eq_d[np.ix_(rows, rows)], sim_d[np.ix_(rows, rows)])


JUDGE_PROMPT = ("Question: {question}\nAnswer 1: {a}\nAnswer 2: {b}\n"
                "Do answers 1 and 2 give the same answer to the question? Answer yes or no.\nAnswer:")


class JudgeEquivalence:
    """The evaluated LM as the judge: P(" yes") vs P(" no") after JUDGE_PROMPT, both orders."""

    name = "judge"
    rows_per_forward = 16

    def __init__(self, loaded) -> None:
        from calib_eval.inference.tokens import encode_text

        if loaded is None or getattr(loaded, "model", None) is None:
            raise CalibEvalError("semantic_equivalence 'judge' needs the evaluated model; none is loaded")
        self.loaded = loaded
        tok = loaded.tokenizer
        self.yes_no = (encode_text(tok, " yes")[0], encode_text(tok, " no")[0])

    def p_yes(self, prompts: list[str]) -> np.ndarray:
        import torch

        from calib_eval.inference.state import encode_batch
        from calib_eval.inference.tokens import encode_text

        tok, out = self.loaded.tokenizer, []
        for start in range(0, len(prompts), self.rows_per_forward):
            rows = [encode_text(tok, p) for p in prompts[start:start + self.rows_per_forward]]
            with torch.no_grad():
                logits = encode_batch(self.loaded.model, [], rows, tok.pad_token_id).last_logits.float()
            pair = logits[:, list(self.yes_no)]  # (rows, 2): yes, no
            out.append(torch.softmax(pair, dim=1)[:, 0].cpu().numpy())
        return np.concatenate(out).astype(np.float64) if out else np.zeros(0)

    def relations(self, example: Example, texts: list[str]) -> Relations:
        distinct = sorted({t.strip() for t in texts})
        pairs = [(i, j) for i in range(len(distinct)) for j in range(len(distinct)) if i != j]
        p = self.p_yes([JUDGE_PROMPT.format(question=example.question.strip(), a=distinct[i], b=distinct[j])
                        for i, j in pairs])
        prob = np.eye(len(distinct))
        for (i, j), value in zip(pairs, p):
            prob[i, j] = value
        sim = (prob + prob.T) / 2
        eq = (prob > 0.5) & (prob.T > 0.5)  # the judge says "same" in both orders
        rows = [{t: i for i, t in enumerate(distinct)}[t.strip()] for t in texts]
        return Relations(eq[np.ix_(rows, rows)], sim[np.ix_(rows, rows)])


def resolve_equivalence(spec: str, grade: Callable | None, loaded=None):
    """The backend a ``ScorerConfig.semantic_equivalence`` string names (validated there)."""
    kind, _, source = spec.partition(":")
    if kind == "judge":
        return JudgeEquivalence(loaded)
    if kind == "nli":
        device = str(getattr(loaded, "device", None) or "cpu")  # the LM's may be a device map: NLI is small
        return NliEquivalence(source, "cuda" if device.startswith("cuda") else "cpu")
    return GraderEquivalence(grade)
