"""Provenance in results files: versions, git state, portable paths, schema-1 migration, staleness."""
from __future__ import annotations

import json
import re
import subprocess
from types import SimpleNamespace

import pytest

from calib_eval import __version__, provenance
from calib_eval.errors import DataError
from calib_eval.grading import GRADER_VERSION
from calib_eval.leaderboard.demo import demo_payload
from calib_eval.metrics import METRICS_VERSION
from calib_eval.results import SCHEMA_VERSION, read_results, write_json_atomic

_ABSOLUTE_IN_TEXT = re.compile(r"(^|[\s(=\"'])/")


@pytest.fixture
def places(tmp_path, monkeypatch):
    """A home and a working directory that are not each other's parents."""
    home, work = tmp_path / "home", tmp_path / "work"
    (home / ".cache" / "models" / "m1").mkdir(parents=True)
    (work / "models" / "m2").mkdir(parents=True)
    monkeypatch.setenv("HOME", str(home))
    monkeypatch.chdir(work)
    return home, work


def test_record_names_every_field_and_the_current_versions():
    block = provenance.record()
    assert set(block) == set(provenance.FIELDS)
    assert block["package_version"] == __version__
    assert (block["grader_version"], block["metrics_version"]) == (GRADER_VERSION, METRICS_VERSION)
    assert block["ece_convention"] == "p_correct" and block["item_ordering"]
    assert block["torch_version"] and block["transformers_version"]


def test_git_state_of_this_checkout_matches_git(monkeypatch):
    head = subprocess.run(["git", "rev-parse", "HEAD"], cwd=provenance._PACKAGE_DIR, capture_output=True, text=True)
    if head.returncode != 0:
        pytest.skip("not running from a git checkout")
    provenance.git_state.cache_clear()  # cached per process; other tests may have read it before a new commit
    assert provenance.git_state()[0] == head.stdout.strip()


def _git(cwd, *args):
    subprocess.run(["git", "-c", "user.email=t@example.com", "-c", "user.name=t", *args], cwd=cwd, check=True,
                   capture_output=True)


def test_git_state_reports_dirty_tracked_files_and_none_outside_a_checkout(tmp_path, monkeypatch):
    package = tmp_path / "repo" / "calib_eval"
    package.mkdir(parents=True)
    (package / "a.py").write_text("x = 1\n")
    _git(package.parent, "init", "-q")
    _git(package.parent, "add", ".")
    _git(package.parent, "commit", "-q", "-m", "init")
    monkeypatch.setattr(provenance, "_PACKAGE_DIR", package.resolve())

    provenance.git_state.cache_clear()
    commit, dirty = provenance.git_state()
    assert re.fullmatch(r"[0-9a-f]{40}", commit) and dirty is False
    (package / "a.py").write_text("x = 2\n")
    provenance.git_state.cache_clear()
    assert provenance.git_state() == (commit, True)

    wheel = tmp_path / "site-packages" / "calib_eval"  # an install that is no checkout of its own
    wheel.mkdir(parents=True)
    monkeypatch.setattr(provenance, "_PACKAGE_DIR", wheel.resolve())
    provenance.git_state.cache_clear()
    try:
        assert provenance.git_state() == (None, None)
    finally:
        provenance.git_state.cache_clear()


def test_portable_path_never_returns_an_absolute_path(places):
    home, work = places
    assert provenance.portable_path("HuggingFaceTB/SmolLM2-135M-Instruct") == "HuggingFaceTB/SmolLM2-135M-Instruct"
    assert provenance.portable_path(str(home / ".cache" / "models" / "m1")) == "~/.cache/models/m1"
    assert provenance.portable_path(str(work / "models" / "m2")) == "models/m2"
    assert provenance.portable_path("/nowhere/else/m3/") == "m3"
    assert provenance.portable_path("relative/folder") == "relative/folder"
    text = f"stored samples in {work}/runs/items.jsonl (model /nowhere/else/m3)"
    assert provenance.portable(text) == "stored samples in runs/items.jsonl (model m3)"
    nested = provenance.portable({"output": str(work / "runs"), "adapters": {"probe": str(home / "a")},
                                  "tasks": ("t",), "url": "https://huggingface.co/x", "n": 3})
    assert nested == {"output": "runs", "adapters": {"probe": "~/a"}, "tasks": ["t"],
                      "url": "https://huggingface.co/x", "n": 3}
    assert provenance.portable_name(str(home / "models" / "m1")) == "m1"


def test_build_payload_records_provenance_and_no_absolute_path(places):
    from calib_eval.runner.report import build_payload

    home, work = places
    loaded = SimpleNamespace(name=str(home / ".cache" / "models" / "m1"), source=str(home / ".cache/models/m1"),
                             fingerprint="fp", device="cpu", dtype="float32")
    rows = [{"id": str(i), "answer": "a", "correct": i % 2 == 0, "answer_kind": "open", "scores": {"s": i / 10}}
            for i in range(8)]
    config = {"output": str(work / "runs"), "rescored_from": "/elsewhere/run/items.jsonl", "limit": 8}
    payload = build_payload("mmlu_oe_calib", loaded, config, rows, {"s": SimpleNamespace(is_probability=True)},
                            None, {}, {}, 10, 0)

    assert payload["schema_version"] == SCHEMA_VERSION == 2
    assert payload["provenance"]["grader_version"] == GRADER_VERSION
    assert payload["model"]["source"] == "~/.cache/models/m1" and payload["model"]["name"] == "m1"
    assert payload["config"]["output"] == "runs" and payload["config"]["rescored_from"] == "items.jsonl"
    strings = re.findall(r'"((?:[^"\\]|\\.)*)"', json.dumps(payload))
    assert not [s for s in strings if _ABSOLUTE_IN_TEXT.search(s)]
    assert provenance.stale_reason(payload) is None


def test_schema_1_files_migrate_as_stale(tmp_path):
    old = demo_payload("m1", "mmlu_oe_calib")
    old["schema_version"] = 1
    del old["provenance"]
    write_json_atomic(tmp_path / "old.json", old)

    payload = read_results(tmp_path / "old.json")

    assert payload["schema_version"] == 2 and payload["migrated_from_schema"] == 1
    assert payload["provenance"]["grader_version"] is None and payload["provenance"]["package_version"] == __version__
    reason = provenance.stale_reason(payload)
    assert reason.startswith(provenance.STALE) and f"grader unknown -> {GRADER_VERSION}" in reason


def test_other_schema_versions_are_still_refused(tmp_path):
    future = demo_payload("m1", "mmlu_oe_calib")
    future["schema_version"] = 3
    write_json_atomic(tmp_path / "f.json", future)
    with pytest.raises(DataError, match="schema_version 3"):
        read_results(tmp_path / "f.json")


def test_stale_reason_names_only_what_changed():
    payload = demo_payload("m1", "mmlu_oe_calib")
    assert provenance.stale_reason(payload) is None
    payload["provenance"]["grader_version"] = "0"
    assert provenance.stale_reason(payload) == f"{provenance.STALE} (grader 0 -> {GRADER_VERSION})"
