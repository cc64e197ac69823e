"""How often does the open-ended grader accept a wrong answer, and reject a right one?

    python bench/grader_rates.py --data-root ../shared/data

Probes, all graded exactly as the runner grades them (MMLU through the
mmlu_oe_calib task's grader, the others through calib_eval.grading.grade):
- MMLU test (14,042 items): every wrong option's text given as the answer
  (false accept), and the correct option's text in five phrasings (accept).
- BioASQ factoid / list: the first answer of every other item of the same
  type (false accept; skipped where that answer is also one of this item's),
  the right answer mixed with another item's answer (false accept), and this
  item's first answer in the five phrasings.
- SelfAware answerable: answers of 20 other answerable items drawn with a fixed
  seed and the right answer mixed with a wrong one (false accepts), and the
  five phrasings; unanswerable: those items'
  answers as committed answers (false accept) and abstention phrasings (accept).
MMLU rates are over all 14,042 items, including the ones mmlu_oe_calib drops
as option-bound (counted on the last line). Prints the grader version and one
row per probe: items (item rate: share of items with any acceptance) and
pairs (pair rate: share of graded answers accepted).

Grader version 1 (commit 179f7cf), same probes: MMLU wrong options 147/14,042
items (1.05%); right option accepted 98.33-99.98% by phrasing; BioASQ factoid /
list false accepts 1/66, 2/58 items; SelfAware answerable 3/2,337; the right
answer mixed with a wrong one ("X, Y", "Y and X", "Y or X", "either X or Y",
"not X") accepted for 34% / 40% / 39% of pairs (BioASQ factoid / list, SelfAware).
"""
from __future__ import annotations

import argparse
import sys
import time

from calib_eval.grading import GRADER_VERSION, task_option_reference_report
from calib_eval.grading.audit import audit_all, format_rows


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n", 1)[0])
    parser.add_argument("--data-root", default="../shared/data", help="folder with mmlu/, bioasq/, selfaware/")
    parser.add_argument("--show", type=int, default=0, help="print up to N failing cases per probe")
    args = parser.parse_args(argv)
    start = time.perf_counter()
    rows = audit_all(args.data_root)
    print(f"grader version {GRADER_VERSION}; {time.perf_counter() - start:.1f}s")
    print(format_rows(rows, show=args.show))
    report = task_option_reference_report("mmlu_oe_calib", args.data_root)
    print(f"mmlu_oe_calib option-bound references: {report['flagged_option_reference']} items, "
          f"policy {report['policy']}; by kind {report['by_kind']}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
