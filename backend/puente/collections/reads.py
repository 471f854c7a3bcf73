"""What a loan's domiciliación looks like to its readers (API, pages): mandate and attempts."""

from __future__ import annotations

from dataclasses import dataclass

from puente.collections.mandates import active_mandate
from puente.collections.models import ChargeAttempt, Mandate

__all__ = ["LoanDomiciliacion", "loan_domiciliacion"]


@dataclass(frozen=True, slots=True)
class LoanDomiciliacion:
    mandate: Mandate | None  # the one in force, else the latest (revoked or needing a card)
    attempts: list[ChargeAttempt]  # newest first


async def loan_domiciliacion(loan_id: int, limit: int = 100) -> LoanDomiciliacion:
    """The loan's mandate and its latest ``limit`` attempts."""
    mandate = await active_mandate(loan_id)
    if mandate is None:
        mandate = await Mandate.filter(loan_id=loan_id).order_by("-id").first()
    attempts = await ChargeAttempt.filter(loan_id=loan_id).order_by("-id").limit(limit)
    return LoanDomiciliacion(mandate, list(attempts))
