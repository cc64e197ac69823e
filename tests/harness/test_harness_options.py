"""lm-eval options the calib tasks cannot honour are refused with a message; the tested lm-eval range is pinned."""
from __future__ import annotations

import re
import tomllib
from importlib.metadata import EntryPoint
from pathlib import Path

import pytest

from calib_eval.harness.task import TESTED_LM_EVAL, UNTESTED_ENV, check_lm_eval_version, check_request_options

REPO = Path(__file__).resolve().parents[2]


def _pyproject() -> dict:
    return tomllib.loads((REPO / "pyproject.toml").read_text())


def test_pyproject_pins_the_tested_lm_eval_range():
    dep = next(d for d in _pyproject()["project"]["dependencies"] if d.startswith("lm-eval"))
    low, high = (tuple(int(x) for x in m.split(".")) for m in re.findall(r"[<>]=?\s*([\d.]+)", dep))
    assert (low, high[:2]) == (TESTED_LM_EVAL[0], TESTED_LM_EVAL[1][:2])


def test_installed_lm_eval_is_in_the_tested_range():
    check_lm_eval_version()  # the suite itself runs on a tested version


@pytest.mark.parametrize("version", ["0.4.8", "0.4.12", "0.5.0", "1.0"])
def test_untested_lm_eval_fails_loudly(version, monkeypatch):
    monkeypatch.delenv(UNTESTED_ENV, raising=False)
    with pytest.raises(RuntimeError, match="tested on lm-eval"):
        check_lm_eval_version(version)
    monkeypatch.setenv(UNTESTED_ENV, "1")
    check_lm_eval_version(version)  # an explicit opt-in


def test_num_fewshot_chat_template_and_system_instruction_are_refused():
    check_request_options("t", None, False)
    check_request_options("t", 0, False)
    with pytest.raises(ValueError, match="--num_fewshot 3"):
        check_request_options("t", 3, False)
    with pytest.raises(ValueError, match="--apply_chat_template"):
        check_request_options("t", None, True)
    with pytest.raises(ValueError, match="--system_instruction"):
        check_request_options("t", None, False, "Be brief.")


@pytest.mark.filterwarnings("ignore::calib_eval.metrics.UndefinedMetricWarning")
def test_lm_eval_num_fewshot_reaches_the_task_and_is_refused(tiny_model_dir, run_lm_eval):
    # before: the YAML's num_fewshot 0 made lm-eval drop --num_fewshot with only a log line
    with pytest.raises(ValueError, match="not applied to calib tasks"):
        run_lm_eval(tiny_model_dir, ["medqa_ood_calib"], limit=1, num_fewshot=2)


@pytest.mark.filterwarnings("ignore::calib_eval.metrics.UndefinedMetricWarning")
def test_lm_eval_chat_template_is_refused(tiny_model_dir, run_lm_eval):
    with pytest.raises(ValueError, match="apply_chat_template is not supported by calib tasks"):
        run_lm_eval(tiny_model_dir, ["medqa_ood_calib"], limit=1, apply_chat_template="default")


def test_entry_point_names_the_package_that_holds_the_task_yamls():
    eps = _pyproject()["project"]["entry-points"]["lm_eval.tasks"]
    assert eps == {"calib_eval": "calib_eval.tasks"}
    module = EntryPoint("calib_eval", eps["calib_eval"], "lm_eval.tasks").load()
    folder = Path(next(iter(module.__path__)))
    assert (folder / "mmlu_oe_calib.yaml").is_file() and (folder / "examples" / "medmcqa_style.yaml").is_file()


def test_tasks_path_is_an_include_path_lm_eval_indexes(capsys):
    from lm_eval.tasks import TaskManager

    from calib_eval.cli import main

    assert main(["tasks", "path"]) == 0
    path = capsys.readouterr().out.strip()
    manager = TaskManager(include_path=path, include_defaults=False)
    assert {"mmlu_oe_calib", "medqa_ood_calib", "medmcqa_style_example", "open_qa_example"} <= set(manager.all_subtasks)


PLAIN_MC = """task: plain_first
dataset_path: json
dataset_kwargs: {{data_files: {{test: {data}}}}}
test_split: test
output_type: multiple_choice
doc_to_text: "{{{{q}}}}"
doc_to_choice: ["yes", "no"]
doc_to_target: 0
"""


@pytest.mark.filterwarnings("ignore::calib_eval.metrics.UndefinedMetricWarning")
def test_broken_request_order_fails_loudly(tiny_model_dir, data_root, tmp_path):
    """A loglikelihood-only task queued before a generate calib task: P(True) would come first; it raises."""
    import lm_eval
    from lm_eval.tasks import TaskManager

    (tmp_path / "d.jsonl").write_text('{"q": "Is it?"}\n')
    (tmp_path / "plain_first.yaml").write_text(PLAIN_MC.format(data=tmp_path / "d.jsonl"))
    manager = TaskManager(include_path=[str(REPO / "tasks"), str(tmp_path)], include_defaults=False,
                          metadata={"data_root": str(data_root)})
    with pytest.raises(RuntimeError, match="before its generate_until requests"):
        lm_eval.simple_evaluate(model="hf", model_args=f"pretrained={tiny_model_dir},dtype=float32",
                                tasks=["plain_first", "selfaware_calib"], limit=1, batch_size=1, device="cpu",
                                task_manager=manager, bootstrap_iters=0, gen_kwargs="max_gen_toks=2")
