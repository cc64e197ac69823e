"""The (confidence, correct) grid every reference test in this folder draws from."""
from __future__ import annotations

import numpy as np

KINDS = ("random", "ties", "all_correct", "all_wrong", "edges", "extremes")


def make_case(kind: str, n: int, seed: int, n_bins: int = 10) -> tuple[np.ndarray, np.ndarray]:
    """(confidence, correct) for one grid cell; outcomes drawn roughly calibrated."""
    rng = np.random.default_rng([seed, n, KINDS.index(kind), n_bins])
    p = rng.random(n)
    if kind == "ties":
        p = np.round(p, 1)  # many ties, and values on bin edges incl. 0.0 and 1.0
    elif kind == "edges":
        p = rng.choice(np.arange(n_bins + 1) / n_bins, size=n)
    elif kind == "extremes":
        p = rng.choice([0.0, 1.0, 0.5], size=n)
    y = rng.random(n) < p
    if kind == "all_correct":
        y[:] = True
    elif kind == "all_wrong":
        y[:] = False
    return p, y
