"""The same MMLU-OE items through both engines: in-process Hugging Face vs a llama.cpp server.

    OMP_NUM_THREADS=1 python bench/two_engines.py --items 50 --data-root ../shared/data

The server is llama.cpp's own (xllamacpp wheel) serving the zoo model's
original GGUF on 127.0.0.1; the HF engine loads the de-quantised float32
conversion of that same GGUF. Both run `calib-eval run` with perplexity and
P(True) on one CPU thread each, one after the other. Reported, item by item:
identical greedy answers, P(True) and perplexity agreement (Spearman rank
correlation, max |diff|), and items/s (answer + both scorers, model load
excluded). Prints one markdown block and writes the rows as JSON.
"""
from __future__ import annotations

import argparse
import json
import platform
import socket
import subprocess
import sys
import tempfile
import time
import urllib.request
from pathlib import Path

SCORERS = ("perplexity", "zero_shot_classifier")


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


def start_server(model: str, port: int, log: Path) -> subprocess.Popen:
    """llama.cpp server in a child process; returns once /v1/models answers."""
    proc = subprocess.Popen([sys.executable, "-m", "calib_eval.engines.llama_cpp", model, "--port", str(port),
                             "--alias", model, "--threads", "1"], stdout=log.open("w"), stderr=subprocess.STDOUT)
    deadline = time.time() + 300
    while time.time() < deadline:
        if proc.poll() is not None:
            raise RuntimeError(f"llama.cpp server exited: {log.read_text()[-500:]}")
        try:
            urllib.request.urlopen(f"http://127.0.0.1:{port}/v1/models", timeout=2).read()
            return proc
        except OSError:
            time.sleep(1)
    proc.kill()
    raise RuntimeError("llama.cpp server did not come up in 300 s")


def run_engine(model: str, items: int, data_root, out: Path, batch_size: int) -> tuple[dict, dict]:
    """(id -> items.jsonl row, results.json) of one `calib-eval run`."""
    from calib_eval.runner import RunConfig
    from calib_eval.runner.run import run

    config = RunConfig(model=model, tasks=("mmlu_oe_calib",), scorers=SCORERS, limit=items, device="cpu",
                       output=str(out), data_root=data_root, bootstrap=0, batch_size=batch_size)
    (results_path,) = run(config)
    rows = {}
    for line in (results_path.parent / "items.jsonl").read_text().splitlines():
        row = json.loads(line)
        rows[row["id"]] = row
    return rows, json.loads(results_path.read_text())


def spearman(a: list[float], b: list[float]) -> float:
    from scipy.stats import spearmanr

    return float(spearmanr(a, b).statistic) if len(a) > 2 else float("nan")


def compare(hf: dict, server: dict) -> dict:
    ids = sorted(hf)
    same = [i for i in ids if hf[i]["answer"] == server[i]["answer"]]
    out = {"items": len(ids), "identical_answers": len(same),
           "same_correct_label": sum(hf[i]["correct"] == server[i]["correct"] for i in ids),
           "accuracy_hf": sum(hf[i]["correct"] for i in ids) / len(ids),
           "accuracy_server": sum(server[i]["correct"] for i in ids) / len(ids)}
    for scorer in SCORERS:
        for subset, chosen in (("all", ids), ("same_answer", same)):
            a = [hf[i]["scores"][scorer] for i in chosen]
            b = [server[i]["scores"][scorer] for i in chosen]
            out[f"{scorer}_{subset}_spearman"] = spearman(a, b)
            out[f"{scorer}_{subset}_max_abs_diff"] = max((abs(x - y) for x, y in zip(a, b)), default=float("nan"))
            out[f"{scorer}_{subset}_mean_abs_diff"] = sum(abs(x - y) for x, y in zip(a, b)) / max(len(a), 1)
    return out


def rate(results: dict) -> float:
    t = results["timings"]
    if not t["items_computed"]:
        return float("nan")  # everything resumed from the item cache: nothing was timed
    return t["items_computed"] / (t["generation_s"] + sum(t["scoring_s"].values()))


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--model", default="default", help="zoo model (its GGUF is served, its HF folder loaded)")
    parser.add_argument("--items", type=int, default=50)
    parser.add_argument("--data-root", default=None)
    parser.add_argument("--batch-size", type=int, default=8)
    parser.add_argument("--json", default="bench/two_engines.json", help="where the per-item comparison goes")
    parser.add_argument("--work", default=None, help="run folders (item caches: a re-run resumes); default a temp dir")
    args = parser.parse_args(argv)
    work = Path(args.work) if args.work else Path(tempfile.mkdtemp(prefix="two-engines-"))
    work.mkdir(parents=True, exist_ok=True)
    port = free_port()
    server = start_server(args.model, port, work / "server.log")
    try:
        t0 = time.perf_counter()
        remote, remote_results = run_engine(f"openai-completions:http://127.0.0.1:{port}/v1#{args.model}",
                                            args.items, args.data_root, work / "server", args.batch_size)
        remote_wall = time.perf_counter() - t0
    finally:
        server.terminate()
        server.wait(30)
    t0 = time.perf_counter()
    local, local_results = run_engine(args.model, args.items, args.data_root, work / "hf", args.batch_size)
    local_wall = time.perf_counter() - t0
    report = {**compare(local, remote), "items_per_s_hf": rate(local_results),
              "items_per_s_server": rate(remote_results), "wall_s_hf": local_wall, "wall_s_server": remote_wall,
              "machine": f"{platform.processor() or platform.machine()}, 1 thread per engine, shared host"}
    Path(args.json).write_text(json.dumps({"summary": report, "hf": local, "server": remote}, indent=1))
    print("| measure | value |\n|---|---|")
    for key, value in report.items():
        print(f"| {key} | {value:.4g} |" if isinstance(value, float) else f"| {key} | {value} |")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
