"""A task file runs under calib-eval and plain lm-eval with the same numbers; lm-eval's samples score the same.

Everything here is written by the test: a MedMCQA-style JSONL, a task file
pointing at it, and (for the samples route) a plain lm-eval YAML with no
calib-eval code at all. lm-eval itself writes the samples, on a tiny model.
"""
from __future__ import annotations

import json
import math
from pathlib import Path

import pytest
import torch

from calib_eval.metrics import expected_calibration_error, roc_auc
from calib_eval.runner import RunConfig, run

pytestmark = pytest.mark.filterwarnings("ignore::calib_eval.metrics.UndefinedMetricWarning")

N = 10


def _mc_rows(n: int = N) -> list[dict]:
    rows = []
    for i in range(n):
        a, b = 3 + i, 5 + 2 * i
        options = [str(a + b), str(a * b), str(a + b + 1), "none of these"]
        rows.append({"qid": f"q{i}", "question": f"What is {a} plus {b}?", "opa": options[0], "opb": options[1],
                     "opc": options[2], "opd": options[3], "cop": 1 + (i % 3), "subject": "ab"[i % 2]})
    return rows


def _write_jsonl(path, rows) -> None:
    path.write_text("".join(json.dumps(r) + "\n" for r in rows))


TASK_FILE = """task: {name}
class: !function calib_eval.harness.task_file.TaskFileTask
calib:
  data: {{path: items.jsonl}}
  columns: {{id: qid, question: question, choices: [opa, opb, opc, opd], label: cop, label_base: 1}}
  mode: choice
  grading: choice_letter
  instruction: Answer the arithmetic questions.
  prompt: "Question: {{question}}\\n{{choices}}\\nAnswer:"
  fewshot: {{count: 1, path: dev.jsonl, stratum: subject}}
"""


@pytest.fixture(scope="module")
def task_dir(tmp_path_factory):
    folder = tmp_path_factory.mktemp("my-tasks")
    _write_jsonl(folder / "items.jsonl", _mc_rows())
    _write_jsonl(folder / "dev.jsonl", [dict(r, qid=f"d{i}") for i, r in enumerate(_mc_rows(2))])
    (folder / "my_mc.yaml").write_text(TASK_FILE.format(name="my_mc_file"))
    return folder


@pytest.fixture(scope="module")
def opinionated_dir(tiny_lm, tmp_path_factory):
    """Large random weights: confidences vary between items, so agreement is not trivial."""
    from tiny_models import build_tiny_model

    folder = tmp_path_factory.mktemp("tiny-opinionated-tf")
    _, tokenizer = tiny_lm
    build_tiny_model(len(tokenizer), seed=3, init_std=0.3).save_pretrained(folder)
    tokenizer.save_pretrained(folder)
    return folder


def _lm_eval(model_dir, include, tasks, out_dir, **kwargs):
    import lm_eval
    from lm_eval.loggers import EvaluationTracker
    from lm_eval.tasks import TaskManager

    manager = TaskManager(include_path=str(include), include_defaults=False)
    result = lm_eval.simple_evaluate(model="hf", model_args=f"pretrained={model_dir},dtype=float32", tasks=tasks,
                                     batch_size=1, device="cpu", task_manager=manager, log_samples=True,
                                     bootstrap_iters=0, **kwargs)
    tracker = EvaluationTracker(output_path=str(out_dir))  # writes results_*.json and samples_*.jsonl as the CLI does
    samples = result.pop("samples")
    tracker.save_results_aggregated(results=result, samples=samples)
    for task in tasks:
        tracker.save_results_samples(task_name=task, samples=samples[task])
    return result, samples


@pytest.fixture(scope="module")
def runs(task_dir, opinionated_dir, tmp_path_factory):
    out = tmp_path_factory.mktemp("tf-runs")
    lm, samples = _lm_eval(opinionated_dir, task_dir, ["my_mc_file"], out / "lm")
    path = run(RunConfig(model=str(opinionated_dir), tasks=(str(task_dir / "my_mc.yaml"),),
                         scorers=("max_softmax", "zero_shot_classifier"), output=str(out / "ours"), bootstrap=0,
                         batch_size=4))[0]
    rows = [json.loads(line) for line in (path.parent / "items.jsonl").read_text().splitlines()]
    return {"lm": lm, "samples": samples["my_mc_file"], "rows": rows, "results": json.loads(path.read_text()),
            "out": out}


def test_task_file_runs_under_calib_eval_by_path_and_writes_under_its_name(runs):
    assert runs["results"]["task"] == "my_mc_file"
    assert len(runs["rows"]) == N
    assert {r["id"] for r in runs["rows"]} == {f"q{i}" for i in range(N)}


