"""Recall of the list-screening matcher on labelled name variants.

Run: ``.venv/bin/python bench/screening_recall.py [--threshold 88] [FILE]``. The default file,
``tests/compliance/data/name_variants.csv``, holds names as lists publish them and how
customers write them (accents, order, abbreviations, misspellings), plus different people
with similar names; the script prints recall, the false-positive rate and what it missed.
"""

from __future__ import annotations

import argparse
from pathlib import Path

from puente.compliance.recall import load_variants, measure_recall
from puente.compliance.screening import DEFAULT_THRESHOLD

DEFAULT_FILE = Path(__file__).resolve().parent.parent / "tests/compliance/data/name_variants.csv"


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("file", nargs="?", type=Path, default=DEFAULT_FILE)
    parser.add_argument("--threshold", type=int, default=DEFAULT_THRESHOLD)
    args = parser.parse_args()
    report = measure_recall(load_variants(args.file), args.threshold)
    print(f"threshold            {args.threshold}")
    print(f"recall               {report.recall:.1%} ({report.found}/{report.positives})")
    print(
        f"false-positive rate  {report.false_positive_rate:.1%} "
        f"({report.false_positives}/{report.negatives})"
    )
    for row in report.missed:
        print(f"missed: {row.listed!r} ~ {row.variant!r}")


if __name__ == "__main__":
    main()
