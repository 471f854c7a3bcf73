"""Finding a borrower from what the person at the counter has in hand.

One box takes any of: a name (or part of it), an email, a CURP or RFC (looked up by blind
index: the database never holds them in the clear), the last 4 digits of a CLABE, or a
payment reference (the provider's id, Puente's payment number). Results are borrowers of
the searcher's institution only, each with their loans.
"""

from __future__ import annotations

import re
from dataclasses import dataclass

from tortoise.expressions import Q

from puente.accounts.models import BorrowerProfile, User
from puente.accounts.users import CURP_CONTEXT, RFC_CONTEXT
from puente.enums import Role
from puente.identifiers import KycError, validate_curp, validate_rfc
from puente.loans.models import Loan
from puente.payments.models import Disbursement, Payment, PaymentMethod
from puente.runtime import Runtime
from puente.security.crypto import blind_index

__all__ = ["BorrowerMatch", "search_borrowers"]

MAX_QUERY = 100
MAX_RESULTS = 25
CUSTOMER_ROLES = (Role.BORROWER, Role.GUARDIAN, Role.STUDENT)
CURP = re.compile(r"[A-Z]{4}\d{6}[HM][A-Z]{5}[0-9A-Z]\d")
RFC = re.compile(r"[A-ZÑ&]{3,4}\d{6}[A-Z0-9]{3}")


@dataclass(frozen=True, slots=True)
class BorrowerMatch:
    user: User
    loans: list[Loan]
    found_by: str  # Spanish: what matched (nombre, correo, CURP, …)


async def search_borrowers(runtime: Runtime, institution_id: int, text: str) -> list[BorrowerMatch]:
    """Borrowers of ``institution_id`` that ``text`` names; [] for an empty query."""
    query = " ".join(text.split())[:MAX_QUERY]
    if len(query) < 2:
        return []
    found_by, user_ids = await _user_ids(runtime, institution_id, query)
    if not user_ids:
        return []
    users = (
        await User.filter(id__in=user_ids, institution_id=institution_id, role__in=CUSTOMER_ROLES)
        .order_by("full_name", "id")
        .limit(MAX_RESULTS)
    )
    loans = (
        await Loan.filter(
            Q(borrower_id__in=[u.id for u in users]) | Q(student_id__in=[u.id for u in users]),
            institution_id=institution_id,
        )
        .order_by("id")
        .prefetch_related("product")
    )
    by_user: dict[int, list[Loan]] = {u.id: [] for u in users}
    for loan in loans:
        owner = loan.borrower_id if loan.borrower_id in by_user else loan.student_id  # type: ignore[attr-defined]
        if owner in by_user:
            by_user[owner].append(loan)
    return [BorrowerMatch(u, by_user[u.id], found_by) for u in users]


async def _user_ids(runtime: Runtime, institution_id: int, query: str) -> tuple[str, list[int]]:
    upper = query.upper().replace(" ", "")
    if "@" in query:
        by_email = User.filter(email__icontains=query.lower())
        return "correo", _ints(await by_email.values_list("id", flat=True))
    if CURP.fullmatch(upper):
        return "CURP", await _by_index("curp_index", _curp_index(runtime, upper))
    if RFC.fullmatch(upper):
        return "RFC", await _by_index("rfc_index", _rfc_index(runtime, upper))
    if query.isdigit() and len(query) == 4:
        return "CLABE", await _by_clabe_last4(institution_id, query)
    by_reference = await _by_payment_reference(institution_id, query)
    if by_reference:
        return "referencia de pago", by_reference
    return "nombre", _ints(
        await User.filter(full_name__icontains=query).values_list("id", flat=True)
    )


def _ints(values: object) -> list[int]:
    """Ids from a ``values_list`` (typed loosely by Tortoise), flattened."""
    found: list[int] = []
    for value in values:  # type: ignore[attr-defined]
        found.extend(value if isinstance(value, tuple) else [value])
    return sorted({int(v) for v in found if v is not None})


def _curp_index(runtime: Runtime, value: str) -> str | None:
    try:
        curp = validate_curp(value)
    except KycError:
        return None
    return blind_index(curp, context=CURP_CONTEXT, index_key=runtime.index_key)


def _rfc_index(runtime: Runtime, value: str) -> str | None:
    try:
        rfc = validate_rfc(value).rfc
    except KycError:
        return None
    return blind_index(rfc, context=RFC_CONTEXT, index_key=runtime.index_key)


async def _by_index(field: str, index: str | None) -> list[int]:
    if index is None:
        return []
    return _ints(await BorrowerProfile.filter(**{field: index}).values_list("user_id", flat=True))


async def _by_clabe_last4(institution_id: int, last4: str) -> list[int]:
    saved = await PaymentMethod.filter(clabe_last4=last4).values_list("user_id", flat=True)
    paid_out = await Disbursement.filter(
        institution_id=institution_id, clabe_last4=last4
    ).values_list("loan__borrower_id", flat=True)
    return _ints([*saved, *paid_out])


async def _by_payment_reference(institution_id: int, reference: str) -> list[int]:
    found = Q(provider_reference=reference)
    if reference.isdigit() and len(reference) < 10:
        found |= Q(id=int(reference))
    ids = await Payment.filter(found, institution_id=institution_id).values_list(
        "user_id", "loan__borrower_id"
    )
    return _ints(ids)
