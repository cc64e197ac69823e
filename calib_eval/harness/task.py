"""lm-eval task classes (``class: !function calib_eval.harness.task.<Class>``).

Everything else (data, prompts, metrics) is YAML; the classes only change which
requests a doc turns into.

- :class:`GenerateCalibTask`: per doc, a greedy ``generate_until`` and then the
  two P(True) ``loglikelihood`` queries about the generated answer
  (:class:`~calib_eval.harness.instances.QueryInstance`, args built lazily).
- :class:`ChoiceCalibTask`: a standard ``multiple_choice`` task, plus one tiny
  ``generate_until`` "anchor" request queued before its first loglikelihood.
  lm-eval runs request types in the order they are first queued; the anchor
  keeps ``generate_until`` first when a choice calib task is listed before a
  generate calib task (``--tasks mmlu_mc_calib,mmlu_oe_calib``). It generates
  one token from a short fixed context, once per task (and rank); its text is
  the last result of the task's first doc and ``process_results`` drops it.
"""
from __future__ import annotations

from typing import Any

from lm_eval.api.instance import Instance
from lm_eval.api.task import ConfigurableTask

from calib_eval.harness.instances import query_pair
from calib_eval.prompts import QUERY_NO, QUERY_YES

ANCHOR_CONTEXT = "Answer:"
ANCHOR_KWARGS = {"until": ["\n"], "max_gen_toks": 1, "do_sample": False}
ANCHOR_IDX = 1_000_000  # sorts after the option requests, so process_results sees them first


class _CalibTask(ConfigurableTask):
    """Accepts the YAML config as is: lm-eval passes the ``class`` key along, TaskConfig rejects it."""

    def __init__(self, config: dict[str, Any] | None = None, **kwargs: Any) -> None:
        config = {k: v for k, v in (config or {}).items() if k != "class"}
        super().__init__(config=config, **kwargs)


class GenerateCalibTask(_CalibTask):
    """Open-ended answer + P(True) query; the YAML sets ``output_type: generate_until``."""

    def construct_requests(self, doc: dict, ctx: Any, **kwargs: Any) -> list[Instance]:
        generation = super().construct_requests(doc, ctx, **kwargs)
        if not isinstance(generation, Instance) or generation.request_type != "generate_until":
            raise ValueError(f"{self.config.task}: GenerateCalibTask needs output_type: generate_until")
        stop = generation.arguments[1].get("until") or []
        stop = [stop] if isinstance(stop, str) else list(stop)
        return [generation, *query_pair(generation, QUERY_NO, QUERY_YES, stop, metadata=kwargs["metadata"])]


class ChoiceCalibTask(_CalibTask):
    """Max-softmax over the options; the YAML sets ``output_type: multiple_choice``."""

    def build_all_requests(self, **kwargs: Any) -> None:
        self._anchor_pending = True  # one anchor per build (and per rank: each rank builds)
        super().build_all_requests(**kwargs)

    def construct_requests(self, doc: dict, ctx: Any, **kwargs: Any) -> list[Instance]:
        requests = super().construct_requests(doc, ctx, **kwargs)
        if getattr(self, "_anchor_pending", False):
            self._anchor_pending = False
            anchor = Instance(request_type="generate_until", doc=doc, idx=ANCHOR_IDX, metadata=kwargs["metadata"],
                              arguments=(ANCHOR_CONTEXT, dict(ANCHOR_KWARGS)))
            requests = [anchor, *requests]
        return requests

    def process_results(self, doc: dict, results: list) -> dict:
        # drop the anchor's text (sorted last by its idx), also for lm-eval's own paths (--predict_only)
        return super().process_results(doc, results[: len(self.doc_to_choice(doc))])
