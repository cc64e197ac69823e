"""`calib-eval run`: generate once per (model, task), grade, score with every scorer."""
from calib_eval.runner.config import RunConfig
from calib_eval.runner.run import run

__all__ = ["RunConfig", "run"]
