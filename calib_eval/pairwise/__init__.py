"""Pairwise confidence comparison (Steyvers et al. 2025), evaluated over a finished run.

The model is shown two questions it has answered, one correctly and one not,
and asked which it is more likely to answer correctly (``PAIRWISE_QUERY``,
the prompt pairwise-sft trains on). Modules: :mod:`.pairs` (which pairs),
:mod:`.probability` (P("1") from the model), :mod:`.report` (numbers and
table), :mod:`.evaluate` (`calib-eval pairwise`). Metrics live in
:mod:`calib_eval.metrics.pairwise`. Nothing heavy is imported here.
"""
from calib_eval.pairwise.evaluate import PairwiseConfig, run_pairwise
from calib_eval.pairwise.pairs import Pair, sample_pairs

__all__ = ["Pair", "PairwiseConfig", "run_pairwise", "sample_pairs"]
