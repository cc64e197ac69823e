"""pyproject ships tasks/ as calib_eval.tasks and lists every calib_eval subpackage.

The package list is explicit (setuptools cannot discover a package mapped from
another folder), so a new subpackage must be added there; this test says which.
"""
from __future__ import annotations

import tomllib
from pathlib import Path

REPO = Path(__file__).resolve().parents[2]


def _setuptools() -> dict:
    return tomllib.loads((REPO / "pyproject.toml").read_text())["tool"]["setuptools"]


def test_tasks_folder_is_package_calib_eval_tasks_with_its_yamls():
    cfg = _setuptools()
    assert cfg["package-dir"]["calib_eval.tasks"] == "tasks"
    assert "*.yaml" in cfg["package-data"]["calib_eval.tasks"]
    assert (REPO / "tasks" / "__init__.py").is_file()


def test_every_calib_eval_subpackage_is_listed():
    listed = set(_setuptools()["packages"])
    on_disk = {".".join(p.parent.relative_to(REPO).parts) for p in (REPO / "calib_eval").rglob("__init__.py")
               if "__pycache__" not in p.parts}
    missing = sorted(on_disk - listed)
    assert not missing, f"add to [tool.setuptools] packages in pyproject.toml: {missing}"
