"""The leaderboard workflow's steps are leaderboard/update.sh's stages; running them adds a new model's rows."""
from __future__ import annotations

import json
import os
import re
import shutil
import subprocess
import sys
from pathlib import Path

import pytest
import yaml

REPO = Path(__file__).resolve().parents[2]
SCRIPT = REPO / "leaderboard" / "update.sh"
WORKFLOW = REPO / ".github" / "workflows" / "leaderboard.yml"


def _script_stages() -> set[str]:
    case = re.search(r"^\s+([a-z|]+)\) echo", SCRIPT.read_text(), re.M)
    return set(case.group(1).split("|"))


def test_every_workflow_command_is_a_stage_of_the_script():
    """So the workflow and a local run cannot drift: the workflow holds no commands of its own."""
    steps = yaml.safe_load(WORKFLOW.read_text())["jobs"]["update"]["steps"]
    commands = [step["run"].strip() for step in steps if "run" in step]
    stages = [re.fullmatch(r"bash leaderboard/update\.sh (\w+)", c) for c in commands]
    assert all(stages), commands
    assert [m.group(1) for m in stages] == ["install", "train", "update", "publish"]
    assert {m.group(1) for m in stages} <= _script_stages()


def test_an_unknown_stage_is_refused():
    done = subprocess.run(["bash", str(SCRIPT), "deploy"], capture_output=True, text=True, cwd=REPO)
    assert done.returncode == 2 and "unknown stage 'deploy'" in done.stderr


def test_train_stage_trains_each_adapter_folder_for_its_model(tmp_path):
    """The spec, not a fixed folder, decides what is trained: every model's adapters, bf16 models in bf16."""
    spec = tmp_path / "models.yaml"
    spec.write_text(yaml.safe_dump({
        "models": [{"name": str(tmp_path / "hf-model"), "adapters": {"probe": "ad/small/probe"}},
                   {"name": "hub-org/big", "dtype": "bfloat16", "adapters": {"lora_prompt": "ad/big/calibration-tune",
                                                                             "probe": "ad/big/probe"}}],
        "scorers": ["perplexity"], "tasks": ["mmlu_oe_calib"]}))
    calls = tmp_path / "calls.txt"
    recorder = tmp_path / "train.sh"
    recorder.write_text(f'echo "$1 $2 [$TRAIN_FLAGS]" >> {calls}\n')
    env = {**os.environ, "SPEC": str(spec), "TRAIN_SCRIPT": str(recorder), "TRAIN_FLAGS": "--seed 1",
           "PATH": f"{Path(sys.executable).parent}{os.pathsep}{os.environ['PATH']}"}
    done = subprocess.run(["bash", str(SCRIPT), "train"], capture_output=True, text=True, cwd=REPO, env=env)
    assert done.returncode == 0, done.stdout + done.stderr
    assert calls.read_text().splitlines() == [f"ad/small {tmp_path / 'hf-model'} [--seed 1]",
                                              "ad/big hub-org/big [--mixed-precision bf16 --seed 1]"]


@pytest.mark.slow
def test_a_new_models_yaml_entry_adds_its_rows_and_leaves_the_others(tiny_model_dir, data_root, tmp_path):
    """The workflow's train + update stages, against a copy of the committed leaderboard."""
    out = tmp_path / "leaderboard"
    shutil.copytree(REPO / "leaderboard", out, ignore=shutil.ignore_patterns("update.sh"))
    model = tmp_path / "models" / "tiny-new-model"
    shutil.copytree(tiny_model_dir, model)
    spec = tmp_path / "models.yaml"
    spec.write_text(yaml.safe_dump({"models": [{"name": str(model)}], "scorers": ["perplexity"],
                                    "tasks": ["mmlu_oe_calib"], "limit": 4}))
    # what this code builds from the committed results alone (rows gain fields as the code evolves)
    from calib_eval.leaderboard import build_leaderboard

    baseline = tmp_path / "baseline"
    shutil.copytree(out, baseline)
    build_leaderboard([], baseline)
    before = json.loads((baseline / "leaderboard.json").read_text())["rows"]

    env = {**os.environ, "SPEC": str(spec), "OUT": str(out), "CALIB_EVAL_DATA": str(data_root),
           "OMP_NUM_THREADS": "1", "PATH": f"{Path(sys.executable).parent}{os.pathsep}{os.environ['PATH']}"}
    done = subprocess.run(["bash", str(SCRIPT), "train", "update"], capture_output=True, text=True, cwd=REPO,
                          env=env, timeout=600)
    assert done.returncode == 0, done.stdout[-2000:] + done.stderr[-2000:]
    assert "nothing to train" in done.stdout  # the spec names no adapter
    assert "tiny-new-model / mmlu_oe_calib: missing" in done.stdout  # planned: the only run

    after = json.loads((out / "leaderboard.json").read_text())["rows"]
    new = [r for r in after if r["model"] == "tiny-new-model"]
    assert [(r["task"], r["scorer"], r["n"]) for r in new] == [("mmlu_oe_calib", "perplexity", 4)]
    key = lambda rows: sorted(json.dumps(r, sort_keys=True) for r in rows)  # noqa: E731
    # nothing else re-run; stale rows (made by an older grader/metrics) this spec cannot refresh are retired
    assert key([r for r in after if r["model"] != "tiny-new-model"]) == key([r for r in before if not r["stale"]])
    assert "| tiny-new-model |" in (out / "README.md").read_text()
    assert len(list((out / "results").glob("tiny-new-model__mmlu_oe_calib-*.json"))) == 1
    # the runner's items.jsonl matched its results file: its per-item scores are kept for the paired column
    assert len(list((out / "results/items").glob("tiny-new-model__mmlu_oe_calib-*.items.json"))) == 1


def test_the_adapter_names_the_train_stage_knows_are_the_ones_train_adapters_sh_makes():
    """SCRIPT_ADAPTERS mirrors bench/train_adapters.sh's folders; a renamed or added one must change both."""
    from calib_eval.leaderboard.spec import SCRIPT_ADAPTERS

    code = "\n".join(line.split("#")[0] for line in (REPO / "bench" / "train_adapters.sh").read_text().splitlines())
    made = set(re.findall(r"(?:^|[;)]) *train ([a-z-]+)", code, re.M)) | set(re.findall(r"\$OUT/([a-z-]+)/calib_card", code))
    assert made == set(SCRIPT_ADAPTERS)
