"""`calib-eval run --model openai-completions:...` end to end against the fake server (normal CI).

The scores must be the numbers the fake's log-probs imply, scorers the
server cannot serve are skipped (and said so) or refused, and a server that
dies mid-run loses no finished item.
"""
from __future__ import annotations

import json
import math

import pytest
from fake_openai import FakeServer, p_true

from calib_eval.cli import main
from calib_eval.engines.completions import topk_entropy

pytestmark = pytest.mark.filterwarnings("ignore::DeprecationWarning")


def run(fake, tmp_path, data_root, scorers, *extra, limit=3, model="tiny"):
    return main(["run", "--model", f"openai-completions:{fake.url}#{model}", "--tasks", "mmlu_oe_calib",
                 "--limit", str(limit), "--scorers", scorers, "--output", str(tmp_path / "runs"),
                 "--data-root", str(data_root), "--bootstrap", "20", "--sampling-k", "3", *extra])


def outputs(tmp_path, model="tiny"):
    folder = tmp_path / "runs" / model / "mmlu_oe_calib"
    rows = [json.loads(line) for line in (folder / "items.jsonl").read_text().splitlines()]
    return json.loads((folder / "results.json").read_text()), rows


@pytest.mark.parametrize("layout", ["openai", "llama.cpp"])
def test_every_server_scorer_reads_the_servers_logprobs(tmp_path, data_root, layout):
    with FakeServer(layout=layout, n_choices=layout == "openai") as fake:
        code = run(fake, tmp_path, data_root, "perplexity,ua_clm_entropy,zero_shot_classifier,verbalized,"
                                              "sampling,semantic_entropy")
    assert code == 0
    results, rows = outputs(tmp_path)
    assert results["engine"]["served_model"] == "tiny" and results["model"]["source"] == "openai-completions:tiny"
    entropy = (topk_entropy({" Par": -0.1, " Lon": -2.5}) + topk_entropy({"is": -0.05, "ma": -3.0})) / 2
    for row in rows:
        assert row["answer_raw"] == " Paris"
        assert row["scores"]["perplexity"] == pytest.approx(math.exp((-0.1 - 0.05) / 2))
        assert row["scores"]["ua_clm_entropy"] == pytest.approx(-entropy)
        assert row["scores"]["zero_shot_classifier"] == pytest.approx(p_true())
        assert row["scores"]["verbalized"] == pytest.approx(0.8)
        assert row["scores"]["sampling"] == 1.0  # every sample says Paris, as the greedy answer
        assert row["samples"]["texts"] == [" Paris"] * 3 and row["samples"]["n_tokens"] == [2] * 3
    # llama.cpp refuses n > 1: the k samples went as k seeded requests
    sample_bodies = [b for b in fake.requests if b.get("temperature") == 1.0]
    if layout == "llama.cpp":
        assert sorted(b["seed"] for b in sample_bodies) == sorted(list(range(3)) * 3)
    else:
        assert [b["n"] for b in sample_bodies] == [3, 3, 3]


def test_a_server_without_logprobs_still_runs_verbalized_and_sampling(tmp_path, data_root, capsys):
    with FakeServer(logprobs=False) as fake:
        code = run(fake, tmp_path, data_root, "perplexity,zero_shot_classifier,verbalized,sampling,semantic_entropy")
    assert code == 0
    out = capsys.readouterr().out
    assert "skipping scorer perplexity: the server returns no token_logprobs" in out
    assert "skipping scorer zero_shot_classifier: the server returns no next_token_logprobs" in out
    results, rows = outputs(tmp_path)
    assert set(results["scorers"]) == {"verbalized", "sampling"}
    skipped = results["engine"]["skipped_scorers"]
    assert all(name in skipped for name in ("perplexity", "zero_shot_classifier", "semantic_entropy"))
    assert all(set(r["scores"]) == {"verbalized", "sampling"} for r in rows)


@pytest.mark.parametrize("scorer, needs", [("probe", "adapter and hidden_states"), ("lora_prompt", "adapter")])
def test_scorers_that_need_the_weights_are_refused(tmp_path, data_root, capsys, scorer, needs):
    with FakeServer() as fake:
        assert run(fake, tmp_path, data_root, f"verbalized,{scorer}") == 2
        assert fake.completions == 0  # refused before any item ran
    err = capsys.readouterr().err.strip().splitlines()
    assert len(err) == 1 and f"scorer {scorer!r} needs {needs}" in err[0] and "Traceback" not in err[0]


def one_error(capsys) -> str:
    err = capsys.readouterr().err.strip().splitlines()
    assert len(err) == 1, err
    return err[0]


