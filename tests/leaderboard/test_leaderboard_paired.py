"""The paired ΔAUROC column: per-item sidecars, the reference rule, the build, and the page's compare control."""
from __future__ import annotations

import json
import re
import shutil
import subprocess
import warnings

import numpy as np
import pytest

from calib_eval.errors import DataError
from calib_eval.leaderboard import build_leaderboard, item_scores
from calib_eval.leaderboard.demo import demo_payload
from calib_eval.leaderboard.paired import PairedDiff, compare_to_best, format_diff, reference_rows
from calib_eval.leaderboard.plan import retire_stale
from calib_eval.leaderboard.records import Estimate, Row
from calib_eval.metrics import paired_bootstrap_diff, roc_auc
from calib_eval.metrics.rows import auroc_rows
from calib_eval.results import write_json_atomic, write_jsonl_atomic

TASK = "mmlu_mc_calib"


def synthetic_items(n: int, seed: int, strength: dict[str, float], ids=None):
    """ids, correctness and per-scorer scores: score = strength * correct + noise (0: uninformative)."""
    rng = np.random.default_rng(seed)
    correct = rng.random(n) < 0.45
    scores = {name: 1 / (1 + np.exp(-(s * (correct - 0.5) + rng.normal(0, 1, n)))) for name, s in strength.items()}
    return (ids or [f"mmlu/test/x/{i}" for i in range(n)]), correct, scores


def write_run(folder, model, ids, correct, scores, adapters=(), created="2026-01-15T12:00:00+00:00"):
    """A run's task folder: results.json whose AUROCs match the items.jsonl beside it."""
    payload = demo_payload(model, TASK, scorers=tuple(scores), n=len(ids), created=created)
    for name, entry in payload["scorers"].items():
        entry["auroc"] = {"estimate": roc_auc(scores[name], correct), "low": 0.0, "high": 1.0}
        entry["reliability"] = None  # keeps the build fast: only scatter plots are drawn
        entry["adapter"] = ({"path": f"adapters/{name}-tuned", "method": name, "base_fingerprint": "fp"}
                            if name in adapters else None)
    write_json_atomic(folder / "results.json", payload)
    write_jsonl_atomic(folder / "items.jsonl", [
        {"id": item, "correct": bool(c), "answer": "A", "scores": {k: float(v[i]) for k, v in scores.items()}}
        for i, (item, c) in enumerate(zip(ids, correct))])
    return payload


def row(scorer, auroc, model="m", adapter="none", source="s.json", stale=False, n=None):
    return Row(model=model, adapter=adapter, scorer=scorer, task=TASK, accuracy=None, ece=None,
               auroc=Estimate(auroc), brier=None, aurc=None, n=n, is_probability=True, calibration="none",
               hardware="cpu", created="2026-01-01T00:00:00+00:00", package_version="0", origin="calib-eval",
               source=source, stale=stale)


def block(source, ids, correct, scores, model="m"):
    return item_scores.ItemScores(source, "sha", model, TASK, tuple(ids), np.asarray(correct, bool),
                                  {k: np.asarray(v, float) for k, v in scores.items()})


def test_reference_is_best_untrained_row_and_diffs_match_the_metrics_bootstrap():
    ids, y, s = synthetic_items(120, 1, {"strong": 3.0, "weak": 0.3, "tuned": 5.0})
    items = {"s.json": block("s.json", ids, y, s)}
    auc = {k: roc_auc(v, y) for k, v in s.items()}
    rows = [row("weak", auc["weak"]), row("strong", auc["strong"]), row("tuned", auc["tuned"], adapter="a"),
            row("orphan", 0.9, source="other.json")]  # no per-item scores: never the reference, no diff
    diffs = compare_to_best(rows, items)
    assert reference_rows(rows, items)["m"].scorer == "strong"  # the adapter row is better but trained
    assert diffs[1].is_reference and diffs[3] is None
    expected = paired_bootstrap_diff(roc_auc, s["weak"], s["strong"], y, n_resamples=1000, seed=0,
                                     rows_fn=auroc_rows)
    assert diffs[0].estimate == pytest.approx(auc["weak"] - auc["strong"], abs=1e-12)
    assert (diffs[0].low, diffs[0].high) == pytest.approx((expected.low, expected.high))
    assert diffs[0].separable and diffs[0].high < 0 and diffs[0].n == 120
    assert diffs[2].estimate > 0 and diffs[2].reference == "strong"
    assert format_diff(diffs[1]) == "— ref." and format_diff(diffs[0], 120).endswith("\u2713")
    assert "n=120" in format_diff(diffs[0], 150) and format_diff(None) == "–"


