"""A third-party plugin, installed for real, runs from `calib-eval run`, `calib-eval score` and lm-eval.

The plugin is docs/plugins.md's worked example, read from the doc's code
blocks, so the documentation is what gets tested. `pip install --target`
puts it (with its dist-info, so importlib.metadata sees its entry points)
into a folder that only the spawned processes get on PYTHONPATH: this test
process never loads it, and the registries other tests use stay built-in only.
"""
from __future__ import annotations

import json
import os
import re
import subprocess
import sys
from pathlib import Path

import pytest

REPO = Path(__file__).resolve().parents[2]
DOC = REPO / "docs" / "plugins.md"
TASK, SCORER, METRIC = "arc_oe_calib", "mean_token_prob", "overconfidence"
ASK = "ask_yes_no"  # the plugin scorer that also runs inside lm-eval (lm_eval_queries)
LIMIT = 6
TIMEOUT_S = 900  # each subprocess imports torch on a loaded 2-core machine

pytestmark = pytest.mark.filterwarnings("ignore::calib_eval.metrics.UndefinedMetricWarning")


def doc_files(doc: Path = DOC) -> dict[str, str]:
    """`<!-- file: PATH -->` + the fenced block under it, for every such block of the doc."""
    pattern = re.compile(r"<!-- file: (\S+) -->\n```\w*\n(.*?)```", re.S)
    return {path: body for path, body in pattern.findall(doc.read_text(encoding="utf-8"))}


def _env(site: Path) -> dict[str, str]:
    path = os.pathsep.join(filter(None, [str(site), os.environ.get("PYTHONPATH")]))
    return {**os.environ, "PYTHONPATH": path, "OMP_NUM_THREADS": "1", "HF_DATASETS_OFFLINE": "1",
            "HF_HUB_OFFLINE": "1", "TOKENIZERS_PARALLELISM": "false", "CUDA_VISIBLE_DEVICES": ""}


def _run(args: list[str], site: Path, ok: bool = True) -> subprocess.CompletedProcess:
    proc = subprocess.run([sys.executable, *args], env=_env(site), capture_output=True, text=True,
                          timeout=TIMEOUT_S, cwd=site.parent)
    if ok:
        assert proc.returncode == 0, proc.stdout[-2000:] + proc.stderr[-4000:]
    return proc


@pytest.fixture(scope="module")
def plugin_site(tmp_path_factory) -> Path:
    """The doc's plugin package, pip-installed into its own folder."""
    files = doc_files()
    assert {"pyproject.toml", "my_calib_plugin/__init__.py"} <= set(files)
    root = tmp_path_factory.mktemp("plugin")
    for rel, text in files.items():
        (root / "src" / rel).parent.mkdir(parents=True, exist_ok=True)
        (root / "src" / rel).write_text(text, encoding="utf-8")
    site = root / "site"
    subprocess.run([sys.executable, "-m", "pip", "install", "--quiet", "--no-deps", "--no-build-isolation",
                    "--no-index", "--target", str(site), str(root / "src")],
                   check=True, capture_output=True, timeout=TIMEOUT_S)
    assert list(site.glob("my_calib_plugin-*.dist-info/entry_points.txt"))
    return site


def _rows(path: Path) -> list[dict]:
    return [json.loads(line) for line in path.read_text().splitlines() if line.strip()]


@pytest.fixture(scope="module")
def plugin_run(plugin_site, tiny_model_dir, data_root) -> Path:
    """`calib-eval run` of the plugin task with the plugin scorer, a built-in raw score and P(True)."""
    out = plugin_site.parent / "run"
    _run(["-m", "calib_eval.cli", "run", "--model", str(tiny_model_dir), "--tasks", TASK, "--scorers",
          f"{SCORER},{ASK},perplexity,zero_shot_classifier", "--limit", str(LIMIT), "--bootstrap", "0",
          "--batch-size", "2", "--device", "cpu", "--data-root", str(data_root), "--output", str(out)], plugin_site)
    return next(out.rglob(TASK))


