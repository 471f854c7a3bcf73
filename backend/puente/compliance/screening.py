"""Screening a person against watch lists (pure: values in, hits out).

Three kinds of list (``ListKind``): the UIF *Lista de Personas Bloqueadas* (a hit suspends
the customer's operations and opens a 24-hour case, 95 Bis rules), PEP (personas
políticamente expuestas: enhanced due diligence, high risk) and international sanctions
(OFAC, UN). A hit is either an identifier match (CURP or RFC equal: certain) or a name match:
``rapidfuzz`` token-sort similarity on normalised names (accents, word order, particles and
abbreviations do not matter, see ``names.py``), lowered when both birth dates are known and
differ, raised a little when they agree.
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass, field
from datetime import date
from enum import StrEnum
from typing import Final

from rapidfuzz import fuzz, process

from puente.compliance.names import name_tokens

__all__ = [
    "DEFAULT_THRESHOLD",
    "ListEntry",
    "ListKind",
    "Screened",
    "ScreeningHit",
    "Watchlist",
    "name_score",
]

DEFAULT_THRESHOLD: Final = 88  # 0–100; per institution in AmlSettings.screening_threshold
_BIRTH_DATE_DIFFERS: Final = 15  # points taken off a name match when birth dates differ
_BIRTH_DATE_AGREES: Final = 5
_SUBSET_PENALTY: Final = 8


class ListKind(StrEnum):
    BLOCKED = "bloqueadas"  # UIF Lista de Personas Bloqueadas
    PEP = "pep"
    SANCTIONS = "sanciones"


@dataclass(frozen=True, slots=True)
class ListEntry:
    """One person on a list; ``entry_id`` is the list's own id for them."""

    kind: ListKind
    entry_id: str
    name: str
    aliases: tuple[str, ...] = ()
    curp: str | None = None
    rfc: str | None = None
    birth_date: date | None = None


@dataclass(frozen=True, slots=True)
class Screened:
    """Who is screened: the name as the customer gave it, and what identifies them."""

    name: str
    curp: str | None = None
    rfc: str | None = None
    birth_date: date | None = None


@dataclass(frozen=True, slots=True)
class ScreeningHit:
    entry: ListEntry
    score: int  # 0–100
    reasons: tuple[str, ...] = field(default=())  # "curp", "rfc", "nombre", "fecha_nacimiento"


def _sorted_form(text: str) -> str:
    # Word order differs between lists ("PEREZ LOPEZ JOSE") and forms ("José Pérez López").
    return " ".join(sorted(name_tokens(text)))


def name_score(a: str, b: str) -> int:
    """Similarity of two names, 0–100, blind to accents, order and abbreviations."""
    left, right = _sorted_form(a), _sorted_form(b)
    if not left or not right:
        return 0
    return round(_scorer(left, right))


class Watchlist:
    """The entries of every loaded list, indexed for matching many people quickly."""

    def __init__(self, entries: Iterable[ListEntry]) -> None:
        self._entries: list[ListEntry] = []
        self._names: list[str] = []  # sorted normal form, one per name or alias
        self._owner: list[int] = []  # index into _entries for each name
        self._by_id: dict[str, list[int]] = {}
        for entry in entries:
            index = len(self._entries)
            self._entries.append(entry)
            for name in (entry.name, *entry.aliases):
                self._names.append(_sorted_form(name))
                self._owner.append(index)
            for ident in (entry.curp, entry.rfc):
                if ident:
                    self._by_id.setdefault(ident.upper(), []).append(index)

    def __len__(self) -> int:
        return len(self._entries)

    def screen(self, person: Screened, threshold: int = DEFAULT_THRESHOLD) -> list[ScreeningHit]:
        """Every entry ``person`` may be, best first (identifier hits score 100)."""
        best: dict[int, ScreeningHit] = {}
        for ident, reason in ((person.curp, "curp"), (person.rfc, "rfc")):
            for index in self._by_id.get((ident or "").upper(), []) if ident else []:
                best[index] = ScreeningHit(self._entries[index], 100, (reason,))
        query = _sorted_form(person.name)
        if query:
            for index, score in self._name_candidates(query, threshold):
                hit = self._name_hit(index, score, person)
                if hit.score >= threshold and (index not in best or best[index].score < hit.score):
                    best[index] = hit
        return sorted(best.values(), key=lambda hit: (-hit.score, hit.entry.entry_id))

    def _name_candidates(self, query: str, threshold: int) -> list[tuple[int, int]]:
        # A wide first cut (a birth-date agreement can lift a candidate by a few points).
        cutoff = max(0, threshold - _BIRTH_DATE_AGREES)
        found = process.extract(query, self._names, scorer=_scorer, score_cutoff=cutoff, limit=None)
        scores: dict[int, int] = {}
        for _, score, position in found:
            owner = self._owner[position]
            scores[owner] = max(scores.get(owner, 0), round(score))
        return list(scores.items())

    def _name_hit(self, index: int, score: int, person: Screened) -> ScreeningHit:
        entry = self._entries[index]
        reasons = ["nombre"]
        if entry.birth_date and person.birth_date:
            if entry.birth_date == person.birth_date:
                score, reasons = (
                    min(100, score + _BIRTH_DATE_AGREES),
                    [*reasons, "fecha_nacimiento"],
                )
            else:
                score -= _BIRTH_DATE_DIFFERS
        return ScreeningHit(entry, score, tuple(reasons))


def _scorer(left: str, right: str, **_: object) -> float:
    """Both sides in sorted normal form. A name that is a subset of the other (a list that
    omits the second surname) still matches, a little below an exact spelling, but only when
    at least two words agree: "JUAN" alone is nobody."""
    score = fuzz.ratio(left, right)
    if min(left.count(" "), right.count(" ")) >= 1:
        score = max(score, fuzz.token_set_ratio(left, right) - _SUBSET_PENALTY)
    return score
