"""Do the leaderboard's 95% intervals cover the truth 95% of the time? A simulation with known calibration.

    python bench/coverage.py                  # 1,000 replications per cell, replaces the
    python bench/coverage.py --reps 200       # "coverage" section of bench/RESULTS.md

Population: confidence p ~ Beta(A, B), P(correct | p) = p ** GAMMA (GAMMA > 1:
overconfident). A second scorer q = sigmoid(logit(p) + N(0, NOISE^2)) is a
noisier view of the same items (for the paired AUROC difference). True values:
ECE (10 uniform bins, p_correct, the leaderboard's form) and Brier by numerical
integration; AUROC(p), AUROC(q) by Monte Carlo on 4 million items (standard
error ~2e-4, far below any interval width here). Each replication draws n
items and computes the intervals exactly as the results files do
(:func:`calib_eval.metrics.bootstrap.bca_from_rows`, 1,000 resamples), so the
table measures the shipped method. The ECE interval targets the *population
binned ECE of this fixed confidence function*; the plug-in ECE is biased
upward at small n, which is what makes it the hard case.
"""
from __future__ import annotations

import argparse
import os
import time
from multiprocessing import Pool
from pathlib import Path

import numpy as np
from scipy import integrate, stats

from calib_eval.metrics.bootstrap import bca_from_rows
from calib_eval.metrics.rows import auroc_rows, brier_rows, ece_rows

A, B, GAMMA, NOISE, N_BINS = 4.0, 2.0, 1.5, 1.0, 10
SIZES = (50, 200, 1000)
METRICS = ("ECE", "AUROC", "Brier", "AUROC(p) - AUROC(q)")


def draw(n: int, rng: np.random.Generator) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    p = rng.beta(A, B, size=n)
    y = rng.random(n) < p ** GAMMA
    logit = np.log(p) - np.log1p(-p)
    q = 1.0 / (1.0 + np.exp(-(logit + NOISE * rng.normal(size=n))))
    return p, y, q


def truth() -> dict[str, float]:
    pdf = stats.beta(A, B).pdf
    gaps = [integrate.quad(lambda p: (p - p ** GAMMA) * pdf(p), k / N_BINS, (k + 1) / N_BINS)[0]
            for k in range(N_BINS)]
    brier = integrate.quad(lambda p: (p * p - 2 * p * p ** GAMMA + p ** GAMMA) * pdf(p), 0, 1)[0]
    p, y, q = draw(4_000_000, np.random.default_rng(12345))
    auc_p, auc_q = auroc_rows(p, y)[0], auroc_rows(q, y)[0]
    return {"ECE": float(np.sum(np.abs(gaps))), "AUROC": float(auc_p), "Brier": float(brier),
            "AUROC(p) - AUROC(q)": float(auc_p - auc_q)}


def intervals(n: int, seed: int, resamples: int) -> list[tuple[float, float, float]]:
    """(estimate, low, high) per metric for one replication."""
    p, y, q = draw(n, np.random.default_rng(seed))
    stats_rows = {
        "ECE": lambda i: ece_rows(p[i], y[i], N_BINS),
        "AUROC": lambda i: auroc_rows(p[i], y[i]),
        "Brier": lambda i: brier_rows(p[i], y[i]),
        "AUROC(p) - AUROC(q)": lambda i: auroc_rows(p[i], y[i]) - auroc_rows(q[i], y[i]),
    }
    out = []
    full = np.arange(n)[None, :]
    for name in METRICS:
        res = bca_from_rows(float(stats_rows[name](full)[0]), stats_rows[name], n, resamples, 0.95, seed)
        out.append((res.estimate, res.low, res.high))
    return out


def _job(args: tuple[int, int, int]) -> list[tuple[float, float, float]]:
    return intervals(*args)


def table(reps: int, resamples: int, seed: int, processes: int) -> list[list[str]]:
    true = truth()
    rows = []
    with Pool(processes) as pool:
        for n in SIZES:
            results = np.array(pool.map(_job, [(n, seed * 1_000_003 + n * 10_007 + r, resamples) for r in range(reps)],
                                        chunksize=max(1, reps // (8 * processes))))  # (reps, metric, 3)
            for m, name in enumerate(METRICS):
                est, low, high = results[:, m, 0], results[:, m, 1], results[:, m, 2]
                ok = np.isfinite(low)
                cover = np.mean((low[ok] <= true[name]) & (true[name] <= high[ok]))
                se = np.sqrt(cover * (1 - cover) / ok.sum())
                contains = np.mean((low[ok] <= est[ok]) & (est[ok] <= high[ok]))
                rows.append([name, str(n), f"{true[name]:.4f}", f"{np.mean(est):.4f}", "95%",
                             f"{100 * cover:.1f}% (±{100 * 1.96 * se:.1f})", f"{np.mean(high[ok] - low[ok]):.4f}",
                             f"{100 * contains:.0f}%", str(int((~ok).sum()))])
    return rows


HEADER = ["metric", "n", "true value", "mean estimate", "nominal", "observed coverage (±95% MC)",
          "mean width", "contains estimate", "undefined"]


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--reps", type=int, default=1000)
    parser.add_argument("--resamples", type=int, default=1000)
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--processes", type=int, default=os.cpu_count() or 1)
    parser.add_argument("--results", default=str(Path(__file__).with_name("RESULTS.md")))
    parser.add_argument("--no-write", action="store_true", help="print only")
    args = parser.parse_args(argv)
    started = time.perf_counter()
    rows = table(args.reps, args.resamples, args.seed, args.processes)
    lines = ["## coverage", "",
             f"`python bench/coverage.py --reps {args.reps}`: {args.reps} replications per row, BCa with "
             f"{args.resamples} resamples (the results files' method), seed {args.seed}. Population: "
             f"p ~ Beta({A:g}, {B:g}), P(correct | p) = p^{GAMMA:g}; q = sigmoid(logit p + N(0, {NOISE:g})) for the "
             "paired difference. ECE = 10 uniform bins, p_correct; its target is the population binned ECE.", "",
             "| " + " | ".join(HEADER) + " |", "|" + "---|" * len(HEADER),
             *("| " + " | ".join(r) + " |" for r in rows), "",
             f"Simulation time {time.perf_counter() - started:.0f} s ({args.processes} processes)."]
    body = "\n".join(lines)
    print(body)
    if not args.no_write:
        from cost import replace_section  # bench/ is on sys.path as a script

        replace_section(Path(args.results), "coverage", body)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