def test_the_cli_lists_the_plugin_scorers_and_task(plugin_site):
    script = "from calib_eval.cli import main; main(['scorers']); print('--'); main(['tasks', 'list'])"
    scorers, tasks = _run(["-c", script], plugin_site).stdout.split("\n--\n")
    assert re.search(rf"^{SCORER}\s+raw score\s+generate\s+Mean token probability", scorers, re.M)
    assert re.search(rf"^{ASK}\s+probability\s+generate\s+P\(yes\)", scorers, re.M)
    assert "zero_shot_classifier" in scorers  # the built-ins are still there
    assert re.search(rf"^{TASK}\s+generate\s+ARC-Challenge", tasks, re.M)


def test_calib_eval_run_scores_the_plugin_task_with_the_plugin_scorer_and_metric(plugin_run):
    results = json.loads((plugin_run / "results.json").read_text())
    rows = _rows(plugin_run / "items.jsonl")
    assert results["task"] == TASK and results["n"] == len(rows) == LIMIT
    assert all(r["id"].startswith("arc_challenge/test/") for r in rows)
    assert set(results["scorers"]) == {SCORER, ASK, "perplexity", "zero_shot_classifier"}
    assert all(0 < r["scores"][ASK] < 1 for r in rows)
    assert results["scorers"][SCORER]["auroc"] is not None
    used = results["provenance"]["plugins"]  # which package versions made these numbers
    assert len(used) == 4 and all(p.endswith("of package my-calib-plugin 0.1.0") for p in used)
    assert any(p.startswith(f"entry point `{ASK} = my_calib_plugin:AskYesNo` (group calib_eval.scorers)") for p in used)
    # arithmetic mean of token probabilities >= their geometric mean (perplexity's score): AM-GM
    assert all(r["scores"][SCORER] >= r["scores"]["perplexity"] - 1e-9 for r in rows)
    assert any(r["scores"][SCORER] > r["scores"]["perplexity"] + 1e-6 for r in rows)
    # the metric plugin on a probability scorer: mean confidence minus accuracy of these very rows
    ptrue = results["scorers"]["zero_shot_classifier"]["plugin_metrics"][METRIC]["estimate"]
    expected = sum(r["scores"]["zero_shot_classifier"] for r in rows) / LIMIT - sum(r["correct"] for r in rows) / LIMIT
    assert ptrue == pytest.approx(expected, abs=1e-12)


LM_EVAL_SCRIPT = """
import json, sys
from pathlib import Path
import lm_eval
from lm_eval.tasks import TaskManager
from calib_eval.harness.install import install_tasks

model, data_root, out = sys.argv[1:4]
stubs = install_tasks(Path(out) / "lm_eval_tasks")  # as `calib-eval tasks install`, into a scratch folder
tm = TaskManager(include_path=str(stubs), include_defaults=False,
                 metadata={"data_root": data_root, "scorers": %r})  # as lm_eval --metadata
res = lm_eval.simple_evaluate(model="hf", model_args=f"pretrained={model},dtype=float32", tasks=[%r],
                              limit=%d, task_manager=tm, log_samples=True, bootstrap_iters=0, batch_size=1,
                              device="cpu")
samples = res["samples"][%r]
Path(out, "samples_%s_2026-12-03T00-00-00.000000.jsonl").write_text(
    "".join(json.dumps(s, default=str) + "\\n" for s in samples))
Path(out, "results.json").write_text(json.dumps(res["results"], default=str))
""" % (ASK, TASK, LIMIT, TASK, TASK)


