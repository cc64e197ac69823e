"""The run and score commands end to end on a tiny model folder."""
from __future__ import annotations

import json

import pytest

from calib_eval.cli import main
from calib_eval.errors import UnknownNameError
from calib_eval.provenance import portable
from calib_eval.results import read_results
from calib_eval.runner import RunConfig, run
from calib_eval.runner.rescore import rescore


def _config(tiny_model_dir, data_root, out, **kw):
    base = dict(model=str(tiny_model_dir), tasks=("mmlu_oe_calib",), scorers=("perplexity", "zero_shot_classifier"),
                limit=4, output=str(out), bootstrap=50, data_root=str(data_root), batch_size=3)
    return RunConfig(**{**base, **kw})


def test_run_writes_results_and_items_for_each_task(tiny_model_dir, data_root, tmp_path):
    cfg = _config(tiny_model_dir, data_root, tmp_path, tasks=("mmlu_oe_calib", "medqa_ood_calib"),
                  scorers=("perplexity", "zero_shot_classifier", "max_softmax"))
    paths = run(cfg)
    assert len(paths) == 2
    oe, mc = (read_results(p) for p in paths)
    assert set(oe["scorers"]) == {"perplexity", "zero_shot_classifier"}  # max_softmax is MC-only
    assert set(mc["scorers"]) == {"zero_shot_classifier", "max_softmax"}
    assert oe["scorers"]["perplexity"]["is_probability"] is False
    items = [json.loads(l) for l in (paths[0].parent / "items.jsonl").read_text().splitlines()]
    assert len(items) == 4 and all(set(i["scores"]) == {"perplexity", "zero_shot_classifier"} for i in items)


def test_a_killed_run_resumes_from_finished_items(tiny_model_dir, data_root, tmp_path):
    run(_config(tiny_model_dir, data_root, tmp_path, limit=3))
    partial = next(tmp_path.rglob("items.partial.jsonl"))
    with open(partial, "a") as handle:
        handle.write('{"id": "torn')  # the process died mid-write
    path = run(_config(tiny_model_dir, data_root, tmp_path, limit=5))[0]
    timings = read_results(path)["timings"]
    assert (timings["items_resumed"], timings["items_computed"]) == (3, 2)
    assert read_results(path)["n"] == 5


def test_a_resumed_row_the_current_grader_labels_differently_is_recomputed(tiny_model_dir, data_root, tmp_path):
    """Item caches outlive grader versions: a row whose label no longer matches today's grader reruns."""
    run(_config(tiny_model_dir, data_root, tmp_path, limit=3))
    partial = next(tmp_path.rglob("items.partial.jsonl"))
    header, *rows = partial.read_text().splitlines()
    first = json.loads(rows[0])
    first["correct"] = not first["correct"]  # as an older grader might have judged it
    partial.write_text("\n".join([header, json.dumps(first), *rows[1:]]) + "\n")
    path = run(_config(tiny_model_dir, data_root, tmp_path, limit=3))[0]
    timings = read_results(path)["timings"]
    assert (timings["items_resumed"], timings["items_computed"], timings["items_relabelled"]) == (2, 1, 1)
    items = {r["id"]: r for r in map(json.loads, (path.parent / "items.jsonl").read_text().splitlines())}
    assert items[first["id"]]["correct"] is (not first["correct"])  # today's label, recomputed


def test_rescoring_saved_generations_reproduces_the_live_scores(tiny_model_dir, data_root, tmp_path):
    path = run(_config(tiny_model_dir, data_root, tmp_path / "live"))[0]
    items = path.parent / "items.jsonl"
    import io

    from rich.console import Console

    shown = io.StringIO()
    again = rescore(items, _config(tiny_model_dir, data_root, tmp_path / "again"),
                    console=Console(file=shown, width=120))[0]
    live = {r["id"]: r["scores"] for r in map(json.loads, items.read_text().splitlines())}
    assert "scoring" in shown.getvalue() and f"{len(live)}/{len(live)}" in shown.getvalue()  # a progress bar
    redo = {r["id"]: r["scores"] for r in map(json.loads, (again.parent / "items.jsonl").read_text().splitlines())}
    for item_id, scores in live.items():
        assert redo[item_id]["zero_shot_classifier"] == pytest.approx(scores["zero_shot_classifier"], abs=1e-3)  # padding layout differs between the two batchings
        assert redo[item_id]["perplexity"] == pytest.approx(scores["perplexity"], abs=1e-3)  # padding layout differs between the two batchings
    # which answers were judged, as a path that does not leak this machine's layout
    assert json.loads(again.read_text())["config"]["rescored_from"] == portable(str(items))


