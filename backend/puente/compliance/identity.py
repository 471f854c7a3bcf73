"""Cross-checks between a persona física's names, birth date, CURP and RFC (pure).

RENAPO builds the first four CURP letters from the names (mexico.md §4.1): first letter and
first internal vowel of the first surname, first letter of the second surname (X if none),
first letter of the given name, skipping a leading JOSE or MARIA when there is another name.
SAT's RFC uses the same four letters for a person with two surnames, and both carry the birth
date as YYMMDD. Where either authority swapped a letter for X (an inconvenient word), an X on
one side is accepted.
"""

from __future__ import annotations

from datetime import date
from typing import Final

from puente.compliance.names import name_tokens

__all__ = ["curp_name_key", "identity_mismatches"]

_VOWELS: Final = "AEIOU"
_SKIPPED_FIRST_NAMES: Final = frozenset({"JOSE", "J", "MARIA", "MA", "M"})


def _word(text: str) -> str:
    tokens = name_tokens(text.replace("Ñ", "X").replace("ñ", "x"))
    return "".join(tokens)


def curp_name_key(paternal: str, maternal: str, given: str) -> str:
    """The four letters RENAPO derives from a name, e.g. ("Gómez", "Díaz", "Eduardo") → GODE."""
    first = _word(paternal)
    second = _word(maternal)
    names = name_tokens(given.replace("Ñ", "X").replace("ñ", "x"))
    if len(names) > 1 and names[0] in _SKIPPED_FIRST_NAMES:
        names = names[1:]
    name = names[0] if names else ""
    vowel = next((c for c in first[1:] if c in _VOWELS), "X")
    return (first[:1] or "X") + vowel + (second[:1] or "X") + (name[:1] or "X")


def _agree(a: str, b: str) -> bool:
    return len(a) == len(b) and all(x == y or "X" in (x, y) for x, y in zip(a, b, strict=True))


def identity_mismatches(
    *, paternal: str, maternal: str, given: str, birth_date: date, curp: str, rfc: str
) -> dict[str, str]:
    """Spanish messages per field where CURP, RFC, names and birth date disagree."""
    problems: dict[str, str] = {}
    born = birth_date.strftime("%y%m%d")
    if curp[4:10] != born:
        problems["curp"] = "La fecha de nacimiento no coincide con la CURP."
    elif (curp[16].isdigit()) != (birth_date.year < 2000):
        problems["curp"] = "El siglo de nacimiento no coincide con la CURP."
    elif not _agree(curp[:4], curp_name_key(paternal, maternal, given)):
        problems["curp"] = "Los nombres y apellidos no coinciden con la CURP."
    if len(rfc) == 13:
        if rfc[4:10] != born:
            problems["rfc"] = "La fecha de nacimiento no coincide con el RFC."
        elif maternal.strip() and not _agree(rfc[:4], curp[:4]):
            problems["rfc"] = "El RFC no corresponde a la misma persona que la CURP."
    return problems
