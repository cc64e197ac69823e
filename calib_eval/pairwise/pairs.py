"""Which items to compare: pairs of one correctly and one incorrectly answered item.

Only pairs whose measured correctness differs have a right reply (the same
rule pairwise-sft trains on). Unlike training, evaluation draws *distinct*
pairs, and the order is balanced exactly: question 1 is the correct one in
half the pairs, so a model that always replies "1" scores 0.5, not whatever
the coin happened to favour.
"""
from __future__ import annotations

import random
from dataclasses import dataclass
from typing import Sequence

from calib_eval.errors import DataError


@dataclass(frozen=True)
class Pair:
    first: int  # index of the item shown as "Question 1"
    second: int  # index of the item shown as "Question 2"
    first_correct: bool  # whether question 1 is the correctly answered one


def sample_pairs(correct: Sequence[bool], n_pairs: int = 500, seed: int = 0, what: str = "items") -> list[Pair]:
    """Up to n_pairs distinct (correct, incorrect) pairs, seeded, in a random balanced order.

    Every (correct, incorrect) combination is used when there are fewer than
    n_pairs of them. `what` names the source (a file) in the error message.
    """
    if n_pairs < 1:
        raise ValueError(f"n_pairs must be >= 1, got {n_pairs}")
    right = [i for i, c in enumerate(correct) if c]
    wrong = [i for i, c in enumerate(correct) if not c]
    if not right or not wrong:
        raise DataError(
            f"{what}: pairwise evaluation needs both correctly and incorrectly answered items, but "
            f"{len(right)} of {len(correct)} are correct and {len(wrong)} incorrect")
    rng = random.Random(seed)
    # index k of the (right x wrong) grid; sampling the range never builds the grid
    chosen = rng.sample(range(len(right) * len(wrong)), min(n_pairs, len(right) * len(wrong)))
    first_right = [True] * (len(chosen) // 2) + [False] * (len(chosen) - len(chosen) // 2)
    rng.shuffle(first_right)
    pairs = []
    for k, right_first in zip(chosen, first_right):
        a, b = right[k // len(wrong)], wrong[k % len(wrong)]
        pairs.append(Pair(a, b, True) if right_first else Pair(b, a, False))
    return pairs