def test_unknown_served_model_and_http_500_are_one_named_line(tmp_path, data_root, capsys):
    with FakeServer(models=("tiny",)) as fake:
        assert run(fake, tmp_path, data_root, "verbalized", model="tyni") == 2
        assert "Unknown served model (at" in one_error(capsys)
        fake.failures = [500] * 50
        assert run(fake, tmp_path, data_root, "verbalized", "--max-retries", "1") == 2
        assert "failed 2 times; last: HTTP 500" in one_error(capsys)


def test_a_server_that_dies_mid_run_loses_no_finished_item(tmp_path, data_root, capsys):
    args = ("--batch-size", "2", "--max-retries", "1", "--concurrency", "1")
    with FakeServer() as fake:
        # open: /models + 2 probes; then per batch of 2: 2 answers + 2 verbalized replies
        fake.die_after = 2 + 4 * 2
        assert run(fake, tmp_path, data_root, "verbalized", *args, limit=6) == 2
    assert "resume" in one_error(capsys)
    cache = tmp_path / "runs" / "tiny" / "mmlu_oe_calib" / "items.partial.jsonl"
    finished = [json.loads(line)["id"] for line in cache.read_text().splitlines()[1:]]
    assert len(finished) == 4
    with FakeServer() as restarted:  # another port: the cache belongs to the served model, not the URL
        assert run(restarted, tmp_path, data_root, "verbalized", *args, limit=6) == 0
        answered = [b["prompt"] for b in restarted.requests if b.get("max_tokens") != 1 and "logprobs" in b]
    results, rows = outputs(tmp_path)
    assert results["timings"]["items_resumed"] == 4 and results["timings"]["items_computed"] == 2
    assert len(rows) == 6 and len(answered) == 2


def test_adapters_are_refused_before_any_request(tmp_path, data_root, capsys):
    with FakeServer() as fake:
        assert run(fake, tmp_path, data_root, "verbalized", "--adapter", "verbalized=adapters/x") == 2
        assert "--adapter needs the model's weights" in one_error(capsys)
        assert fake.completions == 0 and not (tmp_path / "runs").exists()


def test_choice_tasks_pick_the_likeliest_letter(tmp_path, data_root):
    with FakeServer() as fake:
        code = main(["run", "--model", f"openai-completions:{fake.url}#tiny", "--tasks", "mmlu_mc_calib",
                     "--limit", "6", "--scorers", "max_softmax,zero_shot_classifier,verbalized",
                     "--output", str(tmp_path / "runs"), "--data-root", str(data_root), "--bootstrap", "20"])
    assert code == 0
    folder = tmp_path / "runs" / "tiny" / "mmlu_mc_calib"
    rows = [json.loads(line) for line in (folder / "items.jsonl").read_text().splitlines()]
    top = {" A": -1.2, " B": -0.7, " C": -2.0, " D": -2.5}
    for row in rows:
        assert row["answer_raw"] == " B" and row["grade_detail"] == "label B"
        assert row["scores"]["max_softmax"] == pytest.approx(math.exp(-0.7) / sum(math.exp(v) for v in top.values()))
        assert row["scores"]["zero_shot_classifier"] == pytest.approx(p_true())
    assert sum(row["correct"] for row in rows) == 1  # of the first 6 items, only the 6th has answer B


def test_choice_tasks_need_next_token_logprobs(tmp_path, data_root, capsys):
    with FakeServer(logprobs=False) as fake:
        code = main(["run", "--model", f"openai-completions:{fake.url}#tiny", "--tasks", "mmlu_mc_calib",
                     "--scorers", "verbalized", "--output", str(tmp_path / "runs"), "--data-root", str(data_root)])
    assert code == 2 and "is multiple choice: picking an option needs next-token log-probs" in one_error(capsys)


@pytest.mark.parametrize("rank, vocab, cap, retries, bounded", [
    (50, None, None, 3, 0),  # llama.cpp-like: the top-1000 retry finds both tokens
    (1500, 2000, None, 6, 0),  # ... or only the whole vocabulary (its size from /models) does
    (1500, None, None, 3, 3),  # no vocabulary size: the bound, counted
    (50, None, 20, 0, 3),  # vLLM-like (--max-logprobs 20): the retry is refused, the bound is counted
])
def test_ptrue_widens_the_top_k_and_records_a_bound(tmp_path, data_root, rank, vocab, cap, retries, bounded):
    with FakeServer(query_rank=rank, max_logprobs=cap, n_vocab=vocab) as fake:
        assert run(fake, tmp_path, data_root, "zero_shot_classifier", "--batch-size", "3") == 0
    results, rows = outputs(tmp_path)
    assert [r["scores"]["zero_shot_classifier"] for r in rows] == pytest.approx([0.5 if bounded else p_true()] * 3)
    extra = results["scorers"]["zero_shot_classifier"]["extra"]
    assert extra["bounded_from_top_k"] == bounded and extra["wide_top_k_retries"] == retries
