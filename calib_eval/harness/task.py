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

from calib_eval.harness import plugin_scorers
from calib_eval.harness.instances import query_pair, scorer_queries
from calib_eval.prompts import QUERY_NO, QUERY_YES

ANCHOR_CONTEXT = "Answer:"
ANCHOR_KWARGS = {"until": ["\n"], "max_gen_toks": 1, "do_sample": False}
ANCHOR_IDX = 1_000_000  # sorts after the option requests, so process_results sees them first


# lm-eval versions this glue was tested on; pyproject pins the same range. The glue reads
# lm-eval internals (request types run in first-queued order, TaskFactory passing `config`),
# so an untested version fails here, loudly, instead of scoring the wrong requests.
TESTED_LM_EVAL = ((0, 4, 13), (0, 5, 0))  # [low, high)
UNTESTED_ENV = "CALIB_EVAL_ALLOW_UNTESTED_LM_EVAL"


def check_lm_eval_version(version: str | None = None) -> None:
    import os
    import re

    import lm_eval

    version = version or getattr(lm_eval, "__version__", "0")
    parts = tuple(int(x) for x in re.findall(r"\d+", version)[:3])
    low, high = TESTED_LM_EVAL
    if not low <= parts < high and os.environ.get(UNTESTED_ENV) != "1":
        raise RuntimeError(f"calib-eval's lm-eval tasks are tested on lm-eval >={'.'.join(map(str, low))},"
                           f"<{'.'.join(map(str, high))}; this is {version}. Install a tested version "
                           f"(pip install 'lm-eval>=0.4.13,<0.5'), or set {UNTESTED_ENV}=1 to try anyway.")


def check_request_options(task: str, num_fewshot: int | None, apply_chat_template: bool,
                          system_instruction: str | None = None) -> None:
    """Refuse lm-eval options the calib tasks cannot honour, instead of ignoring them silently."""
    if num_fewshot:
        raise ValueError(f"{task}: --num_fewshot {num_fewshot} is not applied to calib tasks: their few-shot header "
                         "is part of the prompt, so `calib-eval run` and lm-eval read the same text (MMLU: 5 dev "
                         "shots; task files: `fewshot: {count: N}`). Drop --num_fewshot (or pass 0).")
    if apply_chat_template:
        raise ValueError(f"{task}: --apply_chat_template is not supported by calib tasks: the P(True) query would "
                         "land inside the assistant turn while `calib-eval run` scores the plain prompt, so the two "
                         "paths would silently differ. Run without --apply_chat_template.")
    if system_instruction:
        raise ValueError(f"{task}: --system_instruction is not supported by calib tasks: it would precede the prompt "
                         "lm-eval scores but not the one `calib-eval run` scores. Put an instruction in the task "
                         "file (`instruction:`) instead.")


class _CalibTask(ConfigurableTask):
    """Accepts the YAML config as is: lm-eval passes the ``class`` key along, TaskConfig rejects it."""

    def __init__(self, config: dict[str, Any] | None = None, **kwargs: Any) -> None:
        from calib_eval.harness.scoring import plugin_metric_list

        check_lm_eval_version()
        config = {k: v for k, v in (config or {}).items() if k != "class"}
        # --metadata '{"scorers": ...}': extra scorers that run on lm-eval's requests (harness.plugin_scorers)
        self._scorers = plugin_scorers.requested(config.get("metadata"), config.get("task", "?"))
        if self._scorers and config.get("output_type") != "generate_until":
            raise ValueError(f"{config.get('task')}: --metadata scorers applies to the generate calib tasks; a "
                             "multiple-choice calib task reports max-softmax. Run choice tasks in their own lm_eval call.")
        # installed calib_eval.metrics plugins and extra scorers: process_results emits them, so they need an aggregation
        config["metric_list"] = [*(config.get("metric_list") or []), *plugin_metric_list(),
                                 *plugin_scorers.metric_list(self._scorers)]
        super().__init__(config=config, **kwargs)

    def build_all_requests(self, **kwargs: Any) -> None:
        check_request_options(self.config.task, self.config.num_fewshot, bool(kwargs.get("apply_chat_template")),
                              kwargs.get("system_instruction"))
        super().build_all_requests(**kwargs)


class GenerateCalibTask(_CalibTask):
    """Open-ended answer + P(True) query; the YAML sets ``output_type: generate_until``."""

    def construct_requests(self, doc: dict, ctx: Any, **kwargs: Any) -> list[Instance]:
        generation = super().construct_requests(doc, ctx, **kwargs)
        if not isinstance(generation, Instance) or generation.request_type != "generate_until":
            raise ValueError(f"{self.config.task}: GenerateCalibTask needs output_type: generate_until")
        stop = generation.arguments[1].get("until") or []
        stop = [stop] if isinstance(stop, str) else list(stop)
        requests = [generation, *query_pair(generation, QUERY_NO, QUERY_YES, stop, metadata=kwargs["metadata"])]
        extra = [q for _, scorer in self._scorers for q in scorer.lm_eval_queries]
        return requests + scorer_queries(generation, extra, stop, len(requests), metadata=kwargs["metadata"])

    def process_results(self, doc: dict, results: list) -> dict:
        # results: the answer, the two P(True) log-likelihoods, then the extra scorers' queries in order
        out = super().process_results(doc, results[:3])
        if self._scorers:
            out.update(plugin_scorers.metrics(self._scorers, results[3:], out["calib_ece"][1]))
        return out


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
