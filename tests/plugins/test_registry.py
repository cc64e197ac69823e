"""Registry entry points: lazy and once, after the built-ins; every failure names its entry point and package.

Each test builds its own Registry over a test-only group and a hand-written
dist-info on sys.path, so the shared registries (SCORERS, TASKS, METRICS)
never see these plugins.
"""
from __future__ import annotations

import itertools
import sys
from pathlib import Path

import pytest

from calib_eval.errors import PluginError, UnknownNameError
from calib_eval.registry import Registry

_counter = itertools.count()


def _plugin(tmp_path: Path, monkeypatch, group: str, entries: dict[str, str], module: str = "") -> str:
    """Install a package whose module holds `module` and whose entry points are `entries` (name -> attr)."""
    n = next(_counter)
    mod, dist = f"reg_plugin_mod_{n}", f"reg-plugin-{n}"
    (tmp_path / f"{mod}.py").write_text(module)
    info = tmp_path / f"reg_plugin_{n}-1.2.dist-info"
    info.mkdir()
    (info / "METADATA").write_text(f"Metadata-Version: 2.1\nName: {dist}\nVersion: 1.2\n")
    lines = "".join(f"{name} = {mod}:{attr}\n" if ":" not in attr else f"{name} = {attr}\n"
                    for name, attr in entries.items())
    (info / "entry_points.txt").write_text(f"[{group}]\n{lines}")
    monkeypatch.syspath_prepend(str(tmp_path))
    monkeypatch.delitem(sys.modules, mod, raising=False)
    return mod


def test_plugins_load_on_first_lookup_once_and_after_the_builtins(tmp_path, monkeypatch):
    mod = _plugin(tmp_path, monkeypatch, "calib_eval_test.a", {"extra": "EXTRA"},
                  "LOADS = [1]\nEXTRA = 'from the plugin'\n")
    reg: Registry[str] = Registry("thing", group="calib_eval_test.a")
    reg.register("builtin")("built in")
    assert mod not in sys.modules  # registering built-ins does not import plugins
    assert reg.names() == ["builtin", "extra"]
    assert reg["extra"] == "from the plugin" and "extra" in reg and len(reg) == 2
    assert reg.items() == [("builtin", "built in"), ("extra", "from the plugin")]
    sys.modules[mod].LOADS.append(2)
    assert reg.get("extra") == "from the plugin" and sys.modules[mod].LOADS == [1, 2]  # not re-imported
    assert reg.plugins()["extra"].startswith("entry point `extra = ")


def test_unknown_names_suggest_plugin_names_and_get_takes_a_default(tmp_path, monkeypatch):
    _plugin(tmp_path, monkeypatch, "calib_eval_test.b", {"mean_token_prob": "X"}, "X = 1\n")
    reg: Registry[int] = Registry("scorer", group="calib_eval_test.b")
    with pytest.raises(UnknownNameError, match="Did you mean 'mean_token_prob'"):
        reg["mean_token_probs"]
    assert reg.get("nope", None) is None


@pytest.mark.parametrize("entries, module, message", [
    ({"taken": "X"}, "X = 1\n", r"adds thing 'taken', but that name is already a built-in thing"),
    ({"boom": "X"}, "raise RuntimeError('plugin bug')\n", r"failed to load: RuntimeError: plugin bug"),
    ({"missing": "NOPE"}, "X = 1\n", r"failed to load: AttributeError"),
    ({"wrong": "X"}, "X = 'a string'\n", r"is not a usable thing: not an int"),
])
def test_a_broken_plugin_names_its_entry_point_and_package(tmp_path, monkeypatch, entries, module, message):
    group = f"calib_eval_test.c{next(_counter)}"
    mod = _plugin(tmp_path, monkeypatch, group, entries, module)
    reg: Registry[int] = Registry("thing", group=group,
                                  check=lambda name, obj: None if isinstance(obj, int) else "not an int")
    reg.register("taken")(0)
    with pytest.raises(PluginError, match=message) as info:
        reg.names()
    name, attr = next(iter(entries.items()))
    assert f"entry point `{name} = {mod}:{attr}` (group {group}) of package reg-plugin-" in str(info.value)


def test_a_module_that_registers_itself_under_its_entry_point_name_counts_once(tmp_path, monkeypatch):
    import calib_eval.registry as registry_module

    reg: Registry[type] = Registry("thing", group="calib_eval_test.d")
    monkeypatch.setattr(registry_module, "_SELF_TEST_REGISTRY", reg, raising=False)
    _plugin(tmp_path, monkeypatch, "calib_eval_test.d", {"selfreg": "Thing"},
            "from calib_eval.registry import _SELF_TEST_REGISTRY as R\n"
            "@R.register('selfreg')\nclass Thing: pass\n")
    assert reg.names() == ["selfreg"]


def test_the_shared_registries_check_what_a_plugin_hands_them():
    from calib_eval.metrics.registry import Metric, check_metric
    from calib_eval.scorers.base import check_scorer
    from calib_eval.task_specs import TASKS, check_task

    class NoScore:
        name, is_probability, needs_adapter, task_modes = "x", True, False, ("generate",)

    assert "lacks score" in check_scorer("x", NoScore)
    assert "is named 'x' but its entry point is 'y'" in check_scorer("y", type("S", (NoScore,), {"score": 1}))
    assert "task_modes" in check_scorer("x", type("S", (NoScore,), {"score": 1, "task_modes": ("gen",)}))
    assert "expected a class" in check_scorer("x", NoScore())
    assert check_scorer("x", type("S", (NoScore,), {"score": lambda self, b: []})) is None
    spec = TASKS["mmlu_oe_calib"]
    assert check_task("mmlu_oe_calib", spec) is None
    assert "entry point is 'other'" in check_task("other", spec)
    assert "TaskSpec" in check_task("t", object())
    assert "lower-case identifiers" in check_metric("Bad-Name", Metric(lambda p, y: 0.0))
    assert "input must be" in check_metric("m", Metric(lambda p, y: 0.0, input="logits"))
