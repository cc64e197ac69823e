"""Registration for plain ``lm_eval --tasks``: stubs in a (fake) lm-eval tasks folder."""
from __future__ import annotations

import pytest

from calib_eval.errors import CalibEvalError
from calib_eval.harness import install
from calib_eval.task_specs import TASKS


@pytest.fixture
def fake_lm_eval_tasks(tmp_path):
    """Stands in for <site-packages>/lm_eval/tasks so tests never write to the real one."""
    folder = tmp_path / "lm_eval" / "tasks"
    folder.mkdir(parents=True)
    return folder


def test_install_writes_real_stub_files_that_include_the_packaged_yaml(fake_lm_eval_tasks):
    dest = install.install_tasks(fake_lm_eval_tasks)
    assert dest == fake_lm_eval_tasks / "calib_eval" and not dest.is_symlink()
    assert (dest / install.MARKER).is_file()
    names = {p.stem for p in dest.glob("*.yaml")}
    assert names == set(TASKS) | {"calib"}  # no stubs for the _*.yaml bases
    source = install.packaged_tasks_dir()
    text = (dest / "mmlu_oe_calib.yaml").read_text()
    assert f'include: "{source / "mmlu_oe_calib.yaml"}"' in text


def test_install_is_idempotent_and_removes_stale_stubs(fake_lm_eval_tasks):
    dest = install.install_tasks(fake_lm_eval_tasks)
    (dest / "old_calib_task.yaml").write_text("include: /nowhere.yaml\n")
    before = {p.name: p.read_text() for p in dest.iterdir() if p.name != "old_calib_task.yaml"}
    assert install.install_tasks(fake_lm_eval_tasks) == dest
    assert {p.name: p.read_text() for p in dest.iterdir()} == before


def test_task_manager_finds_and_builds_the_stub_tasks(fake_lm_eval_tasks, data_root):
    from lm_eval.tasks import TaskManager

    install.install_tasks(fake_lm_eval_tasks)
    tm = TaskManager(include_path=str(fake_lm_eval_tasks), include_defaults=False,
                     metadata={"data_root": str(data_root)})
    assert set(TASKS) <= set(tm.all_subtasks) and "calib" in tm.all_groups
    assert tm.task_index["mmlu_oe_calib"].yaml_path.parent == fake_lm_eval_tasks / "calib_eval"
    task = tm.load(["pubmedqa_ood_calib"])["tasks"]["pubmedqa_ood_calib"]  # resolves include + !function
    assert type(task).__name__ == "ChoiceCalibTask" and len(task.eval_docs) == 1000


def test_status_and_uninstall_round_trip(fake_lm_eval_tasks):
    assert not install.tasks_installed(fake_lm_eval_tasks).installed
    install.install_tasks(fake_lm_eval_tasks)
    status = install.tasks_installed(fake_lm_eval_tasks)
    assert status.ok and status.source == install.packaged_tasks_dir()
    (status.path / "medqa_ood_calib.yaml").unlink()
    assert install.tasks_installed(fake_lm_eval_tasks).missing == ("medqa_ood_calib",)
    assert install.uninstall_tasks(fake_lm_eval_tasks) is True
    assert not (fake_lm_eval_tasks / "calib_eval").exists()
    assert install.uninstall_tasks(fake_lm_eval_tasks) is False
    assert fake_lm_eval_tasks.is_dir()  # only our folder went


def test_foreign_folder_is_never_touched(fake_lm_eval_tasks):
    foreign = fake_lm_eval_tasks / "calib_eval"
    foreign.mkdir()
    (foreign / "someone_elses.yaml").write_text("task: x\n")
    with pytest.raises(CalibEvalError, match="not written by calib-eval"):
        install.uninstall_tasks(fake_lm_eval_tasks)
    with pytest.raises(CalibEvalError, match="not written by calib-eval"):
        install.install_tasks(fake_lm_eval_tasks)
    assert (foreign / "someone_elses.yaml").is_file()


def test_default_target_is_lm_evals_own_tasks_folder():
    import lm_eval.tasks

    status = install.tasks_installed()  # read-only
    assert status.path.parent == install.lm_eval_tasks_dir()
    assert (install.lm_eval_tasks_dir() / "__init__.py").samefile(lm_eval.tasks.__file__)
