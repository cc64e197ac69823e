"""Batches ordered by few-shot prefix: each shared prefix is encoded once per run."""
from __future__ import annotations

import importlib
from collections import Counter

from calib_eval.inference.batching import length_sorted_batches
from calib_eval.runner import RunConfig, run

runner_run = importlib.import_module("calib_eval.runner.run")  # the module, not the function it exports


def test_prefix_ordered_keeps_every_batch_and_longest_first():
    lengths = [9, 8, 7, 6, 5, 4, 3, 2]
    prefixes = ["a", "b", "a", "b", "c", "a", "c", "b"]
    batches = length_sorted_batches(lengths, 1, prefixes)
    assert runner_run.prefix_encodes(batches, prefixes) == 8  # a b a b c a c b: one encode per batch
    ordered = runner_run.prefix_ordered(batches, prefixes)
    assert sorted(map(tuple, ordered)) == sorted(map(tuple, batches))
    assert [prefixes[b[0]] for b in ordered] == list("aaabbbcc")
    assert ordered[0] == [0]  # the longest batch still runs first
    assert runner_run.prefix_encodes(ordered, prefixes) == 3


def test_a_run_encodes_each_shared_prefix_once(tiny_model_dir, data_root, tmp_path, monkeypatch):
    from calib_eval.data import load_dataset

    rows = load_dataset("mmlu", split="test", data_root=data_root)
    subjects = ("anatomy", "astronomy", "virology")
    per_subject = [[e for e in rows if e.metadata["subject"] == s][:3] for s in subjects]
    interleaved = [ex for trio in zip(*per_subject) for ex in trio]  # what a stratified order looks like
    monkeypatch.setattr(runner_run, "load_task_examples", lambda spec, limit, root: interleaved)
    encoded = Counter()
    real_encode = runner_run.encode_prefix

    def counting_encode(model, ids):
        encoded[tuple(ids)] += 1
        return real_encode(model, ids)

    monkeypatch.setattr(runner_run, "encode_prefix", counting_encode)
    # Here the subjects' headers differ in length enough that longest-first already groups them; on
    # real data (headers of similar length) it interleaves. Interleave on purpose: the order must not matter.
    monkeypatch.setattr(runner_run, "length_sorted_batches", _interleaved_batches)
    run(RunConfig(model=str(tiny_model_dir), tasks=("mmlu_oe_calib",), scorers=("perplexity",), limit=9,
                  output=str(tmp_path), bootstrap=0, data_root=str(data_root), batch_size=1))
    assert len(encoded) == 3 and set(encoded.values()) == {1}


def _interleaved_batches(lengths, batch_size, groups):
    """length_sorted_batches, then dealt round-robin across groups: the worst order for one live cache."""
    by_group: dict = {}
    for batch in length_sorted_batches(lengths, batch_size, groups):
        by_group.setdefault(groups[batch[0]], []).append(batch)
    queues = list(by_group.values())
    return [q[k] for k in range(max(map(len, queues))) for q in queues if k < len(q)]
