"""How often does the open-ended grader accept a wrong answer, and reject a right one?

    python bench/grader_rates.py --data-root ../shared/data

Probes, all graded exactly as the runner grades them (MMLU through the
mmlu_oe_calib task's grader, the others through calib_eval.grading.grade):
- MMLU test (14,042 items): every wrong option's text given as the answer
  (false accept), and the correct option's text in five phrasings (accept).
- BioASQ factoid / list: the first answer of every other item of the same
  type (false accept; skipped where that answer is also one of this item's),
  and this item's first answer in the five phrasings.
- SelfAware answerable: answers of 20 other answerable items drawn with a fixed
  seed (false accept) and the five phrasings; unanswerable: those items'
  answers as committed answers (false accept) and abstention phrasings (accept).
Prints the grader version and one row per probe.
"""
from __future__ import annotations

import argparse
import sys
import time

from calib_eval.grading import GRADER_VERSION
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
    return 0


if __name__ == "__main__":
    sys.exit(main())
