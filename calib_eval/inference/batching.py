"""Group items into batches of similar length (less padding to pay for)."""
from __future__ import annotations

from typing import Hashable, Sequence


def length_sorted_batches(
    lengths: Sequence[int], batch_size: int, groups: Sequence[Hashable] | None = None
) -> list[list[int]]:
    """Indices batched longest-first, never mixing groups (e.g. few-shot prefixes).

    Longest first so an out-of-memory error shows up on the first batch, not
    after an hour of work.
    """
    if batch_size < 1:
        raise ValueError(f"batch_size must be >= 1, got {batch_size}")
    groups = list(groups) if groups is not None else [None] * len(lengths)
    by_group: dict[Hashable, list[int]] = {}
    for index, group in enumerate(groups):
        by_group.setdefault(group, []).append(index)
    batches: list[list[int]] = []
    for members in by_group.values():
        members.sort(key=lambda i: -lengths[i])
        batches.extend(members[s : s + batch_size] for s in range(0, len(members), batch_size))
    batches.sort(key=lambda b: -max(lengths[i] for i in b))
    return batches