def test_lm_eval_and_calib_eval_agree_on_a_task_file(runs):
    by_id = {s["doc"]["id"]: s for s in runs["samples"]}
    assert set(by_id) == {r["id"] for r in runs["rows"]}
    ours = [r["scores"]["max_softmax"] for r in runs["rows"]]
    theirs = [by_id[r["id"]]["calib_ece"][0] for r in runs["rows"]]
    correct = [r["correct"] for r in runs["rows"]]
    assert [by_id[r["id"]]["calib_ece"][1] for r in runs["rows"]] == correct
    assert ours == pytest.approx(theirs, abs=1e-4)
    assert max(theirs) - min(theirs) > 0.01  # the items differ far more than the paths do
    lm = runs["lm"]["results"]["my_mc_file"]
    assert expected_calibration_error(ours, correct) == pytest.approx(lm["calib_ece,none"], abs=1e-4)
    if len(set(correct)) == 2:
        assert roc_auc(ours, correct) == pytest.approx(lm["calib_auroc,none"], abs=1e-9)
    # the same prompt on both paths: lm-eval's context is the spec's prompt, shots of the item's stratum included
    first = by_id["q0"]["arguments"]["gen_args_0"]["arg_0"] if isinstance(by_id["q0"]["arguments"], dict) \
        else by_id["q0"]["arguments"][0][0]
    assert first.startswith("Answer the arithmetic questions.\n\nQuestion: What is 3 plus 5?")


def test_lm_eval_samples_route_matches_calib_eval_run(runs, tmp_path):
    """lm_eval --log_samples on the task file -> calib-eval score --lm-eval-samples: the run's numbers."""
    from calib_eval.runner.lmeval_samples import score_lmeval_samples

    config = RunConfig(output=str(tmp_path), bootstrap=0)
    raw, norm = score_lmeval_samples(runs["out"] / "lm", config, scorers_asked=False)
    rows = {json.loads(line)["id"]: json.loads(line) for line in (raw.parent / "items.jsonl").read_text().splitlines()}
    for ours in runs["rows"]:
        assert rows[ours["id"]]["correct"] == ours["correct"]
        assert rows[ours["id"]]["scores"]["max_softmax"] == pytest.approx(ours["scores"]["max_softmax"], abs=1e-4)
    got, want = json.loads(raw.read_text()), runs["results"]
    assert got["scorers"]["max_softmax"]["ece"]["estimate"] == pytest.approx(
        want["scorers"]["max_softmax"]["ece"]["estimate"], abs=1e-4)
    assert got["accuracy"]["estimate"] == want["accuracy"]["estimate"]
    assert (raw.parent / "reliability_max_softmax.png").stat().st_size > 0
    assert json.loads(norm.read_text())["task"] == "my_mc_file_acc_norm"


def test_rescoring_choice_samples_asks_about_the_chosen_option_not_a_loglikelihood(runs, opinionated_dir, tmp_path):
    """The bug: option A's log-likelihood string ("-3.66") was taken as the answer of a choice task."""
    from calib_eval.runner.lmeval_samples import score_lmeval_samples

    config = RunConfig(model=str(opinionated_dir), scorers=("zero_shot_classifier",), output=str(tmp_path),
                       bootstrap=0)
    raw, _ = score_lmeval_samples(runs["out"] / "lm", config, scorers_asked=True)
    rows = {json.loads(line)["id"]: json.loads(line) for line in (raw.parent / "items.jsonl").read_text().splitlines()}
    for ours in runs["rows"]:
        assert rows[ours["id"]]["answer_raw"] in (" A", " B", " C", " D")
        assert rows[ours["id"]]["answer_raw"] == ours["answer_raw"]
        # P(True) about the same chosen option after the same prompt: the run's number
        assert rows[ours["id"]]["scores"]["zero_shot_classifier"] == pytest.approx(
            ours["scores"]["zero_shot_classifier"], abs=1e-4)
    assert not any(math.isnan(r["scores"]["zero_shot_classifier"]) for r in rows.values())


PLAIN_MC = """task: plain_mc
dataset_path: json
dataset_kwargs:
  data_files:
    test: {data}
test_split: test
output_type: multiple_choice
doc_to_text: "Question: {{{{question}}}}\\nAnswer:"
doc_to_choice: "{{{{[opa, opb, opc, opd]}}}}"
doc_to_target: "{{{{cop - 1}}}}"
metric_list:
  - metric: acc
  - metric: acc_norm
"""


