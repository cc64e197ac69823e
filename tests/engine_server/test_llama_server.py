"""The server engine against a real llama.cpp server on 127.0.0.1 serving the default model's GGUF.

The server is llama.cpp's C++ server from the prebuilt `xllamacpp` wheel
(`pip install 'calib-eval[server-test]'`: a ~34 MB download, nothing to
compile), started and stopped here. Without the wheel, or without the GGUF
(it comes from PyPI the first time), these tests skip with the reason.
"""
from __future__ import annotations

import json
import socket
import subprocess
import sys
import threading
import time
import urllib.request
from pathlib import Path

import pytest

from calib_eval.cli import main

pytestmark = [pytest.mark.server, pytest.mark.filterwarnings("ignore::DeprecationWarning")]


def _free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


class LlamaServer:
    def __init__(self, gguf: Path, log: Path):
        self.gguf, self.log, self.port = gguf, log, _free_port()
        self.proc = subprocess.Popen([sys.executable, "-m", "calib_eval.engines.llama_cpp", str(gguf), "--port",
                                      str(self.port), "--alias", "smollm2"], stdout=log.open("a"),
                                     stderr=subprocess.STDOUT)
        deadline = time.time() + 120
        while time.time() < deadline and self.proc.poll() is None:
            try:
                urllib.request.urlopen(f"{self.url}/models", timeout=2).read()
                return
            except OSError:
                time.sleep(0.5)
        self.stop()
        pytest.fail(f"llama.cpp server did not come up: {log.read_text()[-800:]}")

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.port}/v1"

    def stop(self) -> None:
        if self.proc.poll() is None:
            self.proc.kill()
            self.proc.wait(30)


@pytest.fixture(scope="module")
def gguf() -> Path:
    pytest.importorskip("xllamacpp", reason="the llama.cpp server wheel is absent: pip install 'calib-eval[server-test]'")
    from calib_eval.engines.llama_cpp import gguf_path
    from calib_eval.errors import ModelError

    try:
        return gguf_path("default")
    except ModelError as exc:
        pytest.skip(f"the default model's GGUF is not available offline: {exc}")


@pytest.fixture
def server(gguf, tmp_path):
    running = LlamaServer(gguf, tmp_path / "server.log")
    yield running
    running.stop()


def run(url, tmp_path, data_root, scorers, limit, *extra):
    return main(["run", "--model", f"openai-completions:{url}#smollm2", "--tasks", "mmlu_oe_calib",
                 "--limit", str(limit), "--scorers", scorers, "--output", str(tmp_path / "runs"),
                 "--data-root", str(data_root), "--bootstrap", "20", "--sampling-k", "2", *extra])


def outputs(tmp_path):
    folder = tmp_path / "runs" / "smollm2" / "mmlu_oe_calib"
    rows = [json.loads(line) for line in (folder / "items.jsonl").read_text().splitlines()]
    return json.loads((folder / "results.json").read_text()), rows


def test_every_server_scorer_on_llama_cpp(server, tmp_path, data_root):
    scorers = "perplexity,ua_clm_entropy,zero_shot_classifier,verbalized,sampling,semantic_entropy"
    assert run(server.url, tmp_path, data_root, scorers, 2) == 0
    results, rows = outputs(tmp_path)
    caps = results["engine"]["capabilities"].split(",")
    assert {"token_logprobs", "next_token_logprobs"} <= set(caps) and "n_choices" not in caps  # llama.cpp: n=1 only
    for row in rows:
        s = row["scores"]
        assert row["answer"] and 0.0 < s["perplexity"] <= 1.0 and s["ua_clm_entropy"] < 0.0
        assert 0.0 < s["zero_shot_classifier"] < 1.0 and s["zero_shot_classifier"] != 0.5
        assert 0.0 <= s["verbalized"] <= 1.0 and len(row["samples"]["texts"]) == 2
        assert all(lp < 0.0 for lp in row["samples"]["logprobs"])
    assert results["scorers"]["zero_shot_classifier"]["extra"]["bounded_from_top_k"] == 0


def test_a_server_killed_mid_run_resumes_on_a_new_server(gguf, tmp_path, data_root, capsys):
    first = LlamaServer(gguf, tmp_path / "first.log")
    cache = tmp_path / "runs" / "smollm2" / "mmlu_oe_calib" / "items.partial.jsonl"

    def kill_after_first_batch():
        deadline = time.time() + 600
        while time.time() < deadline and (not cache.exists() or len(cache.read_text().splitlines()) < 3):
            time.sleep(0.2)
        first.stop()

    killer = threading.Thread(target=kill_after_first_batch, daemon=True)
    killer.start()
    code = run(first.url, tmp_path, data_root, "perplexity,verbalized", 4, "--batch-size", "2", "--max-retries", "1")
    killer.join()
    assert code == 2 and "resume" in capsys.readouterr().err
    kept = len(cache.read_text().splitlines()) - 1  # minus the signature line
    assert 2 <= kept < 4
    second = LlamaServer(gguf, tmp_path / "second.log")
    try:
        assert run(second.url, tmp_path, data_root, "perplexity,verbalized", 4, "--batch-size", "2") == 0
    finally:
        second.stop()
    results, rows = outputs(tmp_path)
    assert results["timings"]["items_resumed"] == kept and len(rows) == 4


def test_a_choice_task_on_llama_cpp(server, tmp_path, data_root):
    assert main(["run", "--model", f"openai-completions:{server.url}#smollm2", "--tasks", "mmlu_mc_calib",
                 "--limit", "2", "--scorers", "max_softmax,zero_shot_classifier", "--output", str(tmp_path / "runs"),
                 "--data-root", str(data_root), "--bootstrap", "20"]) == 0
    folder = tmp_path / "runs" / "smollm2" / "mmlu_mc_calib"
    results = json.loads((folder / "results.json").read_text())
    assert results["scorers"]["max_softmax"]["extra"]["options_bounded"] == 0  # every letter was listed
    for line in (folder / "items.jsonl").read_text().splitlines():
        row = json.loads(line)
        assert row["answer_raw"] in (" A", " B", " C", " D") and 0.25 <= row["scores"]["max_softmax"] <= 1.0
