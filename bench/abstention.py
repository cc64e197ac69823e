"""Conformal abstention (calib_eval.conformal) in simulation: does the guarantee hold, and is it useful?

    python bench/abstention.py                 # 2,000 replications per cell, replaces the
    python bench/abstention.py --reps 5000     # "abstention" section of bench/RESULTS.md

Known score distributions, so the selective risk of any threshold is exact:
confidence f ~ Beta(a, b), P(correct | f) = f ** gamma (gamma = 1 calibrated,
> 1 overconfident). Then with I the regularised incomplete beta function,

    coverage(lam) = 1 - I_lam(a, b)
    R(lam) = 1 - B(a + gamma, b) / B(a, b) * (1 - I_lam(a + gamma, b)) / (1 - I_lam(a, b))

Each replication draws n calibration and n test items, fits the rule on the
calibration items and records the exact R and coverage of the chosen
threshold, plus the error rate realised on the test items. The guarantee is
P(R > alpha) <= delta. "oracle coverage" is the most coverage any grid
threshold with R <= alpha gives; "plug-in" is the naive rule (lowest
threshold whose calibration error rate is <= alpha), for contrast.
"""
from __future__ import annotations

import argparse
import time
from pathlib import Path

import numpy as np
from scipy.special import beta as beta_fn
from scipy.special import betainc

from calib_eval.conformal import DEFAULT_GRID, binomial_p_values, fixed_sequence_rejections, threshold_counts

SCENARIOS = {  # name: (a, b, gamma)
    "calibrated, Beta(8,2)": (8.0, 2.0, 1.0),
    "overconfident, Beta(8,2), P=f^2": (8.0, 2.0, 2.0),
}
ALPHAS = (0.1, 0.2)
DELTAS = (0.05, 0.1, 0.2)
SIZES = (200, 1000, 5000)


def exact_risk_coverage(a: float, b: float, gamma: float, grid: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """(R(lam), coverage(lam)) per grid threshold; R is NaN where coverage is 0."""
    coverage = 1.0 - betainc(a, b, grid)
    kept_correct = beta_fn(a + gamma, b) / beta_fn(a, b) * (1.0 - betainc(a + gamma, b, grid))
    with np.errstate(invalid="ignore", divide="ignore"):
        risk = np.where(coverage > 0, 1.0 - kept_correct / coverage, np.nan)
    return risk, coverage


def draw(rng: np.random.Generator, a: float, b: float, gamma: float, n: int) -> tuple[np.ndarray, np.ndarray]:
    f = rng.beta(a, b, size=n)
    return f, rng.random(n) < f**gamma


def one_cell(scenario: tuple[float, float, float], n: int, alpha: float, reps: int, seed: list[int]) -> dict:
    """Per delta: chosen-threshold indices (or -1 = abstain) of LTT, plus the plug-in rule's, and test risks."""
    rng = np.random.default_rng(seed)
    grid = DEFAULT_GRID
    chosen = {d: np.full(reps, -1) for d in DELTAS}
    test_risk = {d: np.full(reps, np.nan) for d in DELTAS}
    plug_in = np.full(reps, -1)
    for r in range(reps):
        f, y = draw(rng, *scenario, n)
        ft, yt = draw(rng, *scenario, n)
        answered, errors = threshold_counts(f, (~y).astype(float), grid)
        p = binomial_p_values(errors, answered, alpha)[::-1]  # strict to lenient
        for d in DELTAS:
            certified = np.flatnonzero(fixed_sequence_rejections(p, d)[::-1])
            if len(certified):
                chosen[d][r] = certified.min()
                kept = ft >= grid[certified.min()]
                test_risk[d][r] = np.mean(~yt[kept]) if kept.any() else np.nan
        ok = np.flatnonzero((answered > 0) & (errors <= alpha * answered))
        plug_in[r] = ok.min() if len(ok) else -1
    return {"chosen": chosen, "test_risk": test_risk, "plug_in": plug_in}


def summarise(scenario, n: int, alpha: float, cell: dict) -> list[list[str]]:
    risk, coverage = exact_risk_coverage(*scenario, DEFAULT_GRID)
    oracle = coverage[(risk <= alpha)].max() if (risk <= alpha).any() else 0.0
    plug = cell["plug_in"]
    plug_viol = np.mean(np.where(plug >= 0, risk[np.maximum(plug, 0)] > alpha, False))
    rows = []
    for d in DELTAS:
        idx = cell["chosen"][d]
        answered = idx >= 0
        violated = np.where(answered, risk[np.maximum(idx, 0)] > alpha, False)
        reps = len(idx)
        sigma = np.sqrt(d * (1 - d) / reps)
        cov = np.where(answered, coverage[np.maximum(idx, 0)], 0.0)
        realised = cell["test_risk"][d]
        rows.append([f"{n}", f"{alpha:.2f}", f"{d:.2f}", f"{violated.mean():.4f}",
                     "yes" if violated.mean() <= d + 3 * sigma else "NO",
                     _rate(realised[answered] > alpha), _rate(realised[answered]),
                     f"{cov.mean():.3f}", f"{oracle:.3f}", f"{1 - answered.mean():.3f}", f"{plug_viol:.3f}"])
    return rows


def _rate(values: np.ndarray) -> str:
    """Mean over the replications where the rule answered something; '-' if it never did."""
    values = values[~np.isnan(values)] if values.dtype.kind == "f" else values
    return f"{np.mean(values):.3f}" if len(values) else "-"


HEADER = ["n cal (= n test)", "alpha", "delta", "P(R > alpha)", "<= delta (+3 s.e.)",
          "P(test risk > alpha)", "mean test risk", "mean coverage", "oracle coverage",
          "P(abstain all)", "plug-in P(R > alpha)"]


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--reps", type=int, default=2000)
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--results", default=str(Path(__file__).with_name("RESULTS.md")))
    parser.add_argument("--no-write", action="store_true", help="print only")
    args = parser.parse_args(argv)
    started = time.perf_counter()
    lines = ["## abstention", "",
             f"`python bench/abstention.py --reps {args.reps}`: {args.reps} replications per row, seed {args.seed}. "
             "R = exact selective risk (error rate among answered items in the population) of the chosen "
             "threshold; coverage = exact population share answered (0 when the rule abstains on all); "
             "test risk = error rate on the n test items (rows where the rule answers). Guarantee: "
             "P(R > alpha) <= delta.", ""]
    for s_i, (name, scenario) in enumerate(SCENARIOS.items()):
        lines += [f"**{name}** (a, b, gamma = {scenario})", "", "| " + " | ".join(HEADER) + " |",
                  "|" + "---|" * len(HEADER)]
        for n in SIZES:
            for alpha in ALPHAS:
                cell = one_cell(scenario, n, alpha, args.reps, seed=[args.seed, s_i, n, round(alpha * 100)])
                lines += ["| " + " | ".join(row) + " |" for row in summarise(scenario, n, alpha, cell)]
        lines.append("")
    lines.append(f"Simulation time {time.perf_counter() - started:.0f} s.")
    body = "\n".join(lines)
    print(body)
    if not args.no_write:
        from cost import replace_section  # bench/ is on sys.path as a script

        replace_section(Path(args.results), "abstention", body)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
