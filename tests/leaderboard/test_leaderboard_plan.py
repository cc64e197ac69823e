"""models.yaml -> plan_update -> run_plan with a fake runner."""
from __future__ import annotations

import os
import time
from datetime import datetime, timezone

import pytest

from calib_eval import __version__
from calib_eval.errors import CalibEvalError
from calib_eval.leaderboard import load_spec, plan_update, run_plan
from calib_eval.leaderboard.demo import demo_payload
from calib_eval.results import write_json_atomic

ALL = ("zero_shot_classifier", "perplexity", "lora_prompt")
SPEC = """
models:
  - name: default
    adapters:
      lora_prompt: {adapter}
  - name: gemma3-270m
    tasks: [mmlu_oe_calib, mmlu_mc_calib]
    dtype: bfloat16
scorers: [zero_shot_classifier, perplexity]
tasks: [mmlu_oe_calib, selfaware_calib]
limit: 20
"""


def now_iso() -> str:
    return datetime.now(timezone.utc).isoformat()


def result(model, task, scorers, adapter_path=None, created=None, version=__version__):
    data = demo_payload(model, task, scorers=scorers, created=created or now_iso(), n=20)
    data["package_version"] = version
    for entry in data["scorers"].values():
        entry["reliability"] = None  # no reliability plots: keeps the rebuild fast
        if entry["adapter"] is not None:
            entry["adapter"]["path"] = adapter_path
    return data


@pytest.fixture
def setup(tmp_path, monkeypatch):
    monkeypatch.chdir(tmp_path)  # adapter folders in the spec resolve against the CWD
    adapter = tmp_path / "adapters" / "tune"
    adapter.mkdir(parents=True)
    (adapter / "README.md").write_text("card")
    old = time.time() - 3600
    os.utime(adapter / "README.md", (old, old))
    spec = tmp_path / "models.yaml"
    spec.write_text(SPEC.format(adapter="adapters/tune"))
    results = tmp_path / "lb" / "results"
    # the runner records the zoo alias the user typed ("default"); the spec says "default" too
    write_json_atomic(results / "done.json", result("default", "mmlu_oe_calib", ALL, adapter_path=str(adapter)))
    # a choice task: the runner skips perplexity (generate only), so this run is complete
    write_json_atomic(results / "mc.json", result("gemma3-270m", "mmlu_mc_calib", ("zero_shot_classifier",)))
    return spec, results, adapter


def test_plan_update_finds_missing_runs(setup):
    spec, results, _ = setup
    plan = plan_update(spec, results)
    assert [(p.model, p.tasks) for p in plan] == [("default", ("selfaware_calib",)),
                                                  ("gemma3-270m", ("mmlu_oe_calib",))]
    assert plan[0].scorers == ALL and plan[0].adapters == {"lora_prompt": "adapters/tune"}
    assert plan[0].limit == 20 and plan[0].reasons == {"selfaware_calib": "missing"}


def test_plan_update_stale_adapter_scorers_and_version(setup):
    spec, results, adapter = setup
    future = time.time() + 3600
    os.utime(adapter / "README.md", (future, future))  # adapter retrained after the run
    stale = [p for p in plan_update(spec, results) if "mmlu_oe_calib" in p.tasks]
    assert stale[0].reasons["mmlu_oe_calib"] == "adapter changed since the last run: lora_prompt"
    # the base scorers' rows are current: only the adapter's scorer reruns, with its adapter
    assert stale[0].scorers == ("lora_prompt",) and stale[0].adapters == {"lora_prompt": "adapters/tune"}

    os.utime(adapter / "README.md", (0, 0))
    write_json_atomic(results / "done.json", result("default", "mmlu_oe_calib", ("zero_shot_classifier",)))
    plan = plan_update(spec, results)[0]
    assert plan.reasons["mmlu_oe_calib"] == "scorers not covered: perplexity, lora_prompt"
    assert plan.scorers == ("perplexity", "lora_prompt")

    write_json_atomic(results / "done.json", result("default", "mmlu_oe_calib", ALL,
                                                    adapter_path=str(adapter), version="0.0.1"))
    assert "package version" in plan_update(spec, results)[0].reasons["mmlu_oe_calib"]


