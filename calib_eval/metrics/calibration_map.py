"""Maps from raw scores to probabilities, fitted on one split and applied on another.

Raw uncertainty scores (negative entropy, log-likelihood) rank items but are not
probabilities, so ECE/Brier need a map first. Fit it on a calibration split and
report metrics on a different one, or the calibration is flattered.

- Platt scaling: ``P = sigmoid(a * score + b)``, two parameters.
- Temperature scaling: ``P = sigmoid(logit / T)``, one parameter; it keeps the
  0.5 point and the ranking, only sharpening (T < 1) or softening (T > 1).

Both are plain numpy: Newton's method for Platt (convex, 2x2 Hessian) and a
bisection on the monotone NLL gradient for the temperature.
"""
from __future__ import annotations

from dataclasses import dataclass
from typing import Any

import numpy as np

from calib_eval.metrics._validation import as_1d, check_finite, check_lengths, check_probabilities, score_inputs

PROB_CLIP = 1e-7  # probabilities are clipped to [eps, 1 - eps] before taking logits (float32 saturates at 1.0)
T_MIN, T_MAX = 1e-3, 1e3  # temperature search range; separable data runs to a bound


def sigmoid(x: np.ndarray) -> np.ndarray:
    """Overflow-free logistic function."""
    return 0.5 * (1.0 + np.tanh(0.5 * x))


def to_logits(values: Any, is_probability: bool, name: str = "values") -> np.ndarray:
    """Validated logits: probabilities are clipped to ``[PROB_CLIP, 1 - PROB_CLIP]`` first."""
    arr = as_1d(values, name)
    check_lengths(**{name: arr})
    if not is_probability:
        check_finite(arr, name)
        return arr
    check_probabilities(arr, name)
    p = np.clip(arr, PROB_CLIP, 1.0 - PROB_CLIP)
    return np.log(p) - np.log1p(-p)


@dataclass(frozen=True)
class PlattMap:
    """``P(correct) = sigmoid(a * score + b)``."""

    a: float
    b: float

    def apply(self, score: Any) -> np.ndarray:
        s = as_1d(score, "score")
        check_lengths(score=s)
        check_finite(s, "score")
        return sigmoid(self.a * s + self.b)


def _newton_logistic(z: np.ndarray, t: np.ndarray, ridge: float = 1e-9, max_iter: int = 100) -> np.ndarray:
    """Weights w minimising mean cross-entropy of sigmoid(w0 * z + w1) against soft targets t."""
    x = np.stack([z, np.ones_like(z)], axis=1)  # (n, 2)

    def loss(w: np.ndarray) -> float:
        f = x @ w
        return float(np.mean(np.logaddexp(0.0, f) - t * f) + 0.5 * ridge * w[0] ** 2)

    w = np.zeros(2)
    current = loss(w)
    for _ in range(max_iter):
        p = sigmoid(x @ w)
        grad = x.T @ (p - t) / len(z) + np.array([ridge * w[0], 0.0])
        hess = (x * (p * (1 - p))[:, None]).T @ x / len(z) + np.diag([ridge, 1e-12])
        step = np.linalg.solve(hess, grad)
        scale = 1.0
        while scale > 1e-10 and loss(w - scale * step) > current:
            scale /= 2.0  # backtracking keeps each step a descent step
        w = w - scale * step
        previous, current = current, loss(w)
        if previous - current < 1e-15 or np.max(np.abs(scale * step)) < 1e-12:
            break
    return w


def fit_platt(score: Any, correct: Any) -> PlattMap:
    """Fit Platt scaling on a calibration split.

    Uses Platt's (1999) smoothed targets ``(N+ + 1)/(N+ + 2)`` and ``1/(N- + 2)``
    (as scikit-learn's sigmoid calibration does) so perfectly separable or
    one-class splits give a finite map instead of diverging.
    """
    s, y = score_inputs(score, correct)
    n_pos = int(y.sum())
    n_neg = len(y) - n_pos
    t = np.where(y, (n_pos + 1.0) / (n_pos + 2.0), 1.0 / (n_neg + 2.0))
    mu, sd = float(s.mean()), float(s.std())
    sd = sd if sd > 0 else 1.0  # constant scores: slope stays 0 via the ridge
    w = _newton_logistic((s - mu) / sd, t)
    return PlattMap(a=float(w[0] / sd), b=float(w[1] - w[0] * mu / sd))


def _nll_slope(beta: float, z: np.ndarray, y: np.ndarray) -> float:
    """d/d(beta) of the mean NLL of sigmoid(beta * z); increasing in beta (convex NLL)."""
    return float(np.mean((sigmoid(beta * z) - y) * z))


def fit_temperature(logit_or_prob: Any, correct: Any, is_probability: bool = False) -> float:
    """Temperature ``T`` minimising the NLL of ``sigmoid(logit / T)`` on a calibration split.

    Pass ``is_probability=True`` for P(correct) values; they are turned into
    logits (clipped at ``PROB_CLIP``). The result lies in ``[T_MIN, T_MAX]``.
    """
    z = to_logits(logit_or_prob, is_probability, "logit_or_prob")
    _, y = score_inputs(z, correct, name="logit_or_prob")
    yf = y.astype(np.float64)
    lo, hi = np.log(1.0 / T_MAX), np.log(1.0 / T_MIN)  # search over log(beta), beta = 1/T
    if _nll_slope(np.exp(lo), z, yf) >= 0:
        return T_MAX
    if _nll_slope(np.exp(hi), z, yf) <= 0:
        return T_MIN
    for _ in range(100):
        mid = 0.5 * (lo + hi)
        if _nll_slope(np.exp(mid), z, yf) > 0:
            hi = mid
        else:
            lo = mid
    return float(1.0 / np.exp(0.5 * (lo + hi)))


def apply_temperature(logit_or_prob: Any, temperature: float, is_probability: bool = False) -> np.ndarray:
    """``sigmoid(logit / T)`` as probabilities."""
    if not temperature > 0:
        raise ValueError(f"temperature must be positive, got {temperature!r}.")
    return sigmoid(to_logits(logit_or_prob, is_probability, "logit_or_prob") / temperature)


@dataclass(frozen=True)
class TemperatureMap:
    """A fitted temperature with the same ``.apply`` interface as :class:`PlattMap`."""

    temperature: float
    is_probability: bool = False

    def apply(self, logit_or_prob: Any) -> np.ndarray:
        return apply_temperature(logit_or_prob, self.temperature, self.is_probability)
