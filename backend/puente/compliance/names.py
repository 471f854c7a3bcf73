"""Normalising personal names for comparison (screening, CURP/RFC cross-checks).

Lists and forms spell the same person many ways: "José Ma. Pérez-López", "PEREZ LOPEZ JOSE
MARIA", "Jose M Perez". Comparison happens on a normal form: upper case ASCII without
accents (Ñ kept apart as N, as RENAPO writes it X only inside the CURP), punctuation gone,
particles ("DE", "LA", "DEL") dropped, common abbreviations expanded.
"""

from __future__ import annotations

import re
import unicodedata
from typing import Final

__all__ = ["ABBREVIATIONS", "PARTICLES", "name_tokens", "normalise_name"]

# Particles RENAPO skips when it takes letters for the CURP, and lists omit at will.
PARTICLES: Final = frozenset(
    "DA DAS DE DEL DER DI DIE DD EL LA LOS LAS LE LES MAC MC VAN VON Y".split()
)
# Abbreviations seen in Mexican records and list files.
ABBREVIATIONS: Final = {
    "MA": "MARIA",
    "MARIA.": "MARIA",
    "FCO": "FRANCISCO",
    "GPE": "GUADALUPE",
    "JN": "JUAN",
    "ANT": "ANTONIO",
    "FDO": "FERNANDO",
    "GMO": "GUILLERMO",
    "ALEJ": "ALEJANDRO",
}
_NOT_LETTERS: Final = re.compile(r"[^A-Z ]+")


def _ascii_upper(text: str) -> str:
    decomposed = unicodedata.normalize("NFKD", text.upper())
    return "".join(char for char in decomposed if not unicodedata.combining(char))


def name_tokens(text: str) -> list[str]:
    """The words of a name in normal form, in their original order."""
    if not isinstance(text, str):
        return []
    plain = _ascii_upper(text).replace(".", " ").replace("-", " ")
    words = _NOT_LETTERS.sub(" ", plain).split()
    expanded = [ABBREVIATIONS.get(word, word) for word in words]
    return [word for word in expanded if word not in PARTICLES]


def normalise_name(text: str) -> str:
    """One string per name: normal-form words joined by single spaces (order kept)."""
    return " ".join(name_tokens(text))
