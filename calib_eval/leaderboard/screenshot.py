"""Screenshot a rendered index.html with headless Chromium (to look at the page in CI or review).

    python -m calib_eval.leaderboard.screenshot leaderboard/index.html shot.png
"""
from __future__ import annotations

import shutil
import subprocess
import sys
import tempfile
from pathlib import Path

CANDIDATES = ("/usr/bin/chromium", "chromium", "chromium-browser", "google-chrome")
FLAGS = ("--headless", "--no-sandbox", "--disable-gpu", "--disable-quic", "--no-first-run",
         "--disable-background-networking", "--disable-component-update", "--disable-sync",
         "--hide-scrollbars")


def find_chromium() -> str | None:
    for candidate in CANDIDATES:
        found = shutil.which(candidate)
        if found:
            return found
    return None


def screenshot(html_path: str | Path, png_path: str | Path, window_size: str = "1400,1000",
               timeout_s: float = 60.0) -> Path:
    """Render `html_path` to `png_path`; RuntimeError with Chromium's output if it fails."""
    browser = find_chromium()
    if browser is None:
        raise RuntimeError("Chromium not found; install it (e.g. `apt-get install -y chromium`).")
    html_path, png_path = Path(html_path).resolve(), Path(png_path).resolve()
    png_path.parent.mkdir(parents=True, exist_ok=True)
    with tempfile.TemporaryDirectory(prefix="calib-eval-chromium-") as profile:
        command = [browser, *FLAGS, f"--user-data-dir={profile}", f"--screenshot={png_path}",
                   f"--window-size={window_size}", html_path.as_uri()]
        done = subprocess.run(command, check=False, capture_output=True, text=True, timeout=timeout_s)
    if done.returncode != 0 or not png_path.is_file():
        raise RuntimeError(f"Chromium failed ({done.returncode}): {done.stderr.strip()[-2000:]}")
    return png_path


if __name__ == "__main__":
    print(screenshot(sys.argv[1], sys.argv[2]))
