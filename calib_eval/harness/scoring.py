"""`process_results` and corpus-level aggregations for the calib tasks.

Per item, every calibration metric gets the same ``(confidence, correct)``
pair; the aggregation turns the whole list into one corpus number with
:mod:`calib_eval.metrics`, so ECE/AUROC are pooled over all items (a group
would only average per-task numbers). Names carry a ``calib_`` prefix so they
cannot clash with lm-eval's own metrics (an upstream PR adds ``ece``).
"""
from __future__ import annotations

import math
from typing import Any, Sequence

import numpy as np

from calib_eval.harness.datasets import doc_to_example
from calib_eval.harness.instances import cut_at_stop
from calib_eval.metrics import (
    average_precision,
    brier_score,
    equal_mass_ece,
    expected_calibration_error,
    log_loss,
    prediction_rejection_ratio,
    rms_calibration_error,
    roc_auc,
    selective_accuracy,
    smooth_ece,
)
from calib_eval.metrics.recalibration import crossfit_recalibrate
from calib_eval.task_specs import get_task

N_BINS = 10
Pair = tuple[float, bool]


def ptrue(ll_no: float, ll_yes: float) -> float:
    """Two-way softmax of the query answers: P(yes) / (P(no) + P(yes)) = sigmoid(ll_yes - ll_no)."""
    d = ll_yes - ll_no
    if d >= 0:  # the two branches keep exp() from overflowing
        return 1.0 / (1.0 + math.exp(-d))
    e = math.exp(d)
    return e / (1.0 + e)


def max_softmax(lls: Sequence[float]) -> tuple[float, int]:
    """(max option probability, argmax) of a softmax over option log-likelihoods."""
    x = np.asarray(lls, dtype=np.float64)
    p = np.exp(x - x.max())
    p /= p.sum()
    best = int(np.argmax(x))
    return float(p[best]), best


# issue #15 metrics; each needs a metric_list entry in tasks/_calib_*.yaml and selfaware_calib.yaml
# calib_ece_recal (issue #12): ECE after the shared cross-fitted recalibration, comparable across scorers
EXTENDED = ("calib_prr", "calib_auprc_err", "calib_auprc_correct", "calib_nll", "calib_ece_em", "calib_rms_ce",
            "calib_smece", "calib_sel_acc_50", "calib_sel_acc_80", "calib_sel_acc_90", "calib_ece_recal")


def _calib(conf: float, correct: bool) -> dict[str, Any]:
    pair = (float(conf), bool(correct))
    out = {"calib_acc": float(correct), "calib_ece": pair, "calib_auroc": pair, "calib_brier": pair}
    return {**out, **dict.fromkeys(EXTENDED, pair), **dict.fromkeys(plugin_metric_names(), pair)}


def plugin_metric_names() -> list[str]:
    """lm-eval names of the installed plugin metrics (calib_eval.metrics.registry): calib_<name>."""
    from calib_eval.metrics.registry import METRICS

    return [f"calib_{name}" for name in METRICS.names()]


class PluginAggregation:
    """lm-eval aggregation of one plugin metric over the (confidence, correct) pairs of all items.

    The confidence is a probability (P(True) or the top option's softmax), so it
    feeds metrics of either input kind. A class, not a lambda: lm-eval prints
    every aggregation into its results config (``repr`` here).
    """

    def __init__(self, name: str) -> None:
        self.name = name

    def __call__(self, items: Sequence[Pair]) -> float:
        from calib_eval.metrics.registry import METRICS

        return float(METRICS.get(self.name).fn(*_arrays(items)))

    def __repr__(self) -> str:
        return f"calib_eval plugin metric {self.name!r}"


def plugin_metric_list() -> list[dict[str, Any]]:
    """metric_list entries for the installed plugin metrics, appended to every calib task's own."""
    from calib_eval.metrics.registry import METRICS

    return [{"metric": f"calib_{name}", "aggregation": PluginAggregation(name),
             "higher_is_better": metric.higher_is_better} for name, metric in METRICS.items()]


