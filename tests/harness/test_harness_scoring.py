"""process_results, aggregations and the lazy P(True) request, without a model."""
from __future__ import annotations

import math

import numpy as np
import pytest
from lm_eval.api.instance import Instance

from calib_eval import metrics
from calib_eval.harness import scoring
from calib_eval.harness.instances import PENDING, cut_at_stop, query_context, query_pair
from calib_eval.prompts import QUERY_NO, QUERY_YES, UNCERTAINTY_QUERY


def test_ptrue_is_two_way_softmax():
    assert scoring.ptrue(-2.0, -2.0) == pytest.approx(0.5)
    ll_no, ll_yes = -3.0, -1.0
    assert scoring.ptrue(ll_no, ll_yes) == pytest.approx(math.exp(ll_yes) / (math.exp(ll_yes) + math.exp(ll_no)))
    assert scoring.ptrue(0.0, -800.0) == pytest.approx(0.0) and scoring.ptrue(-800.0, 0.0) == 1.0  # no overflow


def test_max_softmax():
    conf, best = scoring.max_softmax([-1.0, -0.5, -3.0, -2.0])
    p = np.exp([-1.0, -0.5, -3.0, -2.0])
    assert best == 1 and conf == pytest.approx(p[1] / p.sum())


def test_aggregations_use_calib_eval_metrics():
    rng = np.random.default_rng(0)
    conf, correct = rng.uniform(size=50), rng.uniform(size=50) < 0.6
    items = list(zip(conf.tolist(), correct.tolist()))
    assert scoring.ece(items) == pytest.approx(metrics.expected_calibration_error(conf, correct, n_bins=10))
    assert scoring.auroc(items) == pytest.approx(metrics.roc_auc(conf, correct))
    assert scoring.brier(items) == pytest.approx(metrics.brier_score(conf, correct))


def test_auroc_one_class_is_nan_with_warning():
    with pytest.warns(metrics.UndefinedMetricWarning):
        assert math.isnan(scoring.auroc([(0.2, False), (0.9, False)]))


def _doc(**kw):
    doc = {"calib_task": "medqa_ood_calib", "id": "x", "task": "medqa", "question": "q", "references": ["b"],
           "choices": ["a", "b", "c"], "answer_index": 1, "answer_kind": "choice", "metadata": "{}",
           "prompt": "Q:", "continuations": [" A", " B", " C"], "answerable": True}
    return doc | kw


def test_process_choice_scores_max_softmax_over_the_options():
    out = scoring.process_choice(_doc(), [(-2.0, False), (-0.1, True), (-3.0, False)])
    conf, correct = out["calib_ece"]
    assert correct is True and out["calib_acc"] == 1.0 and conf > 0.5
    assert out["calib_auroc"] == out["calib_brier"] == (conf, correct)


def test_process_generate_grades_the_answer_before_the_stop():
    doc = _doc(calib_task="mmlu_oe_calib", answer_kind="open", choices=[], answer_index=-1, references=["Paris"])
    right = scoring.process_generate(doc, [" Paris\nQuestion: more", (-2.0, False), (-1.0, False)])
    wrong = scoring.process_generate(doc, [" Lyon", (-1.0, False), (-2.0, False)])
    assert right["calib_ece"] == (pytest.approx(scoring.ptrue(-2.0, -1.0)), True)
    assert wrong["calib_acc"] == 0.0 and wrong["calib_ece"][0] < 0.5


def test_process_selfaware_adds_answerable_pair():
    doc = _doc(calib_task="selfaware_calib", answer_kind="unanswerable", choices=[], answer_index=-1,
               references=[], answerable=False)
    out = scoring.process_selfaware(doc, [" It is unknown.", (-1.0, False), (-1.0, False)])
    assert out["calib_acc"] == 1.0  # abstaining is right on an unanswerable question
    assert out["calib_answerable_auroc"] == (pytest.approx(0.5), False)


def _generation(context="Question: 2+2?\nAnswer:"):
    return Instance(request_type="generate_until", doc={}, arguments=(context, {"until": ["\n"]}), idx=0,
                    metadata=("t", 0, 1))


def test_query_args_are_built_from_the_generated_answer():
    gen = _generation()
    no, yes = query_pair(gen, QUERY_NO, QUERY_YES, ["\n"], metadata=("t", 0, 1))
    assert (no.idx, yes.idx) == (1, 2) and no.arguments == (PENDING, QUERY_NO)
    gen.resps.append(" 4\nQuestion: next")  # a backend that did not cut at the stop
    context = "Question: 2+2?\nAnswer: 4" + UNCERTAINTY_QUERY
    assert no.args == (context, QUERY_NO) and yes.args == (context, QUERY_YES)
    assert query_context("P", " a") == "P a" + UNCERTAINTY_QUERY


def test_query_args_before_generation_raise_a_clear_error():
    (no, _yes) = query_pair(_generation(), QUERY_NO, QUERY_YES, ["\n"], metadata=("mmlu_oe_calib", 0, 1))
    with pytest.raises(RuntimeError, match="before its generate_until"):
        _ = no.args


def test_query_instance_pickles_with_its_generation():
    import pickle

    gen = _generation()
    pair = query_pair(gen, QUERY_NO, QUERY_YES, ["\n"], metadata=("t", 0, 1))
    gen2, no2, _ = pickle.loads(pickle.dumps([gen, *pair]))  # what --cache_requests does
    assert no2.answer_of is gen2
    gen2.resps.append(" 4")
    assert no2.args[0].endswith(UNCERTAINTY_QUERY)


def test_cut_at_stop():
    assert cut_at_stop(" a\nb", ["\n"]) == " a"
    assert cut_at_stop(" a.b", ["", "."]) == " a"
    assert cut_at_stop("abc", []) == "abc"


def test_ece_recal_is_the_shared_recalibration_of_the_confidence():
    from calib_eval.metrics.recalibration import crossfit_recalibrate

    rng = np.random.default_rng(0)
    conf = rng.beta(8, 2, 200)  # overconfident P(True)
    correct = rng.random(200) < conf ** 3
    items = list(zip(conf.tolist(), correct.tolist()))
    expect = metrics.expected_calibration_error(crossfit_recalibrate(conf, correct, True), correct)
    assert scoring.ece_recal(items) == pytest.approx(expect)
    assert scoring.ece_recal(items) < scoring.ece(items)  # the map removes the overconfidence
    assert math.isnan(scoring.ece_recal([(0.9, True)] * 5 + [(0.2, False)]))  # one wrong item: no cross-fit
