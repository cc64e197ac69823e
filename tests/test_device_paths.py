"""bench/device_paths.py: its CPU dry run fills every row, and its verdict fails on a device that disagrees."""
from __future__ import annotations

import importlib.util
import math
import os
import re
import subprocess
import sys
from pathlib import Path

import pytest

SCRIPT = Path(__file__).resolve().parents[1] / "bench" / "device_paths.py"


def _module():
    spec = importlib.util.spec_from_file_location("device_paths", SCRIPT)
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


def test_relative_difference_and_one_sided_non_finite_values():
    paths = _module()
    assert paths.max_difference([0.5, 2e-5], [0.5, 1e-5]) == pytest.approx(0.5)  # relative, so tiny scales count
    assert paths.max_difference([0.0, float("nan")], [0.0, float("nan")]) == 0.0  # both undefined: agree
    assert math.isinf(paths.max_difference([0.5, None], [0.5, 0.4]))
    with pytest.raises(ValueError):
        paths.max_difference([0.5], [0.5, 0.5])


def test_a_score_beyond_the_tolerance_or_a_failed_method_fails_the_verdict():
    paths = _module()
    trained = {"probe": {"steps": 3, "seconds": 0.1, "final_loss": 0.7, "folder": "x"}}
    agree = [{"set": "none", "scorer": "perplexity", "adapter": "-", "fp32": 1e-6, "bf16": 1e-2, "n": 8}]
    batches = [{"set": "none", "scorers": 12, "same_answers": 8, "n": 8, "fp32": 1e-7, "finite": True}]
    body, failed = paths.report(trained, agree, batches, "cuda", 1e-3, 1.0, "H200")
    assert not failed and "every path ran and agreed" in body
    off = [{**agree[0], "fp32": 2e-3}]
    assert paths.report(trained, off, batches, "cuda", 1e-3, 1.0, "H200")[1]
    assert paths.report({"probe": {"error": "RuntimeError: boom"}}, agree, batches, "cuda", 1e-3, 1.0, "H200")[1]
    assert paths.report(trained, agree, [{**batches[0], "finite": False}], "cuda", 1e-3, 1.0, "H200")[1]


def test_cpu_dry_run_trains_every_method_and_fills_every_row(tmp_path):
    paths = _module()
    if not (paths.DEFAULT_TOKENIZER / "tokenizer.json").exists():
        pytest.skip(f"SmolLM2 tokenizer not found at {paths.DEFAULT_TOKENIZER}")
    from calib_eval.training.cli import _config_classes

    out = tmp_path / "RESULTS.md"
    out.write_text("# Benchmark results\n\n<!-- gpu:start -->\nkept\n<!-- gpu:end -->\n")
    env = {**os.environ, "OMP_NUM_THREADS": "1", "CUDA_VISIBLE_DEVICES": ""}
    done = subprocess.run([sys.executable, str(SCRIPT), "--device", "cpu", "--out", str(out)], capture_output=True,
                          text=True, timeout=600, env=env)
    assert done.returncode == 0, done.stderr[-3000:]
    text = out.read_text()
    assert "<!-- gpu:start -->\nkept" in text  # other sections survive
    section = re.search(r"<!-- device-paths:start -->\n(.*)\n<!-- device-paths:end -->", text, re.S).group(1)
    for method in set(_config_classes()) - set(paths.SKIPPED_METHODS):
        assert re.search(rf"^\| {method} \| trained \| 3 \|", section, re.M), method
    for set_name, wanted in paths.ADAPTER_SETS.items():  # the same seeded model on the same device: exactly equal
        for scorer, method in wanted.items():
            assert re.search(rf"^\| {set_name} \| {scorer} \| {method} \| 8 \| 0\.0e\+00 \|", section, re.M), scorer
        assert re.search(rf"^\| {set_name} \| \d+ \| 8/8 \| 0\.0e\+00 \| yes \|$", section, re.M), set_name
    assert re.search(r"^\| pairwise \| .* \| pairwise-sft \| 8 \| 0\.0e\+00 \|", section, re.M)
    assert "every path ran and agreed with the CPU" in section


def test_a_missing_tokenizer_folder_is_named_with_the_command_that_makes_it(tmp_path):
    with pytest.raises(SystemExit, match=r"no tokenizer\.json in .*calib-eval models pull default"):
        _module().main(["--device", "cpu", "--tokenizer", str(tmp_path), "--out", str(tmp_path / "R.md")])
    assert not (tmp_path / "R.md").exists()  # nothing written before the check
