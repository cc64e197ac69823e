"""Bad input on the command line: one clear line on stderr, a non-zero exit, no traceback."""
from __future__ import annotations

import pytest

from calib_eval.cli import main
from calib_eval.leaderboard.demo import demo_payload
from calib_eval.results import write_json_atomic


def one_error_line(capsys) -> str:
    err = capsys.readouterr().err
    assert "Traceback" not in err
    lines = err.strip().splitlines()
    assert len(lines) == 1, err
    return lines[0]


@pytest.mark.parametrize("value", ["0", "-3", "ten"])
def test_run_limit_below_one_is_a_usage_error(capsys, tmp_path, value):
    with pytest.raises(SystemExit) as exit_info:
        main(["run", "--limit", value, "--output", str(tmp_path / "runs")])
    assert exit_info.value.code == 2
    line = one_error_line(capsys)
    assert "--limit" in line and (value in line) and ">= 1" in line
    assert not (tmp_path / "runs").exists()


def test_a_config_value_out_of_range_is_one_line_not_a_traceback(capsys, tmp_path):
    items = tmp_path / "items.jsonl"
    items.write_text('{"id": "1", "task": "mmlu_oe_calib", "answer": "a", "correct": true}\n')
    assert main(["score", "--generations", str(items), "--batch-size", "0"]) == 2
    assert "batch_size must be >= 1" in one_error_line(capsys)


def test_leaderboard_build_over_an_empty_folder_names_it(capsys, tmp_path):
    empty = tmp_path / "nothing-here"
    empty.mkdir()
    assert main(["leaderboard", "build", str(empty), "--out", str(tmp_path / "lb")]) != 0
    line = one_error_line(capsys)
    assert str(empty) in line and "no results" in line
    assert not (tmp_path / "lb").exists()


def test_leaderboard_build_with_nothing_at_all_fails(capsys, tmp_path):
    assert main(["leaderboard", "build", "--out", str(tmp_path / "lb")]) != 0
    assert str(tmp_path / "lb" / "results") in one_error_line(capsys)


def test_leaderboard_update_dry_run_lists_stale_pairs_and_runs_nothing(capsys, tmp_path):
    spec = tmp_path / "models.yaml"
    spec.write_text("models: [gemma3-270m]\nscorers: [zero_shot_classifier]\ntasks: [mmlu_mc_calib]\n")
    old = demo_payload("gemma3-270m", "mmlu_mc_calib", scorers=("zero_shot_classifier",))
    old["schema_version"] = 1  # before provenance: unknown grader and metrics versions
    del old["provenance"]
    write_json_atomic(tmp_path / "lb" / "results" / "old.json", old)

    assert main(["leaderboard", "update", "--spec", str(spec), "--out", str(tmp_path / "lb"), "--dry-run"]) == 0

    out = capsys.readouterr().out.splitlines()
    assert out[0].startswith("gemma3-270m / mmlu_mc_calib: grader/metrics version changed")
    assert out[-1] == "dry run: 1 (model, task) runs planned, none started"
    assert sorted(p.name for p in (tmp_path / "lb").iterdir()) == ["results"]  # nothing built or run
