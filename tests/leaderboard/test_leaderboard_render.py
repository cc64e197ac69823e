"""Plots and HTML of a built leaderboard."""
from __future__ import annotations

import json
import re

import pytest

from calib_eval.leaderboard import build_leaderboard
from calib_eval.leaderboard.demo import demo_payload
from calib_eval.results import write_json_atomic

PNG_MAGIC = b"\x89PNG\r\n\x1a\n"
EVIL = '</script><script>alert("x")</script><!--&'


@pytest.fixture(scope="module")
def board(tmp_path_factory):
    root = tmp_path_factory.mktemp("board")
    for i, model in enumerate(("m1", "org/m2", EVIL)):
        for j, task in enumerate(("mmlu_oe_calib", "selfaware_calib") if i == 0 else ("mmlu_oe_calib",)):
            scorers = ("p_true", "entropy", "lora_prompt") if i == 0 else ("p_true",)
            write_json_atomic(root / "runs" / f"{i}-{task}.json",
                              demo_payload(model, task, scorers=scorers, seed=i * 10 + j, n=60))
    report = build_leaderboard([root / "runs"], root / "lb")
    assert report.ok
    return root / "lb", report


def test_reliability_plot_for_every_row_and_scatter_per_task(board):
    out, report = board
    expected = {"mmlu_oe_calib__m1__p_true.png", "mmlu_oe_calib__m1__entropy.png",
                "mmlu_oe_calib__m1+smollm2-calibration-tune__lora_prompt.png", "mmlu_oe_calib__org-m2__p_true.png"}
    names = {p.name for p in (out / "plots/reliability").iterdir()}
    assert expected <= names and len(names) == len(report.rows) == 8
    pngs = list((out / "plots").rglob("*.png"))
    assert {p.name for p in (out / "plots").glob("scatter_*.png")} == {"scatter_mmlu_oe_calib.png",
                                                                       "scatter_selfaware_calib.png"}
    for png in pngs:
        assert png.read_bytes()[:8] == PNG_MAGIC
    Image = pytest.importorskip("PIL.Image")
    with Image.open(pngs[0]) as image:
        image.verify()


def test_html_embeds_data_and_has_no_external_urls(board):
    out, report = board
    page = (out / "index.html").read_text(encoding="utf-8")
    match = re.search(r'<script type="application/json" id="leaderboard-data">(.*?)</script>', page, re.DOTALL)
    data = json.loads(match.group(1))
    assert len(data["rows"]) == len(report.rows)
    assert {r["model"] for r in data["rows"]} == {"m1", "org/m2", EVIL}  # names survive the escaping
    assert EVIL not in page and "<!--&" not in page
    assert not re.search(r"""(src|href)\s*=\s*["']?\s*(https?:)?//""", page, re.IGNORECASE)
    assert not re.search(r"https?://", page) and "@import" not in page
    assert all(r["plot"].startswith("plots/reliability/") for r in data["rows"])
    assert data["scatter"]["mmlu_oe_calib"] == "plots/scatter_mmlu_oe_calib.png"


def test_readme_links_plots_that_exist(board):
    out, _ = board
    readme = (out / "README.md").read_text(encoding="utf-8")
    links = re.findall(r"\((plots/[^)]+\.png)\)", readme) + re.findall(r'src="(plots/[^"]+)"', readme)
    assert links
    from urllib.parse import unquote
    assert all((out / unquote(link)).is_file() for link in links)
    assert "<script>" not in readme


