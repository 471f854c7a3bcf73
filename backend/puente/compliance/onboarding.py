"""A loan application's personal data, validated field by field (pure).

``validate_application(form, today, policy)`` takes the raw strings a form or a GraphQL input
sends and returns an :class:`Applicant` with normalised values, or raises
:class:`ApplicationInvalid` carrying one Spanish message per bad field (all of them at once, so
the borrower fixes everything in one pass). Identifiers are checked with their check digits
(``kyc.py``) and against each other and the names (``identity.py``). Messages never repeat
what was typed: they end up in logs.
"""

from __future__ import annotations

import re
from collections.abc import Mapping
from dataclasses import dataclass
from datetime import date
from decimal import Decimal, InvalidOperation
from typing import Final

from puente.compliance.identity import identity_mismatches
from puente.compliance.policy import AmlPolicy
from puente.identifiers import (
    CURP_STATE_CODES,
    KycError,
    validate_clabe,
    validate_curp,
    validate_phone_mx,
    validate_postal_code,
    validate_rfc,
)

__all__ = ["FORM_FIELDS", "Applicant", "ApplicationInvalid", "validate_application"]

FORM_FIELDS: Final = (
    "given_names",
    "paternal_surname",
    "maternal_surname",
    "birth_date",
    "birth_state",
    "nationality",
    "occupation",
    "monthly_income",
    "street",
    "exterior_number",
    "interior_number",
    "colonia",
    "postal_code",
    "municipio",
    "state",
    "phone",
    "email",
    "curp",
    "rfc",
    "clabe",
    "own_account",
    "beneficial_owner",
    "requested_amount",
    "term_count",
    "proof_of_address_date",
)
OPTIONAL: Final = frozenset({"maternal_surname", "interior_number", "beneficial_owner"})
ADULT_AGE: Final = 18
MAX_TERM: Final = 120
_EMAIL: Final = re.compile(r"[^@\s]{1,64}@[^@\s]+\.[A-Za-z]{2,}")
_COUNTRY: Final = re.compile(r"[A-Z]{2}")
_MAX_TEXT: Final = 120
_PESOS: Final = re.compile(r"[0-9]{1,12}(\.[0-9]{1,2})?")


class ApplicationInvalid(ValueError):
    """The application cannot be accepted; ``errors`` maps each bad field to a message."""

    def __init__(self, errors: Mapping[str, str]) -> None:
        super().__init__(", ".join(sorted(errors)))
        self.errors = dict(errors)


@dataclass(frozen=True, slots=True)
class Applicant:
    """A persona física's validated application (identifiers normalised)."""

    given_names: str
    paternal_surname: str
    maternal_surname: str
    birth_date: date
    birth_state: str
    nationality: str
    occupation: str
    monthly_income: Decimal
    street: str
    exterior_number: str
    interior_number: str
    colonia: str
    postal_code: str
    municipio: str
    state: str
    phone: str
    email: str
    curp: str
    rfc: str
    clabe: str
    own_account: bool
    beneficial_owner: str
    requested_amount: Decimal
    term_count: int
    proof_of_address_date: date
    rfc_warnings: tuple[str, ...] = ()

    @property
    def full_name(self) -> str:
        return " ".join(
            part
            for part in (self.given_names, self.paternal_surname, self.maternal_surname)
            if part
        )


def _text(raw: Mapping[str, object], name: str) -> str:
    value = raw.get(name)
    return " ".join(value.split()) if isinstance(value, str) else ""


def _date(text: str) -> date:
    return date.fromisoformat(text)


def _amount(text: str) -> Decimal:
    plain = text.replace(",", "")
    # Pesos with up to two decimals; no exponents, signs or NaN.
    if not _PESOS.fullmatch(plain) or Decimal(plain) <= 0:
        raise InvalidOperation
    return Decimal(plain)


def _age(born: date, today: date) -> int:
    return today.year - born.year - ((today.month, today.day) < (born.month, born.day))


class _Collector:
    def __init__(self, raw: Mapping[str, object]) -> None:
        self.raw = raw
        self.errors: dict[str, str] = {}
        self.values: dict[str, object] = {}

    def text(self, name: str) -> str:
        value = _text(self.raw, name)
        if not value and name not in OPTIONAL:
            self.errors[name] = "Este dato es obligatorio."
        elif len(value) > _MAX_TEXT:
            self.errors[name] = f"Máximo {_MAX_TEXT} caracteres."
        self.values[name] = value
        return value

    def parsed(self, name: str, parse, message: str) -> object:  # type: ignore[no-untyped-def]
        text = self.text(name)
        if name in self.errors or not text:
            return None
        try:
            value = parse(text)
        except KycError as exc:
            self.errors[name] = exc.message_es
            return None
        except (ValueError, InvalidOperation, ArithmeticError):
            self.errors[name] = message
            return None
        self.values[name] = value
        return value


