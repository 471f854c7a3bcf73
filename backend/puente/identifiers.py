"""Mexican identifier validators: CURP, RFC, CLABE, cards, phone and postal code.

Pure and at the bottom of the package: accounts, providers and compliance (KYC) all use
them.

Each validator returns the normalised value (or a small result object) and raises
:class:`KycError` with a Spanish message the portal can show as is. Messages never repeat
the value: identifiers are personal data and errors end up in logs.
Rules and check digits: ``shared/reference/mexico.md`` §4.
"""

from __future__ import annotations

import re
import unicodedata
from dataclasses import dataclass, field
from datetime import date
from typing import Final, Literal

import clabe as clabe_lib

__all__ = [
    "CURP_STATE_CODES",
    "GENERIC_RFCS",
    "ClabeInfo",
    "KycError",
    "RfcResult",
    "curp_check_digit",
    "luhn_ok",
    "mask_card",
    "mask_clabe",
    "rfc_check_digit",
    "validate_card_number",
    "validate_clabe",
    "validate_curp",
    "validate_phone_mx",
    "validate_postal_code",
    "validate_rfc",
]


class KycError(ValueError):
    """An identifier failed validation; ``message_es`` is safe to show to the borrower."""

    def __init__(self, field: str, message_es: str) -> None:
        super().__init__(f"{field}: {message_es}")
        self.field = field
        self.message_es = message_es


def _compact(value: str, field_name: str, separators: str = " -") -> str:
    if not isinstance(value, str):
        raise KycError(field_name, "El valor debe ser texto.")
    # NFC so a decomposed "N" + combining tilde counts as the single letter Ñ.
    text = unicodedata.normalize("NFC", value).strip().upper()
    return re.sub(f"[{re.escape(separators)}]", "", text)


# --- CURP (Clave Única de Registro de Población), mexico.md §4.1 ---------------------------

# RENAPO entity codes; NE = nacido en el extranjero (born abroad).
CURP_STATE_CODES: Final = frozenset(
    "AS BC BS CC CL CM CS CH DF DG GT GR HG JC MC MN MS NT NL OC PL QT QR SP SL SR TC TS TL VZ "
    "YN ZS NE".split()
)
_CURP: Final = re.compile(r"[A-Z]{4}[0-9]{6}[A-Z]{6}[0-9A-Z][0-9]")
_CURP_VALUES: Final = "0123456789ABCDEFGHIJKLMNÑOPQRSTUVWXYZ"


def curp_check_digit(first17: str) -> str:
    """Return the CURP check digit for its first 17 characters."""
    total = sum(_CURP_VALUES.index(char) * (18 - i) for i, char in enumerate(first17[:17]))
    return str((10 - total % 10) % 10)


def _valid_date(yymmdd: str, century: int) -> bool:
    try:
        date(century + int(yymmdd[:2]), int(yymmdd[2:4]), int(yymmdd[4:6]))
    except ValueError:
        return False
    return True


def validate_curp(value: str) -> str:
    """Return the CURP upper-cased and compacted, or raise :class:`KycError`."""
    curp = _compact(value, "curp")
    if len(curp) != 18:
        raise KycError("curp", "La CURP debe tener 18 caracteres.")
    if not _CURP.fullmatch(curp):
        raise KycError("curp", "El formato de la CURP no es válido.")
    # Position 17 is a digit for people born before 2000 and a letter from 2000 on.
    century = 1900 if curp[16].isdigit() else 2000
    if not _valid_date(curp[4:10], century):
        raise KycError("curp", "La fecha de nacimiento en la CURP no es válida.")
    # H/M; X (non-binary) is accepted because RENAPO issues it, though mexico.md marks it
    # unconfirmed: refusing a real CURP blocks a borrower, accepting X loosens nothing else.
    if curp[10] not in "HMX":
        raise KycError("curp", "El sexo indicado en la CURP no es válido.")
    if curp[11:13] not in CURP_STATE_CODES:
        raise KycError("curp", "La entidad federativa de la CURP no es válida.")
    if curp[17] != curp_check_digit(curp):
        raise KycError("curp", "El dígito verificador de la CURP no coincide; revisa la captura.")
    return curp


