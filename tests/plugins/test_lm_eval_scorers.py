"""--metadata '{"scorers": ...}' inside lm-eval: which scorers can run there, and the per-doc metric values."""
from __future__ import annotations

import math

import pytest

from calib_eval.errors import CalibEvalError, UnknownNameError
from calib_eval.harness import plugin_scorers


class _Asks:
    is_probability = True
    lm_eval_queries = (("\nQ:", " no"), ("\nQ:", " yes"))

    def from_loglikelihoods(self, lls):
        return 1 / (1 + math.exp(lls[0] - lls[1]))


class _Raw(_Asks):
    is_probability = False
    lm_eval_queries = (("\nR:", " x"),)

    def from_loglikelihoods(self, lls):
        return lls[0]


def test_nothing_asked_adds_nothing():
    assert plugin_scorers.requested(None, "t") == [] and plugin_scorers.requested({"data_root": "x"}, "t") == []


def test_a_scorer_that_needs_model_states_is_refused_with_the_route_that_works():
    with pytest.raises(CalibEvalError, match=r"calib-eval score --generations samples_my_task_\*\.jsonl "
                                             r"--scorers perplexity"):
        plugin_scorers.requested({"scorers": "perplexity"}, "my_task")
    with pytest.raises(UnknownNameError, match="Did you mean 'perplexity'"):
        plugin_scorers.requested({"scorers": ["perplexit"]}, "my_task")


def test_metrics_split_the_query_results_per_scorer_in_request_order():
    scorers = [("asks", _Asks()), ("raw", _Raw())]
    names = {e["metric"] for e in plugin_scorers.metric_list(scorers)}
    assert names == {"calib_asks_auroc", "calib_asks_ece_recal", "calib_asks_ece", "calib_asks_brier",
                     "calib_raw_auroc", "calib_raw_ece_recal"}  # no ECE/Brier of a raw score as produced
    out = plugin_scorers.metrics(scorers, [(-2.0, False), (-1.0, True), (-7.5, False)], correct=True)
    assert set(out) == names
    assert out["calib_asks_ece"] == (pytest.approx(1 / (1 + math.exp(-1.0))), True)
    assert out["calib_raw_auroc"] == (-7.5, True)
