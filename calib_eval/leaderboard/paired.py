"""Each row's paired AUROC difference to the best untrained scorer of its model, on the same items.

Reference: among a task's rows of one model without an adapter whose per-item
scores the leaderboard holds (item_scores), the one with the highest AUROC
point estimate; fresh rows are preferred over stale ones. Every other row of
that model with per-item scores is compared on the items both scored (matched
by id): AUROC(row) - AUROC(reference), 95% BCa interval from the paired
bootstrap of calib_eval.metrics (the same resampled items for both sides).
Rows from one run share correctness labels (`paired_bootstrap_diff`); rows of
two runs whose graded answers differ keep each side's own labels on the same
resample. "Separable": the interval excludes 0. With fewer than MIN_CLASS_ITEMS
correct (or wrong) answers among the shared items no interval is given: a
bootstrap over one or two positives yields tight but meaningless intervals.
"""
from __future__ import annotations

import warnings
from dataclasses import dataclass

import numpy as np

from calib_eval.leaderboard.item_scores import ItemScores
from calib_eval.leaderboard.records import NO_ADAPTER, Row

PAIRED_RESAMPLES = 1000  # as the runner's default --bootstrap
PAIRED_SEED = 0
MIN_CLASS_ITEMS = 5  # fewest correct and fewest wrong answers, on either side, for an interval


@dataclass(frozen=True)
class PairedDiff:
    reference: str  # the reference row's scorer
    estimate: float | None  # AUROC(row) - AUROC(reference); None when undefined (one class, no common items)
    low: float | None = None
    high: float | None = None
    n: int = 0  # items both rows scored
    is_reference: bool = False
    scarce: str = ""  # e.g. "1 correct": too few of a class for an interval (MIN_CLASS_ITEMS)

    @property
    def separable(self) -> bool:
        return self.low is not None and self.high is not None and (self.low > 0 or self.high < 0)


def compare_to_best(rows, items: dict[str, ItemScores]) -> list[PairedDiff | None]:
    """One entry per row (None: no per-item scores for it or for its model's reference)."""
    refs = reference_rows(rows, items)
    out = []
    for row in rows:
        ref = refs.get(row.model)
        if ref is None or _scores(row, items) is None:
            out.append(None)
        elif row.key == ref.key:
            out.append(PairedDiff(ref.scorer, 0.0, 0.0, 0.0, len(items[ref.source].ids), is_reference=True))
        else:
            out.append(_diff(row, ref, items))
    return out


def reference_rows(rows, items: dict[str, ItemScores]) -> dict[str, Row]:
    """model -> its untrained row with per-item scores and the highest AUROC (fresh before stale)."""
    best: dict[str, Row] = {}
    for row in rows:
        if row.adapter != NO_ADAPTER or _auroc(row) is None or _scores(row, items) is None:
            continue
        current = best.get(row.model)
        if current is None or _rank(row) > _rank(current):
            best[row.model] = row
    return best


def _rank(row: Row) -> tuple:
    return (not row.stale, _auroc(row), row.scorer)  # the name breaks exact ties deterministically


def _auroc(row: Row) -> float | None:
    value = None if row.auroc is None else row.auroc.estimate
    return None if value is None or np.isnan(value) else value


def _scores(row: Row, items: dict[str, ItemScores]):
    block = items.get(row.source)
    return None if block is None or block.task != row.task else block.scores.get(row.scorer)


def aligned(block_a: ItemScores, scorer_a: str, block_b: ItemScores, scorer_b: str):
    """(score_a, correct_a, score_b, correct_b) on the ids both blocks hold, in block_a's order."""
    where = {item: i for i, item in enumerate(block_b.ids)}
    pos_a = [i for i, item in enumerate(block_a.ids) if item in where]
    pos_b = [where[block_a.ids[i]] for i in pos_a]
    return (block_a.scores[scorer_a][pos_a], block_a.correct[pos_a],
            block_b.scores[scorer_b][pos_b], block_b.correct[pos_b])


def paired_auroc_diff(a, ya, b, yb, n_resamples: int = PAIRED_RESAMPLES, seed: int = PAIRED_SEED):
    """BCa interval of AUROC(a, ya) - AUROC(b, yb) over the same resampled items (a BootstrapResult)."""
    from calib_eval.metrics import paired_bootstrap_diff, roc_auc
    from calib_eval.metrics.bootstrap import bca_from_rows
    from calib_eval.metrics.rows import auroc_rows

    with warnings.catch_warnings():
        warnings.simplefilter("ignore")  # one-class AUROC: NaN, reported as undefined
        if np.array_equal(ya, yb):
            return paired_bootstrap_diff(roc_auc, a, b, ya, n_resamples=n_resamples, seed=seed, rows_fn=auroc_rows)
        estimate = roc_auc(a, ya) - roc_auc(b, yb)
        stat = lambda idx: auroc_rows(a[idx], ya[idx]) - auroc_rows(b[idx], yb[idx])
        return bca_from_rows(estimate, stat, len(a), n_resamples=n_resamples, seed=seed)


def _diff(row: Row, ref: Row, items: dict[str, ItemScores]) -> PairedDiff:
    a, ya, b, yb = aligned(items[row.source], row.scorer, items[ref.source], ref.scorer)
    if len(a) < 2:
        return PairedDiff(ref.scorer, None, n=len(a))
    scarce = _scarce(ya, yb)
    if scarce:
        return PairedDiff(ref.scorer, _point(a, ya, b, yb), n=len(a), scarce=scarce)
    result = paired_auroc_diff(a, ya, b, yb)
    if not np.isfinite(result.estimate):
        return PairedDiff(ref.scorer, None, n=len(a))
    low, high = (None, None) if np.isnan(result.low) else (result.low, result.high)
    return PairedDiff(ref.scorer, float(result.estimate), low, high, len(a))


def _scarce(ya: np.ndarray, yb: np.ndarray) -> str:
    """'2 correct' / '3 wrong' when a side has fewer than MIN_CLASS_ITEMS of a class; '' otherwise."""
    counts = {"correct": min(int(ya.sum()), int(yb.sum())), "wrong": min(int((~ya).sum()), int((~yb).sum()))}
    kind = min(counts, key=counts.get)
    return f"{counts[kind]} {kind}" if counts[kind] < MIN_CLASS_ITEMS else ""


def _point(a, ya, b, yb) -> float | None:
    from calib_eval.metrics import roc_auc

    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        value = roc_auc(a, ya) - roc_auc(b, yb)
    return None if np.isnan(value) else float(value)


def format_diff(diff: PairedDiff | None, row_n: int | None = None) -> str:
    """`+0.052 [-0.02, +0.12] ✓` (✓: separable), '— ref.' for the reference, '–' when unknown."""
    if diff is None:
        return "–"
    if diff.is_reference:
        return "— ref."
    if diff.estimate is None:
        return "–"
    text = f"{diff.estimate:+.3f}"
    if diff.low is not None and diff.high is not None:
        text += f" [{diff.low:+.2f}, {diff.high:+.2f}]"
    elif diff.scarce:
        text += f" (no CI: {diff.scarce})"
    if row_n is not None and diff.n != row_n:
        text += f" n={diff.n}"
    return text + (" \u2713" if diff.separable else "")