def test_any_lm_eval_multiple_choice_task_scores_from_its_samples(task_dir, opinionated_dir, tmp_path):
    """A plain lm-eval task (no calib-eval code): acc and acc_norm reproduced, max-softmax from its log-likelihoods."""
    from calib_eval.runner.lmeval_samples import score_lmeval_samples

    plain = tmp_path / "plain"
    plain.mkdir()
    (plain / "plain_mc.yaml").write_text(PLAIN_MC.format(data=task_dir / "items.jsonl"))
    lm, samples = _lm_eval(opinionated_dir, plain, ["plain_mc"], tmp_path / "lm")
    raw, norm = score_lmeval_samples(tmp_path / "lm", RunConfig(output=str(tmp_path / "s"), bootstrap=0),
                                     scorers_asked=False)
    got_raw, got_norm = json.loads(raw.read_text()), json.loads(norm.read_text())
    assert got_raw["accuracy"]["estimate"] == pytest.approx(lm["results"]["plain_mc"]["acc,none"])
    assert got_norm["accuracy"]["estimate"] == pytest.approx(lm["results"]["plain_mc"]["acc_norm,none"])
    rows = [json.loads(line) for line in (raw.parent / "items.jsonl").read_text().splitlines()]
    for row, sample in zip(rows, samples["plain_mc"]):
        lls = [float(r[0]) for r in sample["filtered_resps"]]
        top = max(lls)
        assert row["scores"]["max_softmax"] == pytest.approx(1 / sum(math.exp(x - top) for x in lls), abs=1e-12)
        args = sample["arguments"]  # the tracker rewrote them as {"gen_args_i": {"arg_0": ctx, "arg_1": option}}
        assert row["answer_raw"] == args[f"gen_args_{lls.index(top)}"]["arg_1"]  # the chosen option, not "-3.66"


def test_score_generations_on_choice_samples_uses_the_chosen_option(runs, task_dir, opinionated_dir, tmp_path):
    """`calib-eval score --generations samples_<calib choice task>.jsonl`: same fix on the calib-task route."""
    from calib_eval.runner.rescore import rescore
    from calib_eval.task_specs import get_task

    get_task(str(task_dir / "my_mc.yaml"))
    [log] = sorted((runs["out"] / "lm").rglob("samples_my_mc_file_*.jsonl"))
    config = RunConfig(model=str(opinionated_dir), scorers=("zero_shot_classifier", "max_softmax"),
                       output=str(tmp_path), bootstrap=0)
    path = rescore(log, config)[0]
    rows = {json.loads(line)["id"]: json.loads(line) for line in (path.parent / "items.jsonl").read_text().splitlines()}
    for ours in runs["rows"]:
        row = rows[ours["id"]]
        assert row["answer_raw"] == ours["answer_raw"] and row["correct"] == ours["correct"]
        for name in ("zero_shot_classifier", "max_softmax"):
            assert row["scores"][name] == pytest.approx(ours["scores"][name], abs=1e-4)


PLAIN_GEN = """task: plain_gen
dataset_path: json
dataset_kwargs:
  data_files:
    test: {data}
test_split: test
output_type: generate_until
doc_to_text: "Question: {{{{question}}}}\\nAnswer:"
doc_to_target: "{{{{opa}}}}"
generation_kwargs: {{until: ["\\n"], max_gen_toks: 4, do_sample: false}}
filter_list:
  - name: first
    filter: [{{function: take_first}}]
  - name: digits
    filter: [{{function: regex, regex_pattern: '([0-9]+)'}}, {{function: take_first}}]
metric_list:
  - metric: exact_match
"""


def test_generate_until_samples_are_rescored_with_the_scorer_model(task_dir, opinionated_dir, tmp_path):
    """A plain generate_until task: P(True) about the logged answer after the logged prompt, no regeneration."""
    from transformers import AutoModelForCausalLM, AutoTokenizer

    from calib_eval.errors import CalibEvalError
    from calib_eval.prompts import QUERY_NO, QUERY_YES, UNCERTAINTY_QUERY
    from calib_eval.runner.lmeval_samples import score_lmeval_samples

    plain = tmp_path / "plain"
    plain.mkdir()
    (plain / "plain_gen.yaml").write_text(PLAIN_GEN.format(data=task_dir / "items.jsonl"))
    _, samples = _lm_eval(opinionated_dir, plain, ["plain_gen"], tmp_path / "lm", limit=4)
    with pytest.raises(CalibEvalError, match="pass --scorers"):
        score_lmeval_samples(tmp_path / "lm", RunConfig(output=str(tmp_path / "s")), scorers_asked=False)
    config = RunConfig(model=str(opinionated_dir), scorers=("zero_shot_classifier",), output=str(tmp_path / "s"),
                       bootstrap=0)
    first, digits = score_lmeval_samples(tmp_path / "lm", config, scorers_asked=True)  # one result per filter
    assert (first.parent.name, digits.parent.name) == ("plain_gen_first", "plain_gen_digits")
    rows = [json.loads(line) for line in (first.parent / "items.jsonl").read_text().splitlines()]
    assert len(rows) == 4
    model = AutoModelForCausalLM.from_pretrained(opinionated_dir, dtype=torch.float32).eval()
    tokenizer = AutoTokenizer.from_pretrained(opinionated_dir)
    for row, sample in zip(rows, [s for s in samples["plain_gen"] if s["filter"] == "first"]):
        answer = sample["filtered_resps"][0]
        assert row["answer_raw"] == answer and row["correct"] == bool(sample["exact_match"])
        context = sample["arguments"]["gen_args_0"]["arg_0"] + answer.rstrip() + UNCERTAINTY_QUERY
        lls = [_logprob(model, tokenizer, context, c) for c in (QUERY_NO, QUERY_YES)]
        assert row["scores"]["zero_shot_classifier"] == pytest.approx(1 / (1 + math.exp(lls[0] - lls[1])), abs=1e-4)