# --- RFC (Registro Federal de Contribuyentes), mexico.md §4.2 -------------------------------

# SAT generic RFCs: público en general and extranjero. XAXX fails its own check digit.
GENERIC_RFCS: Final = frozenset({"XAXX010101000", "XEXX010101000"})
_RFC_FISICA: Final = re.compile(r"[A-Z&Ñ]{4}[0-9]{6}[A-Z0-9]{2}[0-9A]")
_RFC_MORAL: Final = re.compile(r"[A-Z&Ñ]{3}[0-9]{6}[A-Z0-9]{2}[0-9A]")
_RFC_VALUES: Final = "0123456789ABCDEFGHIJKLMN&OPQRSTUVWXYZ Ñ"
RFC_CHECK_DIGIT_WARNING: Final = (
    "El dígito verificador del RFC no coincide; verifica la captura con la Constancia de "
    "Situación Fiscal."
)


@dataclass(frozen=True, slots=True)
class RfcResult:
    """A structurally valid RFC, its kind, and warnings that must not block the borrower."""

    rfc: str
    kind: Literal["fisica", "moral"]
    generic: bool = False
    warnings: tuple[str, ...] = ()


def rfc_check_digit(without_check: str) -> str:
    """Return the RFC check digit for the 11 (moral) or 12 (física) characters before it."""
    # Left-pad with a space so both kinds weigh 12 characters.
    padded = without_check.rjust(12)
    total = sum(_RFC_VALUES.index(char) * (13 - i) for i, char in enumerate(padded))
    digit = (11 - total % 11) % 11
    return "A" if digit == 10 else str(digit)


def validate_rfc(value: str) -> RfcResult:
    """Validate an RFC (13 física, 12 moral); a check-digit mismatch is a warning, not an error."""
    rfc = _compact(value, "rfc")
    if rfc in GENERIC_RFCS:
        return RfcResult(rfc=rfc, kind="fisica", generic=True)
    if len(rfc) == 13:
        kind: Literal["fisica", "moral"] = "fisica"
        pattern, date_part = _RFC_FISICA, rfc[4:10]
    elif len(rfc) == 12:
        kind, pattern, date_part = "moral", _RFC_MORAL, rfc[3:9]
    else:
        raise KycError(
            "rfc", "El RFC debe tener 13 caracteres (persona física) o 12 (persona moral)."
        )
    if not pattern.fullmatch(rfc):
        raise KycError("rfc", "El formato del RFC no es válido.")
    # The century is not encoded; 2000+YY accepts 29 February whenever 19YY could have one.
    if not _valid_date(date_part, 2000):
        raise KycError("rfc", "La fecha contenida en el RFC no es válida.")
    # About 1.5 % of RFCs issued by SAT fail their own check digit (python-stdnum note), so a
    # mismatch is reported for review instead of turning away a real taxpayer.
    warnings = () if rfc[-1] == rfc_check_digit(rfc[:-1]) else (RFC_CHECK_DIGIT_WARNING,)
    return RfcResult(rfc=rfc, kind=kind, warnings=warnings)


# --- CLABE (Clave Bancaria Estandarizada), mexico.md §4.3 ----------------------------------

_MASK: Final = "••••"


def _mask_last4(value: str) -> str:
    digits = re.sub(r"[^0-9]", "", value) if isinstance(value, str) else ""
    return f"{_MASK} {digits[-4:]}" if len(digits) >= 4 else _MASK


def mask_clabe(value: str) -> str:
    """Show only the last four digits of a CLABE: ``•••• 7771``."""
    return _mask_last4(value)


def mask_card(value: str) -> str:
    """Show only the last four digits of a card number: ``•••• 1111``."""
    return _mask_last4(value)


