"""lm-evaluation-harness glue: the six ``*_calib`` tasks and their registration.

- ``tasks/*.yaml`` (shipped as package ``calib_eval.tasks``) define the tasks;
  they point at the small helpers here via ``!function``:
  :mod:`~calib_eval.harness.datasets` (docs), :mod:`~calib_eval.harness.task`
  (request construction), :mod:`~calib_eval.harness.scoring` (metrics).
- :mod:`~calib_eval.harness.install` makes plain ``lm_eval --tasks ...`` see them.

Importing this package does not import lm-eval; the submodules that need it do.
"""
from calib_eval.harness.install import (InstallStatus, install_tasks, lm_eval_tasks_dir, packaged_tasks_dir,
                                        tasks_installed, uninstall_tasks)

__all__ = ["InstallStatus", "install_tasks", "lm_eval_tasks_dir", "packaged_tasks_dir", "tasks_installed",
           "uninstall_tasks"]
