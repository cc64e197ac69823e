"""build_leaderboard: merging, history, bad files, lm-eval folders, interrupted builds."""
from __future__ import annotations

import json
from pathlib import Path

import pytest

from calib_eval.leaderboard import build_leaderboard, render_html
from calib_eval.leaderboard.demo import demo_payload
from calib_eval.results import write_json_atomic

OLD, NEW = "2026-01-01T00:00:00+00:00", "2026-02-01T00:00:00+00:00"


def payload(model, task="mmlu_oe_calib", scorers=("p_true",), created=OLD, ece=None, bins=False):
    data = demo_payload(model, task, scorers=scorers, created=created, n=50)
    for entry in data["scorers"].values():
        if ece is not None:
            entry["ece"] = {"estimate": ece, "low": ece - 0.01, "high": ece + 0.01}
        if not bins:
            entry["reliability"] = None  # keeps these tests fast: only the scatter plot is drawn
    return data


def rows_by_key(out: Path) -> dict:
    rows = json.loads((out / "leaderboard.json").read_text())["rows"]
    return {(r["model"], r["adapter"], r["scorer"], r["task"]): r for r in rows}


def test_overlapping_sets_keep_every_key_and_newest_value(tmp_path):
    write_json_atomic(tmp_path / "a/m1.json", payload("m1", scorers=("p_true", "verbalized"), ece=0.30))
    write_json_atomic(tmp_path / "a/m2.json", payload("m2", ece=0.20))
    write_json_atomic(tmp_path / "b/m1.json", payload("m1", scorers=("p_true", "entropy"), created=NEW, ece=0.10))
    out = tmp_path / "lb"

    report = build_leaderboard([tmp_path / "b", tmp_path / "a"], out)  # newest given first on purpose

    rows = rows_by_key(out)
    assert set(rows) == {("m1", "none", s, "mmlu_oe_calib") for s in ("p_true", "verbalized", "entropy")} | {
        ("m2", "none", "p_true", "mmlu_oe_calib")}
    assert rows[("m1", "none", "p_true", "mmlu_oe_calib")]["ece"]["estimate"] == pytest.approx(0.10)
    assert rows[("m1", "none", "verbalized", "mmlu_oe_calib")]["ece"]["estimate"] == pytest.approx(0.30)
    assert len(report.replaced) == 1 and report.ok
    history = sorted(p.name for p in (out / "results").iterdir())
    assert len(history) == 3 and sum(name.startswith("m1__mmlu_oe_calib-") for name in history) == 2
    assert "**0.100**" in (out / "README.md").read_text()


def test_rebuild_from_history_alone_is_identical(tmp_path):
    write_json_atomic(tmp_path / "a/m1.json", payload("m1", scorers=("p_true", "entropy")))
    write_json_atomic(tmp_path / "b/m1.json", payload("m1", created=NEW, ece=0.05))
    out = tmp_path / "lb"
    first = build_leaderboard([tmp_path / "a", tmp_path / "b"], out)
    before = {name: (out / name).read_bytes() for name in ("README.md", "index.html", "leaderboard.json")}

    again = build_leaderboard([], out)
    same_inputs = build_leaderboard([tmp_path / "a", tmp_path / "b"], out)  # already in history: no new copies

    assert {name: (out / name).read_bytes() for name in before} == before
    assert len(again.rows) == len(first.rows) == 2 and again.added_to_history == []
    assert same_inputs.added_to_history == [] and len(list((out / "results").iterdir())) == 2


def test_bad_files_are_named_and_skipped(tmp_path):
    runs = tmp_path / "runs"
    write_json_atomic(runs / "good.json", payload("m1"))
    (runs / "corrupt.json").write_text('{"kind": "calib-eval-results", "schema_', encoding="utf-8")
    old = payload("m2")
    old["schema_version"] = 0
    write_json_atomic(runs / "old_schema.json", old)
    write_json_atomic(runs / "foreign.json", {"name": "package.json of something else"})
    out = tmp_path / "lb"

    report = build_leaderboard([runs, tmp_path / "missing.json"], out)

    skipped = {path.name: why for path, why in report.skipped}
    assert set(skipped) == {"corrupt.json", "old_schema.json", "foreign.json", "missing.json"}
    assert "corrupt" in skipped["corrupt.json"] and "schema_version" in skipped["old_schema.json"]
    assert "not a calib-eval results file" in skipped["foreign.json"]
    assert not report.ok and any("corrupt.json" in line for line in report.lines())
    assert [r.model for r in report.rows] == ["m1"]
    assert [p.name.split("-")[0] for p in (out / "results").iterdir()] == ["m1__mmlu_oe_calib"]


