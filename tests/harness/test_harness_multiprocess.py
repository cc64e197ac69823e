"""lm-eval under `accelerate launch` with two processes, on CPU, with a calib task.

`accelerate launch --cpu --num_processes 2` starts ONE process (accelerate's
simple launcher); `--multi_gpu --num_processes 2` goes through torchrun and,
without GPUs, runs two CPU processes over gloo (see
tests/engine/test_engine_multiprocess.py). Each spawns an interpreter that
loads torch, lm-eval's task index and a tiny model on a shared machine: slow.

What it pins down, beside "same metrics as one process": how lm-eval's
``--model hf`` splits the work. HFLM shards requests over ranks only when it
sees more than one accelerator device (``gpus > 1`` in
lm_eval/models/huggingface.py); on CPU every process gets rank 0 of a world
of 1 and runs every request, and only the LOCAL_RANK 0 process writes output.
"""
from __future__ import annotations

import json
import os
import re
import socket
import subprocess
import sys
from pathlib import Path

import pytest

pytestmark = pytest.mark.slow

REPO = Path(__file__).resolve().parents[2]
TASK = "selfaware_calib"  # generate + the lazy P(True) queries: the glue that leans on request order
LIMIT = 6
TIMEOUT_S = 900


def _free_port() -> int:
    with socket.socket() as s:  # other runs on this machine may hold torchrun's default 29500
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def _lm_eval_args(model_dir: Path, data_root: Path, out: Path) -> list[str]:
    return ["-m", "lm_eval", "--model", "hf", "--model_args", f"pretrained={model_dir},dtype=float32",
            "--tasks", TASK, "--include_path", str(REPO / "tasks"), "--limit", str(LIMIT), "--device", "cpu",
            "--batch_size", "1", "--gen_kwargs", "max_gen_toks=8", "--log_samples", "--output_path", str(out),
            "--metadata", json.dumps({"data_root": str(data_root)})]


def _run(cmd: list[str]) -> str:
    env = {**os.environ, "OMP_NUM_THREADS": "1", "CUDA_VISIBLE_DEVICES": "", "HF_DATASETS_OFFLINE": "1",
           "HF_HUB_OFFLINE": "1", "TOKENIZERS_PARALLELISM": "false"}
    proc = subprocess.run(cmd, env=env, capture_output=True, text=True, timeout=TIMEOUT_S)
    log = proc.stdout + proc.stderr
    assert proc.returncode == 0, log[-4000:]
    return log


def _output(out: Path) -> tuple[dict, list[dict]]:
    [results] = list(out.rglob("results_*.json"))  # one writer, also with two processes
    [samples] = list(out.rglob(f"samples_{TASK}_*.jsonl"))
    rows = [json.loads(line) for line in samples.read_text().splitlines() if line.strip()]
    return json.loads(results.read_text())["results"][TASK], rows


def _ranks(log: str) -> list[str]:
    """The rank each process reports as it builds the task's requests, one line per process."""
    return re.findall(rf"Building contexts for {TASK} on rank (\d+)", log)


def _generation_totals(log: str) -> list[int]:
    """Per process that shows a progress bar, how many generate_until requests it ran."""
    return [int(n) for n in re.findall(r"Running generate_until requests:\s+0%\|[^|]*\| 0/(\d+) ", log)]


def test_two_processes_report_the_one_process_metrics(tiny_model_dir, data_root, tmp_path):
    launcher = Path(sys.executable).with_name("accelerate")
    if not launcher.exists():
        pytest.skip("accelerate's launcher is not installed")
    one_log = _run([sys.executable, *_lm_eval_args(tiny_model_dir, data_root, tmp_path / "one")])
    two_log = _run([str(launcher), "launch", "--multi_gpu", "--num_processes", "2", "--num_machines", "1",
                    "--mixed_precision", "no", "--dynamo_backend", "no", "--main_process_port", str(_free_port()),
                    *_lm_eval_args(tiny_model_dir, data_root, tmp_path / "two")])

    one, one_rows = _output(tmp_path / "one")
    two, two_rows = _output(tmp_path / "two")
    calib = sorted(k for k in one if k.startswith("calib_"))
    assert len(calib) >= 10 and sorted(k for k in two if k.startswith("calib_")) == calib
    for key in calib:
        assert two[key] == pytest.approx(one[key], abs=1e-9, nan_ok=True), key
    assert [r["doc"]["id"] for r in two_rows] == [r["doc"]["id"] for r in one_rows]
    for a, b in zip(one_rows, two_rows):  # (P(True), correct) per doc
        assert b["calib_ece"][0] == pytest.approx(a["calib_ece"][0], abs=1e-9) and b["calib_ece"][1] == a["calib_ece"][1]

    # how the work was split: two processes, each rank 0 of its own world, each generating for every doc
    assert _ranks(one_log) == ["0"] and _generation_totals(one_log) == [LIMIT]
    assert _ranks(two_log) == ["0", "0"] and _generation_totals(two_log) == [LIMIT, LIMIT]
