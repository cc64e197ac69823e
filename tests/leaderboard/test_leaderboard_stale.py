"""Stale rows (grader/metrics version differs from this code's): marked by build, re-run by update."""
from __future__ import annotations

import json
from datetime import datetime, timedelta, timezone

import pytest

from calib_eval.errors import DataError
from calib_eval.leaderboard import build_leaderboard, plan_update, run_plan
from calib_eval.leaderboard.demo import demo_payload
from calib_eval.leaderboard.render_markdown import STALE_MARK
from calib_eval.provenance import STALE
from calib_eval.results import write_json_atomic

SPEC = """
models: [gemma3-270m]
scorers: [zero_shot_classifier]
tasks: [mmlu_mc_calib, mmlu_oe_calib]
limit: 20
"""


def stamp(hours_ago: float) -> str:
    return (datetime.now(timezone.utc) - timedelta(hours=hours_ago)).isoformat(timespec="seconds")


def result(task, grader=None, metrics=None, schema_1=False, hours_ago=1.0, model="gemma3-270m"):
    data = demo_payload(model, task, scorers=("zero_shot_classifier",), created=stamp(hours_ago), n=20)
    for entry in data["scorers"].values():
        entry["reliability"] = None  # no reliability plots: keeps the build fast
    if schema_1:  # written before results recorded provenance
        data["schema_version"] = 1
        del data["provenance"]
    for key, value in (("grader_version", grader), ("metrics_version", metrics)):
        if value is not None:
            data["provenance"][key] = value
    return data


@pytest.fixture
def spec(tmp_path):
    path = tmp_path / "models.yaml"
    path.write_text(SPEC)
    return path


def test_plan_reruns_results_of_another_grader_or_metrics_version(spec, tmp_path):
    results = tmp_path / "lb" / "results"
    write_json_atomic(results / "mc.json", result("mmlu_mc_calib", grader="0"))
    write_json_atomic(results / "oe.json", result("mmlu_oe_calib", schema_1=True))
    reasons = plan_update(spec, results)[0].reasons
    assert set(reasons) == {"mmlu_mc_calib", "mmlu_oe_calib"}
    assert reasons["mmlu_mc_calib"].startswith(STALE) and "grader 0 ->" in reasons["mmlu_mc_calib"]
    assert "metrics " not in reasons["mmlu_mc_calib"].removeprefix(STALE)
    assert "grader unknown" in reasons["mmlu_oe_calib"] and "metrics unknown" in reasons["mmlu_oe_calib"]

    write_json_atomic(results / "oe.json", result("mmlu_oe_calib", metrics="0"))
    assert "metrics 0 ->" in plan_update(spec, results)[0].reasons["mmlu_oe_calib"]


def test_a_current_run_beside_a_stale_one_needs_no_rerun(spec, tmp_path):
    results = tmp_path / "lb" / "results"
    write_json_atomic(results / "old-mc.json", result("mmlu_mc_calib", grader="0", hours_ago=5))
    write_json_atomic(results / "mc.json", result("mmlu_mc_calib"))
    write_json_atomic(results / "oe.json", result("mmlu_oe_calib"))
    assert plan_update(spec, results) == []


def test_update_reruns_stale_pairs_and_the_rebuild_has_none_left(spec, tmp_path):
    results = tmp_path / "lb" / "results"
    write_json_atomic(results / "mc.json", result("mmlu_mc_calib", schema_1=True, hours_ago=3))
    write_json_atomic(results / "oe.json", result("mmlu_oe_calib", grader="1", hours_ago=3))
    ran = []

    def fake_run(model, tasks, scorers, adapters, limit, output_dir, dtype):
        ran.extend(tasks)
        for task in tasks:  # a run made by this code records this code's provenance
            write_json_atomic(output_dir / f"{task}.json", result(task, hours_ago=0))

    report = run_plan(plan_update(spec, results), fake_run, tmp_path / "lb")

    assert sorted(ran) == ["mmlu_mc_calib", "mmlu_oe_calib"]
    assert report.ok and report.stale == 0 and len(report.rows) == 2
    assert plan_update(spec, results) == []


