"""Smooth ECE (Błasiok & Nakkiran 2023, "Smooth ECE: Principled Reliability Diagrams via Kernel Smoothing").

Instead of bins, the residuals ``correct - confidence`` are smoothed with a
Gaussian kernel reflected at 0 and 1 (so no mass leaks out of [0, 1])::

    r_sigma(t) = (1/n) * sum_i K_sigma(t, f_i) * (y_i - f_i)
    smECE_sigma = integral over [0, 1] of |r_sigma(t)| dt

``K_sigma(t, x) = sum_k phi_sigma(t - x + 2k) + phi_sigma(t + x + 2k)`` is the
reflected kernel. The bandwidth is not a free parameter: the paper picks the
fixed point ``sigma* = smECE_sigma*`` (smECE_sigma decreases in sigma, so it
is unique), which makes the result a consistent calibration measure. Lower is
better; 0 = perfectly calibrated.

Computation: items are spread onto a uniform grid by linear interpolation,
the reflected kernel is applied as a circular convolution of the grid's even
extension (period 2) by FFT, with the Gaussian's Fourier transform in closed
form, and the integral is the trapezoid rule. The grid has at least
``GRID_PER_SIGMA / sigma`` points, so the interpolation error is small
against the kernel width; a direct sum over mirror images agrees to
~1e-4. relplot (the authors' package) works on a coarser mesh and finds sigma*
to ~1e-3: it agrees to ~1e-3 on continuous confidences, and runs 2-5% high
when confidences are tied on multiples of 0.1.
"""
from __future__ import annotations

import math
from typing import Any

import numpy as np
from scipy.optimize import brentq

from calib_eval.metrics._validation import probability_inputs

SIGMA_MIN = 1e-4  # bandwidth floor: a (near) perfectly calibrated input gets sigma* here
GRID_PER_SIGMA = 40  # grid points per unit of sigma
MIN_GRID = 513
SIGMA_TOL = 6e-8  # sigma* to within this


def _grid_size(sigma: float) -> int:
    return max(MIN_GRID, math.ceil(GRID_PER_SIGMA / sigma) + 1)


def _reflected_smooth(f: np.ndarray, weights: np.ndarray, sigma: float) -> tuple[np.ndarray, np.ndarray]:
    """(grid t, sum_i weights_i * K_sigma(t, f_i)) on a uniform grid over [0, 1]."""
    g = _grid_size(sigma)
    pos = f * (g - 1)
    left = np.clip(np.floor(pos).astype(np.int64), 0, g - 2)
    frac = pos - left
    mass = np.bincount(left, weights=weights * (1.0 - frac), minlength=g)
    mass += np.bincount(left + 1, weights=weights * frac, minlength=g)
    period = 2 * g - 2  # even extension of [0, 1] to a circle of length 2
    extended = np.concatenate((mass, mass[-2:0:-1]))
    # DFT of the kernel sampled on the circle: the Gaussian's Fourier transform
    # at frequency pi * m, times 1/h. Aliasing is below exp(-(pi * GRID_PER_SIGMA)^2 / 2).
    freq = np.pi * np.arange(period // 2 + 1)
    kernel_dft = (g - 1) * np.exp(-0.5 * (sigma * freq) ** 2)
    smoothed = np.fft.irfft(np.fft.rfft(extended) * kernel_dft, n=period)[:g]
    return np.linspace(0.0, 1.0, g), smoothed


def _smece_at(f: np.ndarray, residual: np.ndarray, sigma: float) -> float:
    t, r = _reflected_smooth(f, residual / len(f), sigma)
    return float(np.trapezoid(np.abs(r), t))


def _fixed_point(f: np.ndarray, residual: np.ndarray) -> float:
    """sigma* with smECE_sigma* = sigma*: the root of the decreasing gap smECE_sigma - sigma.

    Halve sigma from 1 until the gap turns non-negative, then close the bracket
    [sigma, 2 sigma] with Brent's method: ~log2(1/sigma*) + 6 evaluations, all
    at bandwidths >= sigma*/2 (small grids), where plain bisection from
    [SIGMA_MIN, 1] took 25 (the bootstrap calls this a thousand times per scorer).
    """
    def gap(sigma: float) -> float:
        return _smece_at(f, residual, sigma) - sigma

    hi, gap_hi = 1.0, gap(1.0)
    if gap_hi >= 0:
        return 1.0
    while True:
        lo = max(SIGMA_MIN, hi / 2)
        gap_lo = gap(lo)
        if gap_lo >= 0:
            break
        if lo == SIGMA_MIN:
            return SIGMA_MIN  # (near) perfectly calibrated: sigma* at the floor
        hi = lo
    if gap_lo == 0:
        return lo
    return float(brentq(gap, lo, hi, xtol=SIGMA_TOL, rtol=1e-10))


def smooth_ece_bandwidth(confidence: Any, correct: Any) -> float:
    """The fixed-point bandwidth sigma* that :func:`smooth_ece` uses."""
    f, y = probability_inputs(confidence, correct)
    return _fixed_point(f, y - f)


def smooth_ece(confidence: Any, correct: Any, sigma: float | None = None) -> float:
    """Smooth ECE of P(correct) ``confidence``; lower is better.

    ``sigma=None`` (default) uses the paper's fixed-point bandwidth; pass a
    number for smECE at a fixed kernel width (the paper's smECE_sigma).
    Defined for any non-empty input, one class and n = 1 included.
    """
    f, y = probability_inputs(confidence, correct)
    residual = y - f
    if sigma is None:
        sigma = _fixed_point(f, residual)
    elif not SIGMA_MIN <= sigma <= 1.0:
        raise ValueError(f"sigma must be in [{SIGMA_MIN}, 1], got {sigma!r}.")
    return _smece_at(f, residual, float(sigma))
