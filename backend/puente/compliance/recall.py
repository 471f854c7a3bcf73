"""Measuring the screening matcher on a labelled list of name variants (pure).

The file is CSV with a header ``listed,variant,same_person`` (1 or 0): ``listed`` is the name
as a list publishes it, ``variant`` how a customer may write it (accents, order,
abbreviations, misspellings) or a different person with a similar name. Recall is the share
of same-person variants the matcher flags; the false-positive rate, the share of different
people it flags. ``bench/screening_recall.py`` prints both.
"""

from __future__ import annotations

import csv
from collections.abc import Iterable
from dataclasses import dataclass
from pathlib import Path

from puente.compliance.screening import DEFAULT_THRESHOLD, ListEntry, ListKind, Screened, Watchlist

__all__ = ["LabelledVariant", "RecallReport", "load_variants", "measure_recall"]


@dataclass(frozen=True, slots=True)
class LabelledVariant:
    listed: str
    variant: str
    same_person: bool


@dataclass(frozen=True, slots=True)
class RecallReport:
    positives: int
    found: int
    negatives: int
    false_positives: int
    missed: tuple[LabelledVariant, ...]

    @property
    def recall(self) -> float:
        return self.found / self.positives if self.positives else 1.0

    @property
    def false_positive_rate(self) -> float:
        return self.false_positives / self.negatives if self.negatives else 0.0


def load_variants(path: Path) -> list[LabelledVariant]:
    with path.open(encoding="utf-8", newline="") as handle:
        return [
            LabelledVariant(row["listed"], row["variant"], row["same_person"].strip() == "1")
            for row in csv.DictReader(handle)
        ]


def measure_recall(
    variants: Iterable[LabelledVariant], threshold: int = DEFAULT_THRESHOLD
) -> RecallReport:
    """Screen each variant against a one-entry list of its listed name."""
    positives = found = negatives = false_positives = 0
    missed: list[LabelledVariant] = []
    for row in variants:
        watchlist = Watchlist([ListEntry(ListKind.BLOCKED, "x", row.listed)])
        flagged = bool(watchlist.screen(Screened(row.variant), threshold))
        if row.same_person:
            positives += 1
            found += flagged
            if not flagged:
                missed.append(row)
        else:
            negatives += 1
            false_positives += flagged
    return RecallReport(positives, found, negatives, false_positives, tuple(missed))