def test_new_metrics_and_conformal_coverage_reach_the_page_as_optional_columns(tmp_path):
    import numpy as np

    from calib_eval.runner.report import scorer_metrics

    rng = np.random.default_rng(3)
    p = rng.beta(8, 2, 200)
    y = rng.random(200) < p
    payload = demo_payload("m1", "mmlu_oe_calib", scorers=("p_true",), n=200)
    entry = scorer_metrics(p, y, True, n_bins=10, bootstrap=20, abstain_alpha=0.2, abstain_delta=0.1)
    payload["scorers"]["p_true"] = {**entry, "adapter": None, "extra": {}}
    write_json_atomic(tmp_path / "runs" / "r.json", payload)
    assert build_leaderboard([tmp_path / "runs"], tmp_path / "lb").ok
    page = (tmp_path / "lb" / "index.html").read_text(encoding="utf-8")
    data = json.loads(re.search(r'id="leaderboard-data">(.*?)</script>', page, re.DOTALL).group(1))
    row = data["rows"][0]
    assert "prr" in data["optional"] and "prr" in data["metrics"] and "ece" not in data["optional"]
    assert row["prr"]["value"] == pytest.approx(entry["prr"]["estimate"])
    assert row["smece"]["value"] == pytest.approx(entry["smece"]["estimate"])
    coverage = entry["conformal_abstention"]["coverage"]
    assert row["abstain_coverage"]["value"] == pytest.approx(coverage)
    assert "\u03b1=0.2 \u03b4=0.1" in row["abstain_coverage"]["text"]
    assert 'id="columns"' in page and 'type = "checkbox"' in page  # the column chooser


FAKE_DOM = r"""
// Just enough DOM for the page script: elements with children, text, attributes and listeners.
class El { constructor(tag){ this.tag = tag; this.children = []; this.dataset = {}; this.attrs = {};
    this.listeners = {}; this.textContent = ""; this.value = ""; this.checked = false; this.className = ""; }
  appendChild(c){ this.children.push(c); return c; } replaceChildren(){ this.children = []; }
  setAttribute(k, v){ this.attrs[k] = v; } addEventListener(t, f){ this.listeners[t] = f; } }
const ids = {}; const all = [];
const document = { getElementById(id){ if (!ids[id]) { ids[id] = new El("div"); if (id === "leaderboard-data")
    ids[id].textContent = require("fs").readFileSync(process.argv[2], "utf8"); } return ids[id]; },
  createElement(tag){ const e = new El(tag); all.push(e); return e; },
  createTextNode(t){ return new El("#text"); }, querySelectorAll(){ return ids["head"] ? ids["head"].children : []; } };
eval(require("fs").readFileSync(process.argv[3], "utf8"));
const heads = () => ids["head"].children.map(th => th.textContent);
const before = heads();
const box = all.find(e => e.tag === "input" && e.dataset.key === "prr");
box.checked = true; box.listeners.change();
const off = all.find(e => e.tag === "input" && e.dataset.key === "brier");
off.checked = false; off.listeners.change();
const cells = ids["rows"].children[0].children.length;
console.log(JSON.stringify({before, after: heads(), cells}));
"""


def test_column_chooser_toggles_columns_in_node(tmp_path):
    import shutil
    import subprocess

    from calib_eval.leaderboard.render_html import PAGE_JS

    node = shutil.which("node")
    if node is None:
        pytest.skip("node is not installed: the page script cannot be run")
    payload = demo_payload("m1", "mmlu_oe_calib", scorers=("p_true",), n=60)
    write_json_atomic(tmp_path / "runs" / "r.json", payload)
    assert build_leaderboard([tmp_path / "runs"], tmp_path / "lb").ok
    page = (tmp_path / "lb" / "index.html").read_text(encoding="utf-8")
    data = re.search(r'id="leaderboard-data">(.*?)</script>', page, re.DOTALL).group(1)
    (tmp_path / "data.json").write_text(data, encoding="utf-8")
    (tmp_path / "page.js").write_text(PAGE_JS, encoding="utf-8")
    (tmp_path / "dom.js").write_text(FAKE_DOM, encoding="utf-8")
    out = subprocess.run([node, str(tmp_path / "dom.js"), str(tmp_path / "data.json"), str(tmp_path / "page.js")],
                         capture_output=True, text=True, timeout=60, check=True)
    result = json.loads(out.stdout)
    assert "Brier" in result["before"] and "PRR" not in result["before"]  # extra metrics start hidden
    assert "PRR" in result["after"] and "Brier" not in result["after"]
    assert result["cells"] == len(result["after"]) == len(result["before"])