def test_run_plan_calls_run_fn_then_rebuilds(setup, tmp_path):
    spec, results, _ = setup
    calls = []

    def fake_run(model, tasks, scorers, adapters, limit, output_dir, dtype):
        calls.append((model, tuple(tasks), tuple(scorers), dict(adapters), limit, dtype))
        for task in tasks:
            write_json_atomic(output_dir / f"{task}.json",
                              result(model, task, scorers, adapter_path=adapters.get("lora_prompt")))

    report = run_plan(plan_update(spec, results), fake_run, tmp_path / "lb")

    assert calls == [("default", ("selfaware_calib",), ALL, {"lora_prompt": "adapters/tune"}, 20, "auto"),
                     ("gemma3-270m", ("mmlu_oe_calib",), ("zero_shot_classifier", "perplexity"), {}, 20, "bfloat16")]
    assert report.ok and len(report.added_to_history) == 2
    assert {(r.model, r.task) for r in report.rows} == {
        ("smollm2-135m-instruct", "mmlu_oe_calib"), ("smollm2-135m-instruct", "selfaware_calib"),
        ("gemma3-270m", "mmlu_oe_calib"), ("gemma3-270m", "mmlu_mc_calib")}
    assert (tmp_path / "lb" / "README.md").is_file() and (tmp_path / "lb" / "index.html").is_file()
    assert plan_update(spec, results) == []


def test_a_retrained_adapter_reruns_only_its_rows_and_keeps_the_base_rows(setup, tmp_path):
    spec, results, adapter = setup
    write_json_atomic(results / "sa.json", result("default", "selfaware_calib", ALL, adapter_path=str(adapter)))
    future = time.time() + 3600
    os.utime(adapter / "README.md", (future, future))  # retrained after both runs
    plan = plan_update(spec, results)
    # both of default's tasks need the same scorer: one run; gemma's missing task: its own run, all scorers
    assert [(p.model, p.tasks, p.scorers) for p in plan] == [
        ("default", ("mmlu_oe_calib", "selfaware_calib"), ("lora_prompt",)),
        ("gemma3-270m", ("mmlu_oe_calib",), ("zero_shot_classifier", "perplexity"))]
    reran = datetime.fromtimestamp(int(future) + 60, timezone.utc).isoformat()  # newer than the card

    def fake_run(model, tasks, scorers, adapters, limit, output_dir, dtype):
        for task in tasks:
            write_json_atomic(output_dir / f"{task}.json", result(
                model, task, scorers, adapter_path=adapters.get("lora_prompt"), created=reran))

    report = run_plan(plan, fake_run, tmp_path / "lb")
    rows = {(r.task, r.scorer): r for r in report.rows if r.model == "smollm2-135m-instruct"}
    assert set(rows) == {(t, s) for t in ("mmlu_oe_calib", "selfaware_calib") for s in ALL}
    assert rows[("selfaware_calib", "lora_prompt")].created == reran  # the new run's row
    assert rows[("selfaware_calib", "perplexity")].created != reran  # the base row stays from the old run
    assert plan_update(spec, results) == []


def test_a_retrained_probe_counts_as_changed(setup):
    """A probe folder holds no PEFT files: its card and head alone must date it."""
    spec, results, adapter = setup
    (adapter / "README.md").unlink()
    for name in ("calib_card.json", "probe_head.safetensors"):
        (adapter / name).write_text("x")
        os.utime(adapter / name, (0, 0))
    assert not [p for p in plan_update(spec, results) if "mmlu_oe_calib" in p.tasks and p.model == "default"]
    future = time.time() + 3600
    os.utime(adapter / "probe_head.safetensors", (future, future))
    stale = [p for p in plan_update(spec, results) if "mmlu_oe_calib" in p.tasks and p.model == "default"]
    assert stale[0].reasons["mmlu_oe_calib"] == "adapter changed since the last run: lora_prompt"