def process_generate(doc: dict, results: list) -> dict[str, Any]:
    """results = [generated text, (ll of " i", greedy), (ll of " ii", greedy)]."""
    text, (ll_no, _), (ll_yes, _) = results[:3]
    spec = get_task(doc["calib_task"])
    answer = cut_at_stop(text, spec.stop)
    correct, _detail = spec.grade(doc_to_example(doc), answer)  # the runner grades the same way
    return _calib(ptrue(ll_no, ll_yes), correct)


def process_selfaware(doc: dict, results: list) -> dict[str, Any]:
    """Like :func:`process_generate`, plus confidence vs the answerable label."""
    out = process_generate(doc, results)
    conf, _ = out["calib_ece"]
    out["calib_answerable_auroc"] = (conf, bool(doc["answerable"]))
    return out


def process_choice(doc: dict, results: list) -> dict[str, Any]:
    """results = [(ll, greedy) per continuation]."""
    lls = [r[0] for r in results[: len(doc["continuations"])]]
    conf, pred = max_softmax(lls)
    return _calib(conf, pred == doc["answer_index"])


def _arrays(items: Sequence[Pair]) -> tuple[np.ndarray, np.ndarray]:
    conf = np.array([c for c, _ in items], dtype=np.float64)
    correct = np.array([bool(k) for _, k in items], dtype=bool)
    return conf, correct


def ece(items: Sequence[Pair]) -> float:
    """ECE, 10 equal-width bins on P(correct) (calib_eval.metrics defaults)."""
    return float(expected_calibration_error(*_arrays(items), n_bins=N_BINS))


def ece_recal(items: Sequence[Pair]) -> float:
    """ECE after the shared recalibration, as in results files' ``ece``; calib_ece is ECE as produced.

    The confidence (P(True), or the top option's softmax) is Platt-mapped on
    its logit, 2-fold label-stratified cross-fit (calib_eval.metrics.recalibration),
    so it compares with any other scorer's recalibrated ECE. NaN when a class
    has fewer than 2 items.
    """
    conf, correct = _arrays(items)
    probs = crossfit_recalibrate(conf, correct, is_probability=True)
    return float("nan") if probs is None else float(expected_calibration_error(probs, correct, n_bins=N_BINS))


def auroc(items: Sequence[Pair]) -> float:
    """AUROC of confidence for the label; NaN (with a warning) when one class only."""
    return float(roc_auc(*_arrays(items)))


def brier(items: Sequence[Pair]) -> float:
    return float(brier_score(*_arrays(items)))


def prr(items: Sequence[Pair]) -> float:
    """Prediction-rejection ratio of confidence for correctness; NaN (with a warning) when one class only."""
    return float(prediction_rejection_ratio(*_arrays(items)))


def auprc_err(items: Sequence[Pair]) -> float:
    """Average precision of low confidence at finding the wrong answers."""
    return float(average_precision(*_arrays(items), positive="error"))


def auprc_correct(items: Sequence[Pair]) -> float:
    return float(average_precision(*_arrays(items), positive="correct"))


def nll(items: Sequence[Pair]) -> float:
    return float(log_loss(*_arrays(items)))


def ece_em(items: Sequence[Pair]) -> float:
    """Equal-mass (adaptive) ECE, 10 equal-count bins."""
    return float(equal_mass_ece(*_arrays(items), n_bins=N_BINS))


def rms_ce(items: Sequence[Pair]) -> float:
    """RMS calibration error, 10 equal-width bins."""
    return float(rms_calibration_error(*_arrays(items), n_bins=N_BINS))


def smece(items: Sequence[Pair]) -> float:
    """Smooth ECE (Błasiok & Nakkiran 2023), fixed-point bandwidth."""
    return float(smooth_ece(*_arrays(items)))


def sel_acc_50(items: Sequence[Pair]) -> float:
    """Accuracy on the 50% most confident items."""
    return float(selective_accuracy(*_arrays(items), coverage=0.5))


def sel_acc_80(items: Sequence[Pair]) -> float:
    return float(selective_accuracy(*_arrays(items), coverage=0.8))


def sel_acc_90(items: Sequence[Pair]) -> float:
    return float(selective_accuracy(*_arrays(items), coverage=0.9))
