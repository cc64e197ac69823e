"""Pure-numpy calibration and selective-prediction metrics.

Every function validates its inputs up front (lengths, emptiness, NaN,
[0, 1] confidences, binary labels) and raises ``ValueError`` naming the
problem. ``correct`` is always per-item correctness (bool or 0/1); ``confidence``
is P(correct) in [0, 1]; ``score`` is any finite real, higher = more likely
correct. Conventions (bin edges, ties) are in each module's docstring.
"""
# Bumped whenever a metric, interval or recalibration rule changes the numbers a
# results file holds; leaderboard rows made under another version are stale.
METRICS_VERSION = "3"  # 3: ECE intervals by test inversion (ece_interval), not BCa

from calib_eval.metrics._validation import UndefinedMetricWarning
from calib_eval.metrics.bootstrap import BootstrapResult, bootstrap_ci, paired_bootstrap_diff
from calib_eval.metrics.calibration import (
    ReliabilityCurve,
    ece_from_curve,
    equal_mass_ece,
    expected_calibration_error,
    reliability_curve,
    rms_calibration_error,
)
from calib_eval.metrics.ece_interval import ece_interval
from calib_eval.metrics.calibration_map import (
    PlattMap,
    TemperatureMap,
    apply_temperature,
    fit_platt,
    fit_temperature,
)
from calib_eval.metrics.likelihood import log_loss, nll
from calib_eval.metrics.pairwise import pairwise_accuracy, win_rates
from calib_eval.metrics.precision_recall import average_precision
from calib_eval.metrics.ranking import roc_auc
from calib_eval.metrics.rejection import prediction_rejection_area, prediction_rejection_ratio
from calib_eval.metrics.scoring import accuracy, brier_score, brier_score_loss
from calib_eval.metrics.selective import RiskCoverageCurve, aurc, risk_coverage_curve, selective_accuracy
from calib_eval.metrics.smooth import smooth_ece, smooth_ece_bandwidth
from calib_eval.metrics.summary import CalibrationMap, recalibrated_summary, summarize

__all__ = [
    "METRICS_VERSION",
    "BootstrapResult",
    "CalibrationMap",
    "PlattMap",
    "ReliabilityCurve",
    "RiskCoverageCurve",
    "TemperatureMap",
    "UndefinedMetricWarning",
    "accuracy",
    "apply_temperature",
    "aurc",
    "average_precision",
    "bootstrap_ci",
    "brier_score",
    "brier_score_loss",
    "ece_from_curve",
    "ece_interval",
    "equal_mass_ece",
    "expected_calibration_error",
    "fit_platt",
    "fit_temperature",
    "log_loss",
    "nll",
    "paired_bootstrap_diff",
    "pairwise_accuracy",
    "prediction_rejection_area",
    "prediction_rejection_ratio",
    "reliability_curve",
    "risk_coverage_curve",
    "rms_calibration_error",
    "roc_auc",
    "selective_accuracy",
    "smooth_ece",
    "smooth_ece_bandwidth",
    "recalibrated_summary",
    "summarize",
    "win_rates",
]