def test_lm_eval_runs_the_plugin_task_and_metric_and_calib_eval_scores_its_answers(
        plugin_site, plugin_run, tiny_model_dir, data_root):
    out = plugin_site.parent / "lm"
    out.mkdir()
    _run(["-c", LM_EVAL_SCRIPT, str(tiny_model_dir), str(data_root), str(out)], plugin_site)
    stub = out / "lm_eval_tasks" / "calib_eval" / f"{TASK}.yaml"
    assert "calib_eval.harness.registered.RegisteredTask" in stub.read_text()
    results = json.loads((out / "results.json").read_text())[TASK]
    samples = _rows(next(out.glob(f"samples_{TASK}_*.jsonl")))
    pairs = [s["calib_ece"] for s in samples]  # (P(True), correct) per doc
    expected = sum(c for c, _ in pairs) / len(pairs) - results["calib_acc,none"]
    assert results[f"calib_{METRIC},none"] == pytest.approx(expected, abs=1e-9)

    # the in-lm-eval scorer: its metrics, computed from its own queries' log-likelihoods
    assert {f"calib_{ASK}_{k},none" for k in ("auroc", "ece_recal", "ece", "brier")} <= set(results)
    asked = [s[f"calib_{ASK}_ece"] for s in samples]
    assert [k for _, k in asked] == [k for _, k in pairs]
    assert [c for c, _ in asked] != pytest.approx([c for c, _ in pairs], abs=1e-6)  # not P(True) again
    assert all(s["arguments"][3][0].endswith("Is the answer above correct? Answer yes or no.\nAnswer:")
               for s in samples)

    # the same items, answers and grades as `calib-eval run`
    rows = {r["id"]: r for r in _rows(plugin_run / "items.jsonl")}
    assert [s["doc"]["id"] for s in samples] == list(rows)
    assert [bool(k) for _, k in pairs] == [rows[s["doc"]["id"]]["correct"] for s in samples]

    # the scorer plugin on lm-eval's logged answers: calib-eval score reads them, regenerates nothing
    log = next(out.glob(f"samples_{TASK}_*.jsonl"))
    _run(["-m", "calib_eval.cli", "score", "--generations", str(log), "--scorers", f"{SCORER},{ASK},perplexity",
          "--scorer-model", str(tiny_model_dir), "--bootstrap", "0", "--device", "cpu",
          "--data-root", str(data_root), "--output", str(out / "rescored")], plugin_site)
    rescored = next((out / "rescored").rglob("items.jsonl"))
    assert set(json.loads((rescored.parent / "results.json").read_text())["scorers"]) == {SCORER, ASK, "perplexity"}
    logged = {s["doc"]["id"]: s["resps"][0][0].split("\n")[0].strip() for s in samples}
    again = _rows(rescored)
    assert {r["id"]: r["answer"].strip() for r in again} == logged
    # re-tokenised text, so not the run's numbers to the digit; AM >= GM holds on any tokens
    assert all(r["scores"][SCORER] >= r["scores"]["perplexity"] - 1e-9 for r in again)
    assert any(r["scores"][SCORER] > r["scores"]["perplexity"] + 1e-6 for r in again)
    # AskYesNo.score (calib-eval's KV cache) and from_loglikelihoods (lm-eval's requests) agree on the same answers
    in_lm_eval = {s["doc"]["id"]: s[f"calib_{ASK}_ece"][0] for s in samples}
    assert [r["scores"][ASK] for r in again] == pytest.approx([in_lm_eval[r["id"]] for r in again], abs=1e-4)


def _broken_site(tmp_path: Path, entry: str) -> Path:
    """A hand-written dist-info declaring one calib_eval.scorers entry point (no code behind it)."""
    site = tmp_path / "site"
    info = site / "broken_calib_plugin-0.3.dist-info"
    info.mkdir(parents=True)
    (info / "METADATA").write_text("Metadata-Version: 2.1\nName: broken-calib-plugin\nVersion: 0.3\n")
    (info / "entry_points.txt").write_text(f"[calib_eval.scorers]\n{entry}\n")
    return site


def test_a_broken_plugin_stops_the_cli_with_one_line_naming_it(tmp_path):
    site = _broken_site(tmp_path, "ghost = no_such_module_xyz:Ghost")
    proc = _run(["-m", "calib_eval.cli", "scorers"], site, ok=False)
    assert proc.returncode == 2 and "Traceback" not in proc.stderr
    line = proc.stderr.strip()
    assert "entry point `ghost = no_such_module_xyz:Ghost`" in line and "calib_eval.scorers" in line
    assert "broken-calib-plugin 0.3" in line and "No module named 'no_such_module_xyz'" in line
