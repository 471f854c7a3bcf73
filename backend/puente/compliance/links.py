"""Which customers are linked, for structuring across people (rule ``STRUCTURING_LINKED``).

Two customers of one institution are *linked* when any of these holds (docs/compliance.md):

* **same CLABE** — the payout CLABE declared at onboarding (blind index ``clabe_index``);
* **same phone** — the onboarding phone, digits only (``phone_index``);
* **same address** — street, exterior and interior number and CP, normalised (accents,
  case, punctuation, spacing) (``address_index``);
* **same payer** — one user paid a loan of each (a third party paying for both).

Only blind indexes are compared: the personal data stays encrypted.
"""

from __future__ import annotations

import re
import unicodedata

from tortoise.expressions import Q

from puente.compliance.models import LoanApplication
from puente.loans.models import Loan
from puente.payments.models import Payment

__all__ = [
    "PHONE_INDEX_CONTEXT",
    "ADDRESS_INDEX_CONTEXT",
    "address_key",
    "linked_customers",
    "phone_key",
]

PHONE_INDEX_CONTEXT = "loan_applications.phone"
ADDRESS_INDEX_CONTEXT = "loan_applications.address"


def phone_key(phone: str) -> str:
    """The last ten digits (a Mexican number with or without +52)."""
    return re.sub(r"\D", "", phone)[-10:]


def address_key(street: str, exterior: str, interior: str, postal_code: str) -> str:
    """One spelling for one address: no accents, upper case, words only, spaces collapsed."""
    text = "|".join((street, exterior, interior, postal_code))
    plain = unicodedata.normalize("NFKD", text).encode("ascii", "ignore").decode()
    words = re.sub(r"[^A-Z0-9|]+", " ", plain.upper())
    return "|".join(" ".join(part.split()) for part in words.split("|"))


async def linked_customers(customer_id: int, institution_id: int) -> set[int]:
    """Every other customer linked to ``customer_id`` (one hop)."""
    linked: set[int] = set()
    mine = await LoanApplication.filter(user_id=customer_id).values(
        "clabe_index", "phone_index", "address_index"
    )
    clabes = {row["clabe_index"] for row in mine if row["clabe_index"]}
    phones = {row["phone_index"] for row in mine if row["phone_index"]}
    addresses = {row["address_index"] for row in mine if row["address_index"]}
    if clabes or phones or addresses:
        same = Q(clabe_index__in=list(clabes)) | Q(phone_index__in=list(phones))
        same |= Q(address_index__in=list(addresses))
        linked.update(
            await LoanApplication.filter(same, institution_id=institution_id)
            .exclude(user_id=customer_id)
            .values_list("user_id", flat=True)
        )
    loans = await Loan.filter(borrower_id=customer_id).values_list("id", flat=True)
    payers = set(
        await Payment.filter(loan_id__in=list(loans))
        .exclude(user_id=customer_id)
        .values_list("user_id", flat=True)
    )
    payers.add(customer_id)  # the customer paying someone else's loan links them too
    paid_loans = await Payment.filter(user_id__in=list(payers)).values_list("loan_id", flat=True)
    linked.update(
        await Loan.filter(id__in=list(set(paid_loans)), institution_id=institution_id)
        .exclude(borrower_id=customer_id)
        .values_list("borrower_id", flat=True)
    )
    return linked