def _logprob(model, tokenizer, context: str, continuation: str) -> float:
    ctx = tokenizer(context, add_special_tokens=False)["input_ids"]
    whole = tokenizer(context + continuation, add_special_tokens=False)["input_ids"]
    with torch.no_grad():
        logits = model(torch.tensor([whole])).logits[0]
    logp = torch.log_softmax(logits[len(ctx) - 1: -1].double(), dim=-1)
    return float(logp[torch.arange(len(whole) - len(ctx)), torch.tensor(whole[len(ctx):])].sum())


GEN_FILE = """task: my_gen_file
class: !function calib_eval.harness.task_file.TaskFileTask
calib:
  data: {path: items.jsonl}
  columns: {id: qid, question: question, answer: opa}
  mode: generate
  grading: contains
  fewshot: {count: 1, path: dev.jsonl}
  generation: {max_new_tokens: 6, stop: ["\\n"]}
"""


def test_generate_task_file_agrees_between_lm_eval_and_calib_eval(task_dir, opinionated_dir, tmp_path):
    """Same items, answers and grades on both paths; on those answers, the same P(True) and ECE.

    The run scores P(True) after the generated token ids, lm-eval after the re-tokenized text; a random
    model's odd byte sequences re-tokenize differently, so the confidences are compared on the text
    (lm-eval's samples rescored), as the default-model test in test_harness_vs_runner does for run itself.
    """
    from calib_eval.runner.rescore import rescore

    (task_dir / "my_gen.yaml").write_text(GEN_FILE)
    lm, samples = _lm_eval(opinionated_dir, task_dir, ["my_gen_file"], tmp_path / "lm", limit=N)
    path = run(RunConfig(model=str(opinionated_dir), tasks=(str(task_dir / "my_gen.yaml"),), limit=N,
                         scorers=("zero_shot_classifier",), output=str(tmp_path / "ours"), bootstrap=0))[0]
    rows = [json.loads(line) for line in (path.parent / "items.jsonl").read_text().splitlines()]
    by_id = {s["doc"]["id"]: s for s in samples["my_gen_file"]}
    assert {r["id"] for r in rows} == set(by_id)  # --limit N: the same N items on both paths
    for row in rows:
        assert by_id[row["id"]]["resps"][0][0].split("\n")[0].rstrip() == row["answer_raw"].rstrip()
        assert by_id[row["id"]]["calib_ece"][1] == row["correct"]
    [log] = sorted((tmp_path / "lm").rglob("samples_my_gen_file_*.jsonl"))
    again = rescore(log, RunConfig(model=str(opinionated_dir), scorers=("zero_shot_classifier",),
                                   output=str(tmp_path / "again"), bootstrap=0))[0]
    rescored = [json.loads(line) for line in (again.parent / "items.jsonl").read_text().splitlines()]
    ours = [r["scores"]["zero_shot_classifier"] for r in rescored]
    theirs = [by_id[r["id"]]["calib_ece"][0] for r in rescored]
    assert ours == pytest.approx(theirs, abs=1e-4)
    assert expected_calibration_error(ours, [r["correct"] for r in rescored]) == pytest.approx(
        lm["results"]["my_gen_file"]["calib_ece,none"], abs=1e-4)


def test_cli_score_lm_eval_samples_needs_no_model_for_choice_tasks(runs, tmp_path, capsys):
    from calib_eval.cli import main

    assert main(["score", "--lm-eval-samples", str(runs["out"] / "lm"), "--output", str(tmp_path),
                 "--bootstrap", "20"]) == 0
    written = capsys.readouterr().out.strip().splitlines()[-2:]
    assert [p.split("/")[-2] for p in written] == ["my_mc_file", "my_mc_file_acc_norm"]
    payload = json.loads(Path(written[0]).read_text())
    assert payload["scorers"]["max_softmax"]["ece"]["low"] is not None  # bootstrap CIs
    assert main(["score", "--lm-eval-samples", str(tmp_path / "nothing-here")]) == 2