def test_a_killed_rescoring_resumes_and_another_input_file_starts_over(tiny_model_dir, data_root, tmp_path):
    """`calib-eval score` keeps finished items like `run` does, but never mixes in another file's."""
    items = run(_config(tiny_model_dir, data_root, tmp_path / "live"))[0].parent / "items.jsonl"
    first = rescore(items, _config(tiny_model_dir, data_root, tmp_path / "again"))[0]
    partial = first.parent / "items.partial.jsonl"
    header, *rows = partial.read_text().splitlines()
    assert len(rows) == 4
    partial.write_text("\n".join([header, *rows[:2]]) + '\n{"id": "torn')  # killed after two items, mid-write
    again = rescore(items, _config(tiny_model_dir, data_root, tmp_path / "again"))[0]
    timings = read_results(again)["timings"]
    assert (timings["items_resumed"], timings["items_computed"]) == (2, 2)
    before, after = ({r["id"]: r["scores"] for r in map(json.loads, (p.parent / "items.jsonl").read_text().splitlines())}
                     for p in (first, again))
    assert before.keys() == after.keys()
    for item_id, scores in before.items():  # the two re-scored items were batched differently: padding differs
        assert after[item_id] == pytest.approx(scores, abs=1e-3)

    edited = [json.loads(l) for l in items.read_text().splitlines()]
    edited[0]["answer_raw"] = edited[0]["answer"] = " something else"
    other = tmp_path / "other.jsonl"
    other.write_text("".join(json.dumps(r) + "\n" for r in edited))
    fresh = read_results(rescore(other, _config(tiny_model_dir, data_root, tmp_path / "again"))[0])["timings"]
    assert (fresh["items_resumed"], fresh["items_computed"]) == (0, 4)


def test_rescoring_regrades_open_answers_and_skips_items_the_task_now_excludes(tiny_model_dir, data_root, tmp_path):
    """Labels follow today's grader, and an item dropped by the task's keep filter is skipped, not an error."""
    from dataclasses import replace

    from calib_eval.task_specs import get_task, load_task_examples

    spec = get_task("mmlu_oe_calib")
    excluded = next(ex for ex in load_task_examples(replace(spec, keep=None), None, data_root) if not spec.keep(ex))
    path = run(_config(tiny_model_dir, data_root, tmp_path / "live", limit=3))[0]
    items = path.parent / "items.jsonl"
    rows = [json.loads(l) for l in items.read_text().splitlines()]
    ex = next(e for e in load_task_examples(spec, None, data_root) if e.id == rows[0]["id"])
    rows[0]["answer_raw"], rows[0]["correct"] = ex.references[0], False  # a right answer labelled wrong by an old grader
    rows.append({**rows[1], "id": excluded.id})
    items.write_text("".join(json.dumps(r) + "\n" for r in rows))
    again = rescore(items, _config(tiny_model_dir, data_root, tmp_path / "again"))[0]
    redo = {r["id"]: r for r in map(json.loads, (again.parent / "items.jsonl").read_text().splitlines())}
    assert excluded.id not in redo and len(redo) == 3
    assert redo[rows[0]["id"]]["correct"] is True


def test_cli_names_unknown_tasks_and_scorers(capsys):
    assert main(["run", "--tasks", "mmlu_oe_calb", "--model", "default"]) == 2
    assert "mmlu_oe_calib" in capsys.readouterr().err
    assert main(["run", "--scorers", "perplexty"]) == 2
    assert "perplexity" in capsys.readouterr().err


def test_cli_rejects_a_malformed_adapter_flag(capsys):
    assert main(["run", "--adapter", "lora_prompt"]) == 2
    assert "NAME=PATH" in capsys.readouterr().err


def test_unknown_offline_model_name_suggests_the_close_one():
    from calib_eval.models import resolve_model_source

    with pytest.raises(UnknownNameError, match="gemma3-270m"):
        resolve_model_source("gemma3-27m")


def test_data_parallel_shards_split_the_items_and_rank_zero_merges(tiny_model_dir, data_root, tmp_path, monkeypatch):
    """Two `accelerate launch` processes, simulated one after the other (barrier is a no-op here)."""
    from calib_eval.runner.parallel import Shard

    monkeypatch.setattr(Shard, "barrier", lambda self: None)
    cfg = _config(tiny_model_dir, data_root, tmp_path, limit=5)
    monkeypatch.setenv("WORLD_SIZE", "2")
    monkeypatch.setenv("RANK", "1")
    assert run(cfg) == []  # a worker writes only its shard
    monkeypatch.setenv("RANK", "0")
    path = run(cfg)[0]
    payload = read_results(path)
    assert payload["n"] == 5
    assert (payload["timings"]["items_resumed"], payload["timings"]["items_computed"]) == (2, 3)


