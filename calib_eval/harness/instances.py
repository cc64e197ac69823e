"""A loglikelihood request whose context is the model's own, not-yet-generated answer.

lm-eval builds every request before running any, and its HF model returns only
text from ``generate_until``. The P(True) query needs that text, so its
``args`` are computed when the model asks for them: the evaluator runs request
types in the order they were first queued (``generate_until`` first, because a
generate task queues its generation before its queries), and nothing reads
``args`` earlier (request caching pickles the Instance, ``--use_cache`` hashes
``args`` at call time). If the order is ever broken, ``args`` raises instead of
scoring a query about a missing answer.
"""
from __future__ import annotations

from dataclasses import dataclass, field
from typing import Sequence

from lm_eval.api.instance import Instance

from calib_eval.prompts import UNCERTAINTY_QUERY
from calib_eval.task_specs import cut_at_stop  # noqa: F401  (re-exported for the harness)

PENDING = "<calib-eval: built from the generated answer at run time>"

ORDER_HELP = (
    "lm-eval ran the P(True) loglikelihood requests of {task} before its generate_until requests. "
    "lm-eval runs request types in the order they are first queued, so a task that queues only "
    "log-likelihoods (e.g. a non-calib multiple-choice task) listed before {task} breaks this. "
    "List the generate calib tasks (mmlu_oe_calib, selfaware_calib, bioasq_ood_calib) first in "
    "--tasks, or run them in a separate lm_eval call."
)


def query_context(prompt: str, answer: str, query: str = UNCERTAINTY_QUERY) -> str:
    """A query about ``answer``: Kapoor et al.'s uncertainty query (DESIGN.md s.2) unless a scorer brings its own.

    Trailing whitespace of the answer is dropped, as the runner drops trailing
    whitespace-only tokens, so both paths ask about the same text.
    """
    return f"{prompt}{answer.rstrip()}{query}"


@dataclass(eq=False)
class QueryInstance(Instance):
    """``loglikelihood`` of ``continuation`` after the query about ``answer_of``'s answer."""

    answer_of: Instance | None = field(default=None, repr=False)  # the sibling generate_until
    continuation: str = ""
    stop: tuple[str, ...] = ("\n",)
    query: str = UNCERTAINTY_QUERY  # the text after the answer (a plugin scorer's own question)

    @property
    def args(self) -> tuple[str, str]:
        source = self.answer_of
        if source is None or not source.resps:
            raise RuntimeError(ORDER_HELP.format(task=self.task_name))
        prompt = source.arguments[0]
        answer = cut_at_stop(source.resps[0], self.stop)
        return query_context(prompt, answer, self.query), self.continuation


def query_pair(generation: Instance, no: str, yes: str, stop: Sequence[str], **kwargs) -> list[QueryInstance]:
    """The two P(True) requests for one generation: idx 1 -> ``no``, idx 2 -> ``yes``."""
    return [
        QueryInstance(request_type="loglikelihood", doc=generation.doc, arguments=(PENDING, cont), idx=i,
                      answer_of=generation, continuation=cont, stop=tuple(stop), **kwargs)
        for i, cont in ((1, no), (2, yes))
    ]


def scorer_queries(generation: Instance, queries: Sequence[tuple[str, str]], stop: Sequence[str], first_idx: int,
                   **kwargs) -> list[QueryInstance]:
    """A plugin scorer's (query, continuation) requests about one generation, idx first_idx, first_idx + 1, ..."""
    return [
        QueryInstance(request_type="loglikelihood", doc=generation.doc, arguments=(PENDING, cont), idx=first_idx + i,
                      answer_of=generation, continuation=cont, stop=tuple(stop), query=query, **kwargs)
        for i, (query, cont) in enumerate(queries)
    ]