def test_run_plan_reports_a_failed_run_and_keeps_the_rest(setup, tmp_path):
    spec, results, _ = setup

    def flaky_run(model, tasks, scorers, adapters, limit, output_dir, dtype):
        if model == "default":
            raise RuntimeError("CUDA out of memory")
        write_json_atomic(output_dir / "r.json", result(model, tasks[0], scorers))

    report = run_plan(plan_update(spec, results), flaky_run, tmp_path / "lb")
    assert report.failed_runs == [("default", "RuntimeError: CUDA out of memory")] and not report.ok
    assert "gemma3-270m" in {r.model for r in report.rows}


@pytest.mark.parametrize("text, message", [
    ("models: []\ntasks: [mmlu_oe_calib]\nscorers: [verbalized]", "non-empty"),
    ("models: [default]\ntasks: [mmlu_oe_calb]\nscorers: [verbalized]", "mmlu_oe_calib"),
    ("models: [default]\ntask: [mmlu_oe_calib]\nscorers: [verbalized]", "tasks"),
    ("models: [default]\ntasks: [mmlu_oe_calib]\nscorers: [verbalized]\nlimit: 0", "limit"),
    ("models: [default]\ntasks: [mmlu_oe_calib]\nscorers: [verbalised]", "verbalized"),  # plan_update checks scorers
    ("models: [{name: default, dtype: bf16}]\ntasks: [mmlu_oe_calib]\nscorers: [verbalized]", "bfloat16"),
])
def test_spec_errors_name_the_problem(tmp_path, text, message):
    path = tmp_path / "models.yaml"
    path.write_text(text)
    with pytest.raises(CalibEvalError, match=message):
        plan_update(path, tmp_path / "results")


def test_shipped_models_yaml_is_valid():
    from pathlib import Path

    path = Path(__file__).parents[2] / "leaderboard" / "models.yaml"
    spec = load_spec(path)
    assert spec and all(m.tasks and m.scorers for m in spec)
    assert {p.model for p in plan_update(path, Path(__file__).parent / "no-results")} == {m.name for m in spec}


def test_training_jobs_group_script_adapters_by_folder_and_model(tmp_path):
    from calib_eval.leaderboard.spec import TrainingJob, training_jobs

    path = tmp_path / "models.yaml"
    path.write_text("""
models:
  - name: default
    adapters: {lora_prompt: ad/small/calibration-tune, probe: ad/small/probe, ua_clm_entropy: mine/custom-run}
  - name: qwen2.5-coder-0.5b
    dtype: bfloat16
    adapters: {lora_prompt: ad/q05/calibration-tune}
  - gemma3-270m
scorers: [perplexity]
tasks: [mmlu_oe_calib]
""")
    # mine/custom-run is not a folder train_adapters.sh makes: the spec's author trains it
    assert training_jobs(load_spec(path)) == [TrainingJob("ad/small", "default", "auto"),
                                              TrainingJob("ad/q05", "qwen2.5-coder-0.5b", "bfloat16")]


def test_two_models_sharing_an_adapter_folder_is_an_error(tmp_path):
    from calib_eval.leaderboard.spec import training_jobs

    path = tmp_path / "models.yaml"
    path.write_text("""
models:
  - {name: default, adapters: {probe: ad/x/probe}}
  - {name: gemma3-270m, adapters: {lora_prompt: ad/x/calibration-tune}}
scorers: [perplexity]
tasks: [mmlu_oe_calib]
""")
    with pytest.raises(CalibEvalError, match="ad/x/ is named by two models, default and gemma3-270m"):
        training_jobs(load_spec(path))