def validate_application(raw: Mapping[str, object], *, today: date, policy: AmlPolicy) -> Applicant:
    """Validate every field; raise :class:`ApplicationInvalid` with all the problems."""
    form = _Collector(raw)
    for name in ("given_names", "paternal_surname", "maternal_surname", "occupation"):
        form.text(name)
    for name in ("street", "exterior_number", "interior_number", "colonia", "municipio", "state"):
        form.text(name)
    born = form.parsed("birth_date", _date, "Usa el formato AAAA-MM-DD.")
    if isinstance(born, date) and not date(1900, 1, 1) <= born <= today:
        form.errors["birth_date"] = "La fecha de nacimiento no es válida."
    elif isinstance(born, date) and _age(born, today) < ADULT_AGE:
        form.errors["birth_date"] = "Debes ser mayor de edad para solicitar un crédito."
    state = form.parsed("birth_state", str.upper, "")
    if isinstance(state, str) and state not in CURP_STATE_CODES:
        form.errors["birth_state"] = (
            "Elige la entidad de nacimiento (NE si naciste en el extranjero)."
        )
    nationality = form.parsed("nationality", str.upper, "")
    if isinstance(nationality, str) and not _COUNTRY.fullmatch(nationality):
        form.errors["nationality"] = "Usa el código de país de dos letras (MX para mexicana)."
    form.parsed("monthly_income", _amount, "Escribe el ingreso mensual en pesos, p. ej. 15000.00.")
    form.parsed("postal_code", validate_postal_code, "")
    form.parsed("phone", validate_phone_mx, "")
    email = form.parsed("email", str.lower, "")
    if isinstance(email, str) and not _EMAIL.fullmatch(email):
        form.errors["email"] = "El correo no es válido."
    curp = form.parsed("curp", validate_curp, "")
    rfc_result = form.parsed("rfc", validate_rfc, "")
    rfc = getattr(rfc_result, "rfc", None)
    if rfc_result is not None and getattr(rfc_result, "kind", "") != "fisica":
        form.errors["rfc"] = "Escribe tu RFC de persona física con homoclave (13 caracteres)."
    elif rfc_result is not None and getattr(rfc_result, "generic", False):
        form.errors["rfc"] = "Escribe tu propio RFC, no el genérico."
    clabe = form.parsed("clabe", lambda text: validate_clabe(text).clabe, "")
    own = _text(raw, "own_account").lower()
    if own not in ("si", "sí", "true", "1", "no", "false", "0"):
        form.errors["own_account"] = "Indica si actúas por cuenta propia."
    own_account = own in ("si", "sí", "true", "1")
    owner = form.text("beneficial_owner")
    if own in ("no", "false", "0") and not owner:
        form.errors["beneficial_owner"] = "Indica el nombre del propietario real de los recursos."
    form.parsed("requested_amount", _amount, "Escribe el monto en pesos, p. ej. 12000.00.")
    term = form.parsed("term_count", int, "El plazo debe ser un número entero de pagos.")
    if isinstance(term, int) and not 1 <= term <= MAX_TERM:
        form.errors["term_count"] = f"El plazo debe ser de 1 a {MAX_TERM} pagos."
    proof = form.parsed("proof_of_address_date", _date, "Usa el formato AAAA-MM-DD.")
    if (
        isinstance(proof, date)
        and not 0 <= (today - proof).days <= policy.proof_of_address_max_days
    ):
        form.errors["proof_of_address_date"] = (
            f"El comprobante de domicilio debe tener como máximo "
            f"{policy.proof_of_address_max_days} días."
        )
    if isinstance(born, date) and isinstance(curp, str) and isinstance(rfc, str):
        for name, message in identity_mismatches(
            paternal=str(form.values["paternal_surname"]),
            maternal=str(form.values["maternal_surname"]),
            given=str(form.values["given_names"]),
            birth_date=born,
            curp=curp,
            rfc=rfc,
        ).items():
            form.errors.setdefault(name, message)
        if isinstance(state, str) and "birth_state" not in form.errors and curp[11:13] != state:
            form.errors.setdefault(
                "birth_state", "La entidad de nacimiento no coincide con la CURP."
            )
    if form.errors:
        raise ApplicationInvalid(form.errors)
    v = form.values
    return Applicant(
        given_names=str(v["given_names"]),
        paternal_surname=str(v["paternal_surname"]),
        maternal_surname=str(v["maternal_surname"]),
        birth_date=born,  # type: ignore[arg-type]
        birth_state=str(state),
        nationality=str(nationality),
        occupation=str(v["occupation"]),
        monthly_income=v["monthly_income"],  # type: ignore[arg-type]
        street=str(v["street"]),
        exterior_number=str(v["exterior_number"]),
        interior_number=str(v["interior_number"]),
        colonia=str(v["colonia"]),
        postal_code=str(v["postal_code"]),
        municipio=str(v["municipio"]),
        state=str(v["state"]),
        phone=str(v["phone"]),
        email=str(email),
        curp=str(curp),
        rfc=str(rfc),
        clabe=str(clabe),
        own_account=own_account,
        beneficial_owner=owner,
        requested_amount=v["requested_amount"],  # type: ignore[arg-type]
        term_count=int(term),  # type: ignore[arg-type]
        proof_of_address_date=proof,  # type: ignore[arg-type]
        rfc_warnings=tuple(getattr(rfc_result, "warnings", ())),
    )