@dataclass(frozen=True, slots=True)
class ClabeInfo:
    """A valid CLABE with its bank; ``repr`` shows only the masked CLABE."""

    clabe: str = field(repr=False)
    bank_code: str  # 3-digit ABM code, the CLABE prefix
    spei_code: str  # 5-digit Banxico participant code (e.g. 40012)
    bank_name: str
    masked: str = field(init=False)

    def __post_init__(self) -> None:
        object.__setattr__(self, "masked", mask_clabe(self.clabe))


_CLABE: Final = re.compile(r"[0-9]{18}")


def validate_clabe(value: str) -> ClabeInfo:
    """Return the CLABE with its bank, or raise :class:`KycError` (length, bank, check digit)."""
    number = _compact(value, "clabe")
    if len(number) != 18:
        raise KycError("clabe", "La CLABE debe tener 18 dígitos.")
    if not _CLABE.fullmatch(number):
        raise KycError("clabe", "La CLABE solo puede contener dígitos.")
    bank_code = number[:3]
    spei_code = clabe_lib.BANKS.get(bank_code)
    if spei_code is None:
        raise KycError("clabe", "Los primeros 3 dígitos de la CLABE no corresponden a un banco.")
    if number[-1] != clabe_lib.compute_control_digit(number[:17]):
        raise KycError("clabe", "El dígito de control de la CLABE no coincide; revisa la captura.")
    # The package's full check (digits, length, known bank, control digit) must agree with ours.
    if not clabe_lib.validate_clabe(number):
        raise KycError("clabe", "La CLABE no es válida.")
    return ClabeInfo(
        clabe=number,
        bank_code=bank_code,
        spei_code=spei_code,
        bank_name=clabe_lib.get_bank_name(number),
    )


# --- Cards, mexico.md §4.4 -----------------------------------------------------------------

_CARD: Final = re.compile(r"[0-9]{12,19}")


def luhn_ok(digits: str) -> bool:
    """Return True if ``digits`` (ASCII digits only) passes the Luhn check."""
    if not digits or not re.fullmatch(r"[0-9]+", digits):
        return False
    total = 0
    for position, char in enumerate(reversed(digits)):
        digit = int(char)
        if position % 2 == 1:
            digit *= 2
            if digit > 9:
                digit -= 9
        total += digit
    return total % 10 == 0


def validate_card_number(value: str) -> str:
    """Return the card number as bare digits (12–19, Luhn-valid) or raise :class:`KycError`."""
    number = _compact(value, "card_number")
    if not _CARD.fullmatch(number):
        raise KycError("card_number", "El número de tarjeta debe tener entre 12 y 19 dígitos.")
    if not luhn_ok(number):
        raise KycError("card_number", "El número de tarjeta no es válido; revisa la captura.")
    return number


# --- Contact data --------------------------------------------------------------------------

_TEN_DIGITS: Final = re.compile(r"[0-9]{10}")
_POSTAL_CODE: Final = re.compile(r"[0-9]{5}")


def validate_phone_mx(value: str) -> str:
    """Return a Mexican phone number as its 10 national digits (accepts a ``+52`` prefix)."""
    number = _compact(value, "phone", separators=" -().")
    if number.startswith("+52"):
        number = number[3:]
    elif len(number) == 12 and number.startswith("52"):
        # "52" without "+" only when it cannot be part of a 10-digit national number.
        number = number[2:]
    if not _TEN_DIGITS.fullmatch(number):
        raise KycError("phone", "El teléfono debe tener 10 dígitos (opcionalmente con +52).")
    return number


def validate_postal_code(value: str) -> str:
    """Return a 5-digit Mexican código postal or raise :class:`KycError`."""
    code = _compact(value, "postal_code")
    if not _POSTAL_CODE.fullmatch(code):
        raise KycError("postal_code", "El código postal debe tener 5 dígitos.")
    return code