def lmeval_payload(tasks: dict) -> dict:
    return {
        "results": tasks,
        "configs": {"mmlu_oe_calib": {"output_type": "generate_until"},
                    "mmlu_mc_calib": {"output_type": "multiple_choice"}},
        "versions": {t: 1.0 for t in tasks},
        "n-samples": {t: {"original": 1000, "effective": 40} for t in tasks},
        "config": {"model": "hf", "model_args": "pretrained=/models/SmolLM2-135M,peft=/x/adapters/tune-a",
                   "device": "cuda:0"},
        "model_name": "/models/SmolLM2-135M",
        "date": 1767225600.5,  # 2026-01-01
    }


def test_lmeval_folder_is_ingested(tmp_path):
    calib = {"calib_ece,none": 0.12, "calib_ece_stderr,none": 0.01, "calib_ece_recal,none": 0.05,
             "calib_auroc,none": 0.7,
             "calib_auroc_stderr,none": "N/A", "calib_brier,none": 0.2, "calib_acc,none": 0.4, "alias": "x"}
    folder = tmp_path / "lm_out" / "__models__SmolLM2-135M"
    write_json_atomic(folder / "results_2026-01-01T00-00-00.123456.json", lmeval_payload({
        "mmlu_oe_calib": calib, "mmlu_mc_calib": dict(calib, **{"calib_ece,none": 0.08}),
        "arc_easy": {"acc,none": 0.5}}))
    write_json_atomic(folder / "results_2026-01-02T00-00-00.json", lmeval_payload({"arc_easy": {"acc,none": 0.5}}))
    (folder / "samples_mmlu_oe_calib_2026-01-01T00-00-00.jsonl").write_text("{}\n")
    out = tmp_path / "lb"

    report = build_leaderboard([tmp_path / "lm_out"], out)

    rows = {r.scorer: r for r in report.rows}
    assert set(rows) == {"lmeval_p_true", "lmeval_max_softmax"}
    oe = rows["lmeval_p_true"]
    assert (oe.task, oe.model, oe.adapter, oe.n, oe.origin) == ("mmlu_oe_calib", "SmolLM2-135M", "tune-a", 40, "lm-eval")
    # ece: after the shared recalibration (calib_ece_recal); ece_raw: calib_ece, as produced
    assert oe.ece.estimate == 0.05 and oe.calibration.startswith("platt, 2-fold cross-fit")
    assert oe.extended["ece_raw"].low == pytest.approx(0.12 - 1.96 * 0.01) and oe.auroc.low is None
    assert oe.created.startswith("2026-01-01") and rows["lmeval_max_softmax"].task == "mmlu_mc_calib"
    assert [p.name for p, _ in report.skipped] == ["results_2026-01-02T00-00-00.json"]
    stored = [p.name for p in (out / "results").iterdir()]
    assert len(stored) == 1 and stored[0].startswith("lmeval-__models__SmolLM2-135M-results_2026-01-01")
    assert [r.key for r in build_leaderboard([], out).rows] == [r.key for r in report.rows]


def test_interrupted_build_leaves_previous_leaderboard(tmp_path, monkeypatch):
    write_json_atomic(tmp_path / "a/m1.json", payload("m1", bins=True))
    out = tmp_path / "lb"
    build_leaderboard([tmp_path / "a"], out)
    before = {p.relative_to(out): p.read_bytes() for p in out.rglob("*") if p.is_file()}

    def crash(*args, **kwargs):
        raise RuntimeError("renderer died mid-build")

    monkeypatch.setattr(render_html, "render_html", crash)
    write_json_atomic(tmp_path / "b/m2.json", payload("m2", created=NEW, bins=True))
    with pytest.raises(RuntimeError, match="mid-build"):
        build_leaderboard([tmp_path / "b"], out)

    after = {p.relative_to(out): p.read_bytes() for p in out.rglob("*") if p.is_file()}
    assert after == before  # README.md, index.html, plots and results/ untouched
    assert sorted(p.name for p in tmp_path.iterdir()) == ["a", "b", "lb"]  # no staging folder left behind


def test_other_files_in_out_dir_survive(tmp_path):
    out = tmp_path / "lb"
    out.mkdir()
    (out / "models.yaml").write_text("models: [default]\n")
    write_json_atomic(tmp_path / "a/m1.json", payload("m1"))
    build_leaderboard([tmp_path / "a"], out)
    again = build_leaderboard([out], out)  # the leaderboard folder itself as input: nothing new, nothing foreign
    assert again.ok and again.added_to_history == []
    assert (out / "models.yaml").read_text() == "models: [default]\n"
    assert sorted(p.name for p in out.iterdir()) == ["README.md", "index.html", "leaderboard.json",
                                                      "models.yaml", "plots", "results"]
