"""Two-process `accelerate launch` runs of calib_eval.cli on CPU, shared by the multi-process tests.

`accelerate launch --cpu --num_processes 2` starts only one process here (the CPU
launcher expects mpirun), so the tests use `--multi_gpu` with no GPU visible: two
processes over gloo.
"""
from __future__ import annotations

import os
import socket
import subprocess
import sys
from pathlib import Path

import pytest

LAUNCH_TIMEOUT_S = 600  # ~10-20 s alone, much more on a loaded machine


def launch_env() -> dict:
    return {**os.environ, "OMP_NUM_THREADS": "1", "CUDA_VISIBLE_DEVICES": ""}


def free_port() -> int:
    with socket.socket() as s:  # other test runs on this machine may hold torchrun's default 29500
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def launch_two(args: list[str]) -> subprocess.Popen:
    """`accelerate launch` two processes of `python -m calib_eval.cli ARGS`, output piped."""
    launcher = Path(sys.executable).with_name("accelerate")
    if not launcher.exists():
        pytest.skip("accelerate's launcher is not installed")
    cmd = [str(launcher), "launch", "--multi_gpu", "--num_processes", "2", "--num_machines", "1",
           "--mixed_precision", "no", "--dynamo_backend", "no", "--main_process_port", str(free_port()),
           "-m", "calib_eval.cli", *args]
    return subprocess.Popen(cmd, env=launch_env(), stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True)


def finish(proc: subprocess.Popen) -> tuple[int, str]:
    out, _ = proc.communicate(timeout=LAUNCH_TIMEOUT_S)
    return proc.returncode, out


def rank_process(launcher: subprocess.Popen, rank: int):
    """The calib_eval.cli child process of `launcher` whose RANK is `rank`; None if not (yet) there."""
    import psutil

    for child in psutil.Process(launcher.pid).children(recursive=True):
        try:
            if child.environ().get("RANK") == str(rank) and "calib_eval.cli" in " ".join(child.cmdline()):
                return child
        except psutil.Error:
            continue  # exited between listing and reading
    return None
