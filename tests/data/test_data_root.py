from __future__ import annotations

from pathlib import Path

import pytest

from calib_eval.data import root
from calib_eval.data.root import ENV_VAR, resolve_data_root
from calib_eval.errors import DataError


@pytest.fixture
def no_env(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.delenv(ENV_VAR, raising=False)


def test_explicit_wins_over_env(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    (tmp_path / "a").mkdir()
    (tmp_path / "b").mkdir()
    monkeypatch.setenv(ENV_VAR, str(tmp_path / "b"))
    assert resolve_data_root(tmp_path / "a") == (tmp_path / "a").resolve()
    assert resolve_data_root(None) == (tmp_path / "b").resolve()


def test_explicit_missing_raises_instead_of_falling_back(tmp_path: Path) -> None:
    with pytest.raises(DataError, match="given explicitly"):
        resolve_data_root(tmp_path / "nope")


def test_env_missing_raises(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv(ENV_VAR, str(tmp_path / "nope"))
    with pytest.raises(DataError, match=ENV_VAR):
        resolve_data_root()


def test_cwd_data_folder(tmp_path: Path, monkeypatch: pytest.MonkeyPatch, no_env: None) -> None:
    (tmp_path / "data").mkdir()
    monkeypatch.chdir(tmp_path)
    assert resolve_data_root() == (tmp_path / "data").resolve()


def test_cwd_sibling_shared_data(tmp_path: Path, monkeypatch: pytest.MonkeyPatch, no_env: None) -> None:
    (tmp_path / "shared" / "data").mkdir(parents=True)
    (tmp_path / "proj").mkdir()
    monkeypatch.chdir(tmp_path / "proj")
    assert resolve_data_root() == (tmp_path / "shared" / "data").resolve()


def test_falls_back_to_repo_sibling(data_root: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch,
                                    no_env: None) -> None:
    monkeypatch.chdir(tmp_path)
    assert resolve_data_root() == data_root.resolve()


def test_nothing_found_names_every_place(tmp_path: Path, monkeypatch: pytest.MonkeyPatch, no_env: None) -> None:
    places = [tmp_path / "x", tmp_path / "y"]
    monkeypatch.setattr(root, "_candidates", lambda: places)
    with pytest.raises(DataError) as err:
        resolve_data_root()
    msg = str(err.value)
    assert all(str(p) in msg for p in places)
    assert "--data-root" in msg and ENV_VAR in msg
