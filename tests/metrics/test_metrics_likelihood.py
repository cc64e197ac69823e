"""NLL / log loss vs sklearn.metrics.log_loss."""
from __future__ import annotations

import numpy as np
import pytest
from sklearn.metrics import log_loss as sk_log_loss

from calib_eval.metrics import log_loss, nll


@pytest.mark.parametrize("kind", ["random", "ties", "extremes", "all_correct", "all_wrong"])
@pytest.mark.parametrize("n", [1, 2, 7, 1000])
def test_matches_sklearn(kind: str, n: int) -> None:
    for seed in range(3):
        rng = np.random.default_rng([seed, n])
        p = rng.random(n)
        if kind == "ties":
            p = np.round(p, 1)
        elif kind == "extremes":
            p = rng.choice([0.0, 0.5, 1.0], size=n)  # clipped to [eps, 1 - eps] like sklearn
        y = rng.random(n) < p
        if kind == "all_correct":
            y[:] = True
        elif kind == "all_wrong":
            y[:] = False
        ref = sk_log_loss(y.astype(int), p, labels=[0, 1])
        assert log_loss(p, y) == pytest.approx(ref, rel=1e-12, abs=1e-12), seed


def test_hand_values_and_alias() -> None:
    assert log_loss([0.8, 0.4], [1, 0]) == pytest.approx(-(np.log(0.8) + np.log(0.6)) / 2)
    assert log_loss([1.0], [0]) == pytest.approx(-np.log(np.finfo(float).eps))  # finite, ~36 nats
    assert nll is log_loss


def test_rejects_non_probabilities() -> None:
    with pytest.raises(ValueError, match=r"probabilities in \[0, 1\]"):
        log_loss([1.2], [1])