def test_equal_scorers_are_not_separable_and_stale_rows_are_reference_only_without_fresh_ones():
    ids, y, s = synthetic_items(80, 2, {"a": 1.0})
    noisy = s["a"] + np.random.default_rng(0).normal(0, 0.01, 80)
    items = {"s.json": block("s.json", ids, y, {"a": s["a"], "b": noisy, "old": s["a"] * 2})}
    rows = [row("a", roc_auc(s["a"], y)), row("b", roc_auc(noisy, y)), row("old", 0.99, stale=True)]
    diffs = compare_to_best(rows, items)
    assert reference_rows(rows, items)["m"].scorer in ("a", "b")  # the stale row's higher AUROC does not count
    other = diffs[1] if diffs[0].is_reference else diffs[0]
    assert not other.separable and other.low <= 0 <= other.high
    assert reference_rows(rows[2:], items)["m"].scorer == "old"


def test_rows_of_two_runs_pair_on_shared_ids_with_their_own_labels():
    ids, y, s = synthetic_items(60, 3, {"p": 2.0})
    y2 = y.copy()
    y2[:5] = ~y2[:5]  # the second run graded five answers differently
    items = {"a.json": block("a.json", ids, y, s), "b.json": block("b.json", ids[10:], y2[10:], {"q": s["p"][10:]})}
    rows = [row("p", roc_auc(s["p"], y), source="a.json"), row("q", 0.1, source="b.json")]
    diff = compare_to_best(rows, items)[1]
    assert diff.n == 50
    assert diff.estimate == pytest.approx(roc_auc(s["p"][10:], y2[10:]) - roc_auc(s["p"][10:], y[10:]), abs=1e-12)


def test_too_few_correct_answers_give_the_difference_without_an_interval():
    ids, y, s = synthetic_items(60, 7, {"a": 2.0, "b": 0.5})
    y = np.zeros(60, bool)
    y[[3, 17, 40]] = True  # three correct answers: a bootstrap over them would be tight and meaningless
    items = {"s.json": block("s.json", ids, y, s)}
    rows = [row("a", roc_auc(s["a"], y)), row("b", roc_auc(s["b"], y))]
    other = next(d for d in compare_to_best(rows, items) if not d.is_reference)
    assert other.low is None and other.scarce == "3 correct" and not other.separable
    assert other.estimate == pytest.approx(-abs(roc_auc(s["a"], y) - roc_auc(s["b"], y)), abs=1e-12)
    assert format_diff(other).endswith("(no CI: 3 correct)")


def test_sidecar_rounding_keeps_every_rank_and_refuses_items_of_another_run(tmp_path):
    values = np.array([0.1, 0.1 + 1e-8, 0.3, 0.3, 0.123456789])
    assert len(np.unique(item_scores.compact(values))) == len(np.unique(values))
    assert item_scores.compact(np.array([0.123456789]))[0] == 0.123457  # 6 digits where that merges nothing
    ids, y, s = synthetic_items(40, 4, {"p": 2.0})
    payload = write_run(tmp_path, "m", ids, y, s)
    from calib_eval.leaderboard.from_results import rows_from_results
    rows = rows_from_results(payload, "x.json")
    got = item_scores.from_run(tmp_path / "results.json", "x.json", "sha", rows)
    assert roc_auc(got.scores["p"], got.correct) == pytest.approx(payload["scorers"]["p"]["auroc"]["estimate"])
    payload["scorers"]["p"]["auroc"]["estimate"] += 0.01
    with pytest.raises(DataError, match="belong to another run"):
        item_scores.from_run(tmp_path / "results.json", "x.json", "sha", rows_from_results(payload, "x.json"))
    with pytest.raises(DataError, match="not a leaderboard items file"):
        item_scores.from_json({"kind": "other"}, tmp_path / "f.json")


def build_two_models(root, scarce=False):
    ids, y, s = synthetic_items(150, 5, {"strong": 2.5, "weak": 0.2, "lora_prompt": 4.0})
    write_run(root / "runs/m1/t", "m1", ids, y, s, adapters=("lora_prompt",))
    if scarce:  # a third model that got two answers right
        y3 = np.zeros(150, bool)
        y3[[5, 9]] = True
        write_run(root / "runs/m3/t", "m3", ids, y3, {"strong": s["strong"], "weak": s["weak"]})
    ids2, y2, s2 = synthetic_items(150, 6, {"strong": 1.0, "weak": 0.0}, ids=ids[25:] + [f"new/{i}" for i in range(25)])
    write_run(root / "runs/m2/t", "m2", ids2, y2, s2)
    return (ids, y, s), (ids2, y2, s2)


