"""The lm-eval path and the calib-eval path agree on the same model, scorer and items."""
from __future__ import annotations

import json

import pytest

from calib_eval.metrics import expected_calibration_error, roc_auc
from calib_eval.runner import RunConfig, run
from calib_eval.runner.rescore import rescore

pytestmark = pytest.mark.filterwarnings("ignore::calib_eval.metrics.UndefinedMetricWarning")


@pytest.fixture(scope="module")
def opinionated_model_dir(tiny_lm, tmp_path_factory):
    """A tiny model with large random weights: its P(True) varies a lot between items."""
    from tiny_models import build_tiny_model

    folder = tmp_path_factory.mktemp("tiny-opinionated")
    _, tokenizer = tiny_lm
    build_tiny_model(len(tokenizer), seed=1, init_std=0.3).save_pretrained(folder)
    tokenizer.save_pretrained(folder)
    return folder


def _compare(samples: dict, rows: list[dict], lm_results: dict, tol: float) -> None:
    ours, theirs, correct = [], [], []
    for row in rows:
        conf, lm_correct = samples[row["id"]]["calib_ece"]
        assert lm_correct == row["correct"], row["id"]
        ours.append(row["scores"]["zero_shot_classifier"])
        theirs.append(conf)
        correct.append(row["correct"])
    assert ours == pytest.approx(theirs, abs=tol)
    assert max(theirs) - min(theirs) > 10 * tol  # the items differ far more than the paths do
    assert expected_calibration_error(ours, correct) == pytest.approx(lm_results["calib_ece,none"], abs=tol)
    if len(set(correct)) == 2:
        assert roc_auc(ours, correct) == pytest.approx(lm_results["calib_auroc,none"], abs=1e-9)


def test_scoring_lm_eval_generations_reproduces_lm_eval_confidences(opinionated_model_dir, run_lm_eval, data_root,
                                                                    tmp_path):
    """lm_eval --log_samples -> calib-eval score: same answers, same P(True), same ECE."""
    lm = run_lm_eval(opinionated_model_dir, ["mmlu_oe_calib"], limit=6, gen_kwargs="max_gen_toks=8")
    samples = lm["samples"]["mmlu_oe_calib"]
    log = tmp_path / "samples_mmlu_oe_calib_2026-11-23T00-00-00.000000.jsonl"
    log.write_text("".join(json.dumps(s, default=str) + "\n" for s in samples))
    config = RunConfig(model=str(opinionated_model_dir), scorers=("zero_shot_classifier",), output=str(tmp_path / "o"),
                       bootstrap=0, data_root=str(data_root))
    path = rescore(log, config)[0]
    rows = [json.loads(line) for line in (path.parent / "items.jsonl").read_text().splitlines()]
    _compare({s["doc"]["id"]: s for s in samples}, rows, lm["results"]["mmlu_oe_calib"], tol=1e-4)


@pytest.mark.slow
def test_lm_eval_and_runner_agree_on_the_default_model(run_lm_eval, data_root, tmp_path):
    """Full paths on SmolLM2: lm-eval generates + asks; calib-eval generates + extends its cache."""
    from calib_eval.models import resolve_model_source

    model_dir = resolve_model_source("default")
    lm = run_lm_eval(model_dir, ["mmlu_oe_calib"], limit=8, batch_size=8)
    path = run(RunConfig(model="default", tasks=("mmlu_oe_calib",), scorers=("zero_shot_classifier",), limit=8,
                         output=str(tmp_path), bootstrap=0, data_root=str(data_root)))[0]
    rows = [json.loads(line) for line in (path.parent / "items.jsonl").read_text().splitlines()]
    samples = {s["doc"]["id"]: s for s in lm["samples"]["mmlu_oe_calib"]}
    assert {r["id"] for r in rows} == set(samples)  # --limit N is the same N items on both paths
    _compare(samples, rows, lm["results"]["mmlu_oe_calib"], tol=2e-3)