def test_items_sharing_a_few_shot_prefix_reuse_its_cache_and_match_solo_runs(tiny_model_dir, data_root, tmp_path,
                                                                             monkeypatch):
    """Three questions of one subject share the 5-shot header: cached once, same scores as without sharing."""
    from functools import partial

    import importlib

    from calib_eval.data import load_dataset

    runner_run = importlib.import_module("calib_eval.runner.run")  # the module, not the function it exports

    same_subject = [e for e in load_dataset("mmlu", split="test", data_root=data_root)
                    if e.metadata["subject"] == "anatomy"][:3]
    monkeypatch.setattr(runner_run, "load_task_examples", lambda spec, limit, root: same_subject)
    shared = run(_config(tiny_model_dir, data_root, tmp_path / "shared", limit=3))[0]
    # now force every item to encode its header inline (no sharing)
    monkeypatch.setattr(runner_run, "unshare_small_groups", partial(runner_run.unshare_small_groups, min_group=99))
    solo = run(_config(tiny_model_dir, data_root, tmp_path / "solo", limit=3))[0]
    a = {r["id"]: r["scores"] for r in map(json.loads, (shared.parent / "items.jsonl").read_text().splitlines())}
    b = {r["id"]: r["scores"] for r in map(json.loads, (solo.parent / "items.jsonl").read_text().splitlines())}
    for item_id in a:
        assert a[item_id]["zero_shot_classifier"] == pytest.approx(b[item_id]["zero_shot_classifier"], abs=1e-4)



def test_cli_abstain_alpha_adds_a_conformal_record_per_scorer(tiny_model_dir, data_root, tmp_path):
    assert main(["run", "--model", str(tiny_model_dir), "--tasks", "mmlu_oe_calib", "--limit", "6",
                 "--scorers", "perplexity,zero_shot_classifier", "--bootstrap", "10", "--data-root", str(data_root),
                 "--output", str(tmp_path), "--abstain-alpha", "0.2", "--abstain-delta", "0.05"]) == 0
    payload = read_results(next(tmp_path.rglob("results.json")))
    assert payload["config"]["abstain_alpha"] == 0.2
    for entry in payload["scorers"].values():
        rec = entry["conformal_abstention"]
        assert (rec["alpha"], rec["delta"], rec["n_cal"] + rec["n_test"]) == (0.2, 0.05, 6)
        assert "prr" in entry and "smece" in entry


def test_abstain_levels_are_validated():
    with pytest.raises(ValueError, match="abstain_alpha must be in"):
        RunConfig(abstain_alpha=1.5)


def test_rescoring_encodes_a_shared_few_shot_prefix_once(tiny_model_dir, data_root, tmp_path, monkeypatch):
    """Items of one MMLU subject share the 5-shot header: scored from its cache, same scores as inline."""
    import functools
    import importlib

    from calib_eval.task_specs import get_task, load_task_examples

    run_module = importlib.import_module("calib_eval.runner.run")  # the module, not the function it exports

    spec = get_task("mmlu_mc_calib")
    examples = load_task_examples(spec, None, str(data_root))
    subject = examples[0].metadata["subject"]
    same = [ex for ex in examples if ex.metadata["subject"] == subject][:5]
    items = tmp_path / "items.jsonl"
    items.write_text("".join(json.dumps({"id": ex.id, "task": "mmlu_mc_calib", "answer": "A", "answer_raw": " A",
                                         "correct": i % 2 == 0}) + "\n" for i, ex in enumerate(same)))
    cfg = lambda out: _config(tiny_model_dir, data_root, tmp_path / out, tasks=("mmlu_mc_calib",),  # noqa: E731
                              scorers=("zero_shot_classifier",), batch_size=2)
    encodes = []
    real_encode = run_module.encode_prefix
    monkeypatch.setattr(run_module, "encode_prefix", lambda *a, **k: encodes.append(1) or real_encode(*a, **k))
    cached = rescore(items, cfg("cached"))[0]
    assert len(encodes) == 1  # three batches, one prefix encode
    # the reference: every prompt whole, no prefix cache at all
    monkeypatch.setattr(run_module, "unshare_small_groups",
                        functools.partial(run_module.unshare_small_groups, min_group=len(same) + 1))
    whole = rescore(items, cfg("inline"))[0]

    def scores(path):
        return {r["id"]: r["scores"]["zero_shot_classifier"]
                for r in map(json.loads, (path.parent / "items.jsonl").read_text().splitlines())}

    assert len(scores(cached)) == 5
    assert scores(cached) == pytest.approx(scores(whole), abs=1e-4)