def test_build_keeps_items_and_rebuild_from_history_alone_is_identical(tmp_path):
    build_two_models(tmp_path)
    out = tmp_path / "lb"
    report = build_leaderboard([tmp_path / "runs"], out)
    assert report.ok and len(report.items_added) == 2
    assert {p.name for p in (out / "results/items").iterdir()} == {
        item_scores.sidecar_name(p.name) for p in (out / "results").glob("*.json")}
    readme = (out / "README.md").read_text()
    assert "ΔAUROC vs best" in readme and readme.count("| — ref. |") == 2 and "\u2713" in readme
    assert "m1: strong (AUROC" in readme
    rows = json.loads((out / "leaderboard.json").read_text())["rows"]
    lora = next(r for r in rows if r["scorer"] == "lora_prompt")
    assert lora["auroc_vs_best_untrained"]["reference"] == "strong" and lora["auroc_vs_best_untrained"]["n"] == 150
    before = {name: (out / name).read_bytes() for name in ("README.md", "index.html", "leaderboard.json")}
    again = build_leaderboard([], out)
    assert not again.items_added and {name: (out / name).read_bytes() for name in before} == before


def test_items_of_files_already_in_history_are_added_by_a_rebuild_from_the_runs(tmp_path):
    build_two_models(tmp_path)
    out = tmp_path / "lb"
    build_leaderboard([tmp_path / "runs"], out)
    shutil.rmtree(out / "results/items")  # as the committed leaderboard was before sidecars existed
    build_leaderboard([], out)
    assert "| — ref. |" not in (out / "README.md").read_text()
    report = build_leaderboard([tmp_path / "runs"], out)
    assert len(report.items_added) == 2 and not report.added_to_history
    assert (out / "README.md").read_text().count("| — ref. |") == 2


def test_items_that_do_not_match_their_results_are_skipped_and_named(tmp_path):
    build_two_models(tmp_path)
    items_file = tmp_path / "runs/m1/t/items.jsonl"
    lines = items_file.read_text().splitlines()
    items_file.write_text("\n".join(lines[::-1][:100]) + "\n")  # another run's (fewer) items
    report = build_leaderboard([tmp_path / "runs"], tmp_path / "lb")
    assert report.ok and len(report.items_added) == 1
    assert len(report.items_skipped) == 1 and "n=150" in report.items_skipped[0][1]
    assert any("no per-item scores from" in line for line in report.lines())


def test_retired_results_take_their_items_along(tmp_path):
    build_two_models(tmp_path)
    out = tmp_path / "lb"
    build_leaderboard([tmp_path / "runs"], out)
    stored = sorted((out / "results").glob("m1__*.json"))[0]
    payload = json.loads(stored.read_text())
    payload["provenance"]["grader_version"] = "0"  # made by an older grader: stale
    stored.write_text(json.dumps(payload))
    retire_stale(out / "results")
    assert (out / "results/retired/items" / item_scores.sidecar_name(stored.name)).is_file()
    assert not (out / "results/items" / item_scores.sidecar_name(stored.name)).exists()


DOM = r"""
class El { constructor(tag){ this.tag = tag; this.children = []; this.dataset = {}; this.attrs = {};
    this.listeners = {}; this.textContent = ""; this.value = ""; this.checked = false; this.className = ""; }
  appendChild(c){ this.children.push(c); return c; } replaceChildren(){ this.children = []; }
  setAttribute(k, v){ this.attrs[k] = v; } addEventListener(t, f){ this.listeners[t] = f; } }
const ids = {};
const document = { getElementById(id){ if (!ids[id]) { ids[id] = new El("div"); if (id === "leaderboard-data")
    ids[id].textContent = require("fs").readFileSync(process.argv[2], "utf8"); } return ids[id]; },
  createElement(tag){ return new El(tag); }, createTextNode(){ return new El("#text"); },
  querySelectorAll(){ return []; } };
eval(require("fs").readFileSync(process.argv[3], "utf8"));
const data = JSON.parse(ids["leaderboard-data"].textContent);
const pick = (model, scorer) => String(data.rows.findIndex(r => r.model === model && r.scorer === scorer));
const results = [];
for (const [a, b] of JSON.parse(process.argv[4])) {
  ids["cmp-a"].value = pick(...a); ids["cmp-b"].value = pick(...b); ids["cmp-b"].listeners.change();
  results.push({result: JSON.parse(ids["cmp-out"].dataset.result || "null"), text: ids["cmp-out"].textContent});
}
const options = ids["cmp-a"].children.length;
console.log(JSON.stringify({results, options, cells: ids["rows"].children[0].children.length}));
"""


