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
