"""bench/gpu_check.py's CPU dry run: one command writes the whole `gpu` section, every row filled."""
from __future__ import annotations

import importlib.util
import os
import re
import subprocess
import sys
from pathlib import Path

import pytest

SCRIPT = Path(__file__).resolve().parents[1] / "bench" / "gpu_check.py"
MODELS = ("Llama-3.2-1B", "Qwen2.5-7B")
NUMBER = r"[\d,]+\.?\d*"


def _dry_run(out: Path, *extra: str) -> str:
    env = {**os.environ, "OMP_NUM_THREADS": "1", "CUDA_VISIBLE_DEVICES": ""}
    done = subprocess.run([sys.executable, str(SCRIPT), "--device", "cpu", "--tiny", "--out", str(out), *extra],
                          capture_output=True, text=True, timeout=600, env=env)
    assert done.returncode == 0, done.stderr[-3000:]
    return out.read_text()


def _section(text: str) -> str:
    match = re.search(r"<!-- gpu:start -->\n(.*)\n<!-- gpu:end -->", text, re.S)
    assert match, "no gpu section written"
    return match.group(1)


def test_tiny_cpu_dry_run_writes_every_row_and_keeps_other_sections(tmp_path):
    from calib_eval.scorers import SCORERS

    out = tmp_path / "RESULTS.md"
    out.write_text("# Benchmark results\n\n<!-- cost:start -->\n## cost\nkept\n<!-- cost:end -->\n")
    text = _dry_run(out)
    assert "## cost\nkept" in text  # the other sections survive
    gpu = _section(text)
    assert "CPU dry run" in gpu and "NOT GPU numbers" in gpu
    lm_eval = importlib.util.find_spec("lm_eval") is not None
    for model in MODELS:
        for path in ("engine: generation |", "engine: generation + every base scorer",
                     "lm-eval HFLM.generate_until"):
            row = next((line for line in gpu.splitlines() if line.startswith(f"| {model}") and path in line), None)
            assert row is not None, f"missing row {model} / {path}"
            if "lm-eval" in path and not lm_eval:
                assert "skipped: lm-eval is not installed" in row
            else:  # items/s, tokens/s, peak memory measured; answers exactly the fixed 4 tokens long
                cells = [c.strip() for c in row.strip("|").split("|")]
                assert all(re.fullmatch(NUMBER, c) and float(c.replace(",", "")) > 0 for c in cells[2:5]), row
                assert cells[-1] == "4", row
    base = [n for n in SCORERS.names() if not SCORERS.get(n).needs_adapter and "generate" in SCORERS.get(n).task_modes]
    for scorer in base:  # every base scorer timed on both shapes
        assert re.search(rf"^\| {scorer} \| {NUMBER} \| {NUMBER} \|$", gpu, re.M), scorer
    for batch in (1, 4):
        assert re.search(rf"^\| {batch} \| \d+ \| {NUMBER} \|", gpu, re.M), f"batch {batch} scaling row"
    assert re.search(rf"calibration-tune.*: 50 steps x batch 4 in {NUMBER} s.*final loss {NUMBER}", gpu)
    assert "Data parallel (two processes): skipped: 0 GPU(s) here, two are needed." in gpu


@pytest.mark.slow
def test_the_two_process_row_runs_on_cpu_when_asked(tmp_path):
    gpu = _section(_dry_run(tmp_path / "RESULTS.md", "--dp-on-cpu", "--models", "Llama-3.2-1B"))
    assert re.search(rf"Data parallel, .*: 2 processes {NUMBER} items/s .* vs one process {NUMBER} items/s", gpu)
