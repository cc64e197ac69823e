"""--dtype: a closed set of names, checked before any model loads, passed through by run and score."""
import pytest

from calib_eval import cli
from calib_eval.errors import ConfigError
from calib_eval.models import DTYPES, pick_dtype
from calib_eval.runner import RunConfig


def test_unknown_dtype_is_a_config_error():
    with pytest.raises(ConfigError, match="dtype must be one of auto, float32, bfloat16, float16"):
        RunConfig(dtype="float8")


@pytest.mark.parametrize("command", ["run", "score"])
def test_cli_refuses_an_unknown_dtype(command, capsys):
    argv = [command, "--dtype", "int3"] + (["--generations", "x.jsonl"] if command == "score" else [])
    with pytest.raises(SystemExit) as stop:
        cli.main(argv)
    assert stop.value.code == 2 and "invalid choice: 'int3'" in capsys.readouterr().err


def test_score_passes_device_and_dtype_to_the_scorer_model(monkeypatch, tmp_path):
    seen = {}
    monkeypatch.setattr("calib_eval.runner.rescore.rescore", lambda path, config: seen.update(config=config))
    cli.main(["score", "--generations", str(tmp_path / "items.jsonl"), "--device", "cpu", "--dtype", "bfloat16"])
    assert seen["config"].dtype == "bfloat16" and seen["config"].device == "cpu"


def test_every_named_dtype_maps_to_torch():
    import torch

    assert {str(pick_dtype("cpu", d)) for d in DTYPES if d != "auto"} == {"torch.float32", "torch.bfloat16",
                                                                         "torch.float16"}
    assert pick_dtype("cpu", "auto") == torch.float32 and pick_dtype("cuda:0", "auto") == torch.bfloat16
