"""Data parallelism for real: two processes under `accelerate launch`, and one of them killed.

`accelerate launch --cpu --num_processes 2` starts ONE process unless mpirun is
set up (accelerate's simple launcher); `--multi_gpu --num_processes 2` goes
through torchrun and, on a machine without GPUs, runs two CPU processes over
gloo. That is what these tests launch. They spawn interpreters that each load
torch and a tiny model on a shared 2-core machine: slow-marked.
"""
from __future__ import annotations

import json
import os
import signal
import subprocess
import time
from pathlib import Path

import pytest

from calib_eval.cli import main
from launched_ranks import LAUNCH_TIMEOUT_S, finish, launch_two, rank_process

pytestmark = pytest.mark.slow

TASK = "bioasq_ood_calib"


def _run_args(model_dir, data_root, out: Path, limit: int) -> list[str]:
    return ["run", "--model", str(model_dir), "--tasks", TASK, "--scorers", "perplexity,zero_shot_classifier",
            "--limit", str(limit), "--batch-size", "1", "--bootstrap", "20", "--data-root", str(data_root),
            "--device", "cpu", "--output", str(out)]


def _task_dir(out: Path) -> Path:
    return next(out.rglob(TASK))


def _rows(path: Path) -> list[dict]:
    """Rows of items.jsonl, or of a partial cache (its first line is the signature header)."""
    lines = [json.loads(line) for line in path.read_text().splitlines() if line.strip()]
    return [r for r in lines if "signature" not in r]


def _results(out: Path) -> dict:
    return json.loads((_task_dir(out) / "results.json").read_text())


def test_two_processes_give_the_one_process_results_item_for_item(tiny_model_dir, data_root, tmp_path):
    assert main(_run_args(tiny_model_dir, data_root, tmp_path / "one", 8)) == 0
    code, log = finish(launch_two(_run_args(tiny_model_dir, data_root, tmp_path / "two", 8)))
    assert code == 0, log[-3000:]

    shards = sorted(p.name for p in _task_dir(tmp_path / "two").glob("items.partial*.jsonl"))
    assert shards == ["items.partial.rank0.jsonl", "items.partial.rank1.jsonl"]  # two ranks really ran
    assert [len(_rows(_task_dir(tmp_path / "two") / s)) for s in shards] == [4, 4]
    one, two = (_rows(_task_dir(tmp_path / side) / "items.jsonl") for side in ("one", "two"))
    assert [r["id"] for r in one] == [r["id"] for r in two]
    assert one == two  # answers, grades and every score, item for item
    assert _results(tmp_path / "one")["scorers"] == _results(tmp_path / "two")["scorers"]


def _kill_rank_after_first_items(launcher: subprocess.Popen, cache: Path, rank: int, deadline_s: float) -> None:
    """SIGKILL `rank` as soon as its cache holds a finished item (like a node lost mid-run)."""
    stop = time.monotonic() + deadline_s
    while time.monotonic() < stop and launcher.poll() is None:
        worker = rank_process(launcher, rank)
        if worker is not None and cache.exists() and _rows(cache):
            os.kill(worker.pid, signal.SIGKILL)
            return
        time.sleep(0.02)
    pytest.fail(f"rank {rank} wrote no item within {deadline_s:.0f} s (launcher exit code {launcher.poll()})")


def test_a_killed_rank_loses_no_finished_item_and_the_rerun_matches(tiny_model_dir, data_root, tmp_path):
    limit = 24  # 12 items per rank, one per batch: a window of many batches to kill rank 1 in
    assert main(_run_args(tiny_model_dir, data_root, tmp_path / "reference", limit)) == 0
    args = _run_args(tiny_model_dir, data_root, tmp_path / "killed", limit)

    launcher = launch_two(args)
    cache = tmp_path / "killed" / Path(str(tiny_model_dir)).as_posix().replace("/", "__") / TASK
    _kill_rank_after_first_items(launcher, cache / "items.partial.rank1.jsonl", 1, LAUNCH_TIMEOUT_S)
    code, log = finish(launcher)
    assert code != 0, log[-3000:]  # torchrun saw its worker die and stopped the run
    assert not (cache / "items.jsonl").exists()
    finished = {p.name: _rows(p) for p in cache.glob("items.partial.rank*.jsonl")}
    assert 0 < len(finished["items.partial.rank1.jsonl"]) < limit // 2  # killed mid-run, with items done

    code, log = finish(launch_two(args))
    assert code == 0, log[-3000:]
    final = _rows(cache / "items.jsonl")
    by_id = {r["id"]: r for r in final}
    for rows in finished.values():  # every item finished before the kill is in the results, unchanged
        assert all(by_id[r["id"]] == r for r in rows)
    for shard in cache.glob("items.partial.rank*.jsonl"):  # resumed, not recomputed: each id once
        ids = [r["id"] for r in _rows(shard)]
        assert len(ids) == len(set(ids)) == limit // 2
    resumed = _results(tmp_path / "killed")["timings"]["items_resumed"]
    assert resumed >= sum(len(rows) for rows in finished.values())
    assert final == _rows(_task_dir(tmp_path / "reference") / "items.jsonl")  # as if never interrupted