def test_update_retires_stale_rows_the_spec_no_longer_names(spec, tmp_path):
    """A stale row no spec entry can refresh leaves the tables (kept under results/retired/)."""
    results = tmp_path / "lb" / "results"
    write_json_atomic(results / "mc.json", result("mmlu_mc_calib", grader="1", hours_ago=3))
    write_json_atomic(results / "gone.json", result("mmlu_mc_calib", grader="1", hours_ago=3, model="m-dropped"))
    write_json_atomic(results / "oe.json", result("mmlu_oe_calib"))

    def fake_run(model, tasks, scorers, adapters, limit, output_dir, dtype):
        for task in tasks:
            write_json_atomic(output_dir / f"{task}.json", result(task, hours_ago=0))

    report = run_plan(plan_update(spec, results), fake_run, tmp_path / "lb")

    assert report.ok and report.stale == 0 and {r.model for r in report.rows} == {"gemma3-270m"}
    assert sorted(p.name for p in report.retired) == ["gone.json", "mc.json"]
    assert (results / "retired" / "gone.json").is_file() and not (results / "gone.json").exists()
    assert any(line.startswith("retired 2 stale results files") for line in report.lines())
    rebuilt = build_leaderboard([], tmp_path / "lb")  # a rebuild from the history alone stays clean
    assert rebuilt.stale == 0 and {r.model for r in rebuilt.rows} == {"gemma3-270m"}


def test_update_with_a_failed_run_retires_nothing(spec, tmp_path):
    results = tmp_path / "lb" / "results"
    write_json_atomic(results / "mc.json", result("mmlu_mc_calib", grader="1", hours_ago=3))

    def failing_run(**_):
        raise RuntimeError("out of memory")

    report = run_plan(plan_update(spec, results), failing_run, tmp_path / "lb")
    assert not report.ok and report.retired == [] and (results / "mc.json").is_file()


def test_build_marks_stale_rows_and_counts_them(tmp_path):
    runs = tmp_path / "runs"
    write_json_atomic(runs / "a.json", result("mmlu_oe_calib", model="m-old", schema_1=True))
    write_json_atomic(runs / "b.json", result("mmlu_oe_calib", model="m-new"))
    out = tmp_path / "lb"

    report = build_leaderboard([runs], out)

    assert report.stale == 1 and any(line.startswith("1 of 2 rows are stale") for line in report.lines())
    rows = {r["model"]: r for r in json.loads((out / "leaderboard.json").read_text())["rows"]}
    assert rows["m-old"]["stale"] is True and rows["m-new"]["stale"] is False
    readme = (out / "README.md").read_text()
    assert f"| m-old {STALE_MARK} |" in readme and f"| m-new {STALE_MARK} |" not in readme
    assert f"{STALE_MARK} Stale:" in readme
    page = (out / "index.html").read_text()
    assert '"stale": true' in page and "1 row is stale" in page


def test_build_without_stale_rows_says_nothing_about_staleness(tmp_path):
    write_json_atomic(tmp_path / "runs" / "b.json", result("mmlu_oe_calib"))
    report = build_leaderboard([tmp_path / "runs"], tmp_path / "lb")
    assert report.stale == 0 and not any("are stale" in line for line in report.lines())
    assert f"{STALE_MARK} Stale:" not in (tmp_path / "lb" / "README.md").read_text()


def test_build_over_a_folder_without_results_is_an_error_that_writes_nothing(tmp_path):
    empty = tmp_path / "runs"
    empty.mkdir()
    (empty / "notes.txt").write_text("no json here")
    with pytest.raises(DataError, match=f"no results files .* under {empty}"):
        build_leaderboard([empty], tmp_path / "lb")
    with pytest.raises(DataError, match="no results to build"):
        build_leaderboard([], tmp_path / "lb")
    assert not (tmp_path / "lb").exists()


def test_build_of_only_unusable_files_is_an_error_naming_one(tmp_path):
    (tmp_path / "runs").mkdir()
    (tmp_path / "runs" / "bad.json").write_text("{not json")
    with pytest.raises(DataError, match="no usable results: 1 file.*bad.json"):
        build_leaderboard([tmp_path / "runs"], tmp_path / "lb")
