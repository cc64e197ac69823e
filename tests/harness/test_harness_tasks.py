"""The task YAMLs: indexed by lm-eval, consistent with the task specs, docs in runner order."""
from __future__ import annotations

from pathlib import Path

import pytest
import yaml

from calib_eval.harness.datasets import calib_docs, doc_to_example, task_docs
from calib_eval.harness.scoring import EXTENDED
from calib_eval.task_specs import TASKS, load_task_examples

TASKS_DIR = Path(__file__).resolve().parents[2] / "tasks"

GENERATE = sorted(n for n, s in TASKS.items() if s.mode == "generate")
CHOICE = sorted(n for n, s in TASKS.items() if s.mode == "choice")


def test_task_manager_lists_all_six_and_the_group(task_manager):
    assert set(TASKS) <= set(task_manager.all_subtasks)
    assert "calib" in task_manager.all_groups
    assert len(TASKS) == 6


def _full_config(name: str) -> dict:
    from lm_eval.tasks._yaml_loader import load_yaml

    return load_yaml(TASKS_DIR / f"{name}.yaml", resolve_func=False)


@pytest.mark.parametrize("name", sorted(TASKS))
def test_yaml_matches_spec(name):
    spec, cfg = TASKS[name], _full_config(name)
    assert cfg["task"] == name and cfg["dataset_kwargs"] == {"task": name}
    assert cfg["metadata"]["version"]
    metrics = {m["metric"] for m in cfg["metric_list"]}
    assert {"calib_acc", "calib_ece", "calib_auroc", "calib_brier"} <= metrics
    assert set(EXTENDED) <= metrics  # every key process_results emits needs an aggregation
    if spec.mode == "generate":
        assert cfg["output_type"] == "generate_until" and cfg["class"].endswith("GenerateCalibTask")
        gen = cfg["generation_kwargs"]
        assert gen["max_gen_toks"] == spec.max_new_tokens and gen["until"] == list(spec.stop)
        assert gen["do_sample"] is False
    else:
        assert cfg["output_type"] == "multiple_choice" and cfg["class"].endswith("ChoiceCalibTask")
        assert cfg["target_delimiter"] == ""  # continuations carry their own leading space


def test_group_lists_generate_tasks_first():
    tasks = yaml.safe_load((TASKS_DIR / "calib.yaml").read_text())["task"]
    assert sorted(tasks) == sorted(TASKS)
    assert set(tasks[: len(GENERATE)]) == set(GENERATE)


def test_selfaware_reports_answerable_auroc():
    assert "calib_answerable_auroc" in {m["metric"] for m in _full_config("selfaware_calib")["metric_list"]}


@pytest.mark.parametrize("name", sorted(TASKS))
def test_docs_follow_runner_order_and_prompts(name, data_root):
    spec = TASKS[name]
    examples = load_task_examples(spec, limit=5, data_root=data_root)
    docs = task_docs(name, data_root=data_root, limit=5)
    assert [doc_to_example(d) for d in docs] == examples
    assert [d["prompt"] for d in docs] == [spec.prompt(ex, data_root) for ex in examples]
    if spec.mode == "choice":
        assert docs[0]["continuations"] == spec.continuations(examples[0])
        assert all(c.startswith(" ") for c in docs[0]["continuations"])


def test_custom_dataset_ignores_lm_eval_extras(data_root):
    # lm-eval passes metadata (version, config path, model_args) into custom_dataset
    ds = calib_docs(task="medqa_ood_calib", data_root=str(data_root), version=1.0,
                    config_source="x.yaml", pretrained="some/model")["test"]
    assert len(ds) > 1000 and "prompt" in ds.features and ds[0]["calib_task"] == "medqa_ood_calib"
