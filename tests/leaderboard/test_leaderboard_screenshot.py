"""Headless-Chromium screenshot of a built leaderboard (slow; needs chromium)."""
from __future__ import annotations

import pytest

from calib_eval.leaderboard import build_leaderboard
from calib_eval.leaderboard.demo import write_demo_results
from calib_eval.leaderboard.screenshot import find_chromium, screenshot


@pytest.mark.slow
@pytest.mark.skipif(find_chromium() is None, reason="chromium is not installed")
def test_screenshot_of_demo_leaderboard(tmp_path):
    write_demo_results(tmp_path / "runs", models=("smollm2-135m-instruct",), tasks=("mmlu_oe_calib",))
    build_leaderboard([tmp_path / "runs"], tmp_path / "lb")

    png = screenshot(tmp_path / "lb" / "index.html", tmp_path / "shot.png")

    data = png.read_bytes()
    assert data[:8] == b"\x89PNG\r\n\x1a\n" and len(data) > 20_000  # a blank page compresses far smaller
    Image = pytest.importorskip("PIL.Image")
    with Image.open(png) as image:
        assert image.size == (1400, 1000)
        colours = image.convert("RGB").resize((140, 100)).getcolors(maxcolors=100_000)
        assert len(colours) > 20  # the table and the plot rendered, not an empty page