def percentile_paired(a, ya, b, yb, resamples=2000, seed=0):
    rng = np.random.default_rng(seed)
    idx = rng.integers(0, len(a), size=(resamples, len(a)))
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        diffs = auroc_rows(a[idx], ya[idx]) - auroc_rows(b[idx], yb[idx])
    return np.nanpercentile(diffs, [2.5, 97.5])


def test_page_compare_control_in_node_matches_python(tmp_path):
    node = shutil.which("node")
    if node is None:
        pytest.skip("node is not installed: the page script cannot be run")
    from calib_eval.leaderboard.render_html import PAGE_JS

    (_, y, s), (_, y2, s2) = build_two_models(tmp_path, scarce=True)
    build_leaderboard([tmp_path / "runs"], tmp_path / "lb")
    page = (tmp_path / "lb" / "index.html").read_text(encoding="utf-8")
    assert "percentile</em> bootstrap" in page
    (tmp_path / "data.json").write_text(re.search(r'id="leaderboard-data">(.*?)</script>', page, re.DOTALL).group(1))
    (tmp_path / "page.js").write_text(PAGE_JS)
    (tmp_path / "dom.js").write_text(DOM)
    pairs = [[["m1", "weak"], ["m1", "strong"]], [["m1", "strong"], ["m2", "strong"]], [["m1", "weak"], ["m1", "weak"]],
             [["m3", "weak"], ["m3", "strong"]]]
    out = subprocess.run([node, str(tmp_path / "dom.js"), str(tmp_path / "data.json"), str(tmp_path / "page.js"),
                          json.dumps(pairs)], capture_output=True, text=True, timeout=120, check=True)
    got = json.loads(out.stdout)
    assert got["options"] == 7  # every row of the task with per-item scores, all three models
    same, cross, self_pair, scarce = got["results"]
    assert same["result"]["estimate"] == pytest.approx(roc_auc(s["weak"], y) - roc_auc(s["strong"], y), abs=1e-12)
    low, high = percentile_paired(s["weak"], y, s["strong"], y)
    assert same["result"]["low"] == pytest.approx(low, abs=0.02) and same["result"]["high"] == pytest.approx(high, abs=0.02)
    assert same["result"]["high"] < 0 and "separable (the 95% interval excludes 0)" in same["text"]
    # across models: the 125 shared ids, each model's own correctness
    a, ya = s["strong"][25:], y[25:]
    b, yb = s2["strong"][:125], y2[:125]
    assert cross["result"]["n"] == 125 and not cross["result"]["sameLabels"]
    assert cross["result"]["estimate"] == pytest.approx(roc_auc(a, ya) - roc_auc(b, yb), abs=1e-12)
    low, high = percentile_paired(a, ya, b, yb)
    assert cross["result"]["low"] == pytest.approx(low, abs=0.02) and cross["result"]["high"] == pytest.approx(high, abs=0.02)
    assert self_pair["result"] is None and self_pair["text"] == "Pick two different rows."
    assert scarce["result"]["low"] is None and scarce["result"]["scarce"] == "2 correct"
    assert "no interval: only 2 correct answers" in scarce["text"]
    assert got["cells"] > 0


def test_page_without_per_item_scores_hides_the_compare_control(tmp_path):
    write_json_atomic(tmp_path / "runs/r.json", demo_payload("m1", TASK, scorers=("p_true",), n=30))
    build_leaderboard([tmp_path / "runs"], tmp_path / "lb")
    page = (tmp_path / "lb" / "index.html").read_text(encoding="utf-8")
    data = json.loads(re.search(r'id="leaderboard-data">(.*?)</script>', page, re.DOTALL).group(1))
    assert data["items"]["blocks"] == {} and data["rows"][0]["items"] is None
    assert data["rows"][0]["auroc_vs_best"]["text"] == "–"


def test_paired_diff_dataclass_separable_needs_both_bounds():
    assert not PairedDiff("r", -0.1, None, None, 10).separable
    assert PairedDiff("r", -0.1, -0.2, -0.01, 10).separable
