"""What the book expects to see at the bank, as matcher values (reads only).

- payments that arrive straight to the institution's account (SPEI on STP or the bank),
  paid or announced, not yet matched: their money sits in ``cash_clearing``;
- payouts to borrowers (disbursements) by clave de rastreo: money out;
- gateway payouts (``GatewaySettlement``): one deposit, many payments net of fees;
- loans named by the per-loan CLABE a deposit was sent to (any amount).
"""

from __future__ import annotations

from collections.abc import Sequence
from datetime import date, datetime, time, timedelta
from typing import Any

from tortoise.expressions import Q

from puente.enums import DisbursementStatus, PaymentMethodType, ProviderName
from puente.enums import PaymentStatus as S
from puente.loans.models import Loan
from puente.payments.models import Disbursement, Payment
from puente.payments.spei_inbound import loan_id_from_clabe
from puente.reconciliation.enums import Direction, MatchKind, MatchStatus
from puente.reconciliation.matcher import Expected, LineFacts, Tolerances
from puente.reconciliation.models import GatewaySettlement, StatementMatch
from puente.runtime import MEXICO_CITY

__all__ = ["load_expected"]

# Payments whose money comes straight to the account a statement is about.
_DIRECT = (ProviderName.STP, ProviderName.BANK)
_OPEN_OR_PAID = (S.PAID, S.REQUIRES_ACTION, S.PENDING)


def _day(moment: datetime | None) -> date | None:
    return moment.astimezone(MEXICO_CITY).date() if moment else None


def _since(lines: Sequence[LineFacts], tolerances: Tolerances) -> datetime:
    """The earliest moment an item the lines may match was recorded (dates are then matched
    within the window by the matcher; no upper bound: a row's own clock may run ahead)."""
    days = [line.on for line in lines if line.on] or [date.today()]
    window = timedelta(days=tolerances.date_window_days + 1)
    return datetime.combine(min(days) - window, time.min, MEXICO_CITY)


# PostgreSQL takes at most 32,767 parameters per query: look values up a slice at a time.
_SLICE = 10_000
# Fewer distinct amounts than this (tolerance included) are looked up one by one; more,
# as the range between the smallest and the largest.
_AMOUNT_SET = 10_000


def _sliced(values: Sequence[Any]) -> list[Sequence[Any]]:
    return [values[start : start + _SLICE] for start in range(0, len(values), _SLICE)]


async def _matched(field: str, ids: Sequence[int]) -> set[int]:
    """Which of ``ids`` a booked match already explains (looked up by id: the cost follows
    the window, not the history of matches)."""
    done: set[int] = set()
    for part in _sliced(list(ids)):
        rows = await StatementMatch.filter(
            status=MatchStatus.BOOKED, **{f"{field}__in": list(part)}
        ).values_list(field, flat=True)
        done.update(int(str(r)) for r in rows)
    return done


def _amounts(lines: Sequence[LineFacts], tolerances: Tolerances) -> Q:
    """Rows whose amount some line may match (within the tolerance)."""
    tolerance = tolerances.amount_tolerance_centavos
    wanted = {line.amount_centavos for line in lines}
    if len(wanted) * (2 * tolerance + 1) <= _AMOUNT_SET:
        near = sorted({a + d for a in wanted for d in range(-tolerance, tolerance + 1)})
        return Q(*(Q(amount_centavos__in=list(part)) for part in _sliced(near)), join_type="OR")
    return Q(
        amount_centavos__gte=min(wanted) - tolerance, amount_centavos__lte=max(wanted) + tolerance
    )


_PAYMENT_FIELDS = (
    "id",
    "loan_id",
    "amount_centavos",
    "paid_at",
    "created_at",
    "provider_reference",
    "next_action",
    "user__full_name",
)


async def _payments(
    institution_id: int, lines: Sequence[LineFacts], low: datetime, tolerances: Tolerances
) -> list[Expected]:
    """The payments the window's credit lines may prove, looked up by what the lines carry.

    First by clave de rastreo (the ``abono:`` reference an STP or bank payment keeps); then,
    for the lines no clave explained, the payments of the date window with an amount one of
    those lines may match, plus the open ones (announced SPEI transfers waiting for their
    referencia numérica, whatever the amount). A statement of a million lines against a
    million payments thus reads each payment about once, whatever the history behind it.
    """
    credits = [line for line in lines if line.direction is Direction.CREDIT]
    if not credits:
        return []
    scope = Payment.filter(
        institution_id=institution_id,
        provider__in=_DIRECT,
        method=PaymentMethodType.SPEI,
        status__in=_OPEN_OR_PAID,
        created_at__gte=low - timedelta(days=30),  # a reference lives a few days at most
    )
    claves = sorted(
        {
            form
            for line in credits
            if line.clave_rastreo
            for clave in {line.clave_rastreo, line.clave_rastreo.upper()}
            for form in (clave, f"abono:{clave}")
        }
    )
    rows: dict[int, dict[str, Any]] = {}
    for part in _sliced(claves):
        for row in await scope.filter(provider_reference__in=list(part)).values(*_PAYMENT_FIELDS):
            rows[row["id"]] = row
    done = await _matched("payment_id", list(rows))
    keyed = {
        (row["provider_reference"] or "").removeprefix("abono:").upper()
        for row in rows.values()
        if row["id"] not in done
    }
    rest = [line for line in credits if line.clave_rastreo.upper() not in keyed]
    if rest:
        more = await scope.filter(
            _amounts(rest, tolerances) | Q(status__in=(S.REQUIRES_ACTION, S.PENDING))
        ).values(*_PAYMENT_FIELDS)
        fresh = {row["id"]: row for row in more if row["id"] not in rows}
        done |= await _matched("payment_id", list(fresh))
        rows.update(fresh)
    expected = []
    for p in rows.values():
        if p["id"] in done:
            continue
        abono = (p["provider_reference"] or "").removeprefix("abono:")
        expected.append(
            Expected(
                key=f"payment:{p['id']}",
                kind=MatchKind.PAYMENT,
                direction=Direction.CREDIT,
                amount_centavos=p["amount_centavos"],
                on=_day(p["paid_at"] or p["created_at"]),
                clave_rastreo=abono if abono and not abono.isdigit() else "",
                reference=str((p["next_action"] or {}).get("reference") or ""),
                label=f"{p['user__full_name']} PRESTAMO {p['loan_id']}",
            )
        )
    return expected


async def _disbursements(
    institution_id: int, lines: Sequence[LineFacts], low: datetime, tolerances: Tolerances
) -> list[Expected]:
    """Payouts to borrowers the window's debit lines may be: by clave de rastreo, else by
    an amount one of the lines may match."""
    debits = [line for line in lines if line.direction is Direction.DEBIT]
    if not debits:
        return []
    scope = Disbursement.filter(
        institution_id=institution_id,
        status__in=(DisbursementStatus.SENT, DisbursementStatus.SETTLED),
        created_at__gte=low - timedelta(days=30),
    )
    claves = sorted({line.clave_rastreo for line in debits if line.clave_rastreo})
    found: dict[int, Disbursement] = {}
    for part in _sliced(claves):
        found.update({d.id: d for d in await scope.filter(clave_rastreo__in=list(part))})
    keyed = {d.clave_rastreo.upper() for d in found.values()}
    rest = [line for line in debits if line.clave_rastreo.upper() not in keyed]
    if rest:
        found.update({d.id: d for d in await scope.filter(_amounts(rest, tolerances))})
    done = await _matched("disbursement_id", list(found))
    return [
        Expected(
            key=f"disbursement:{d.id}",
            kind=MatchKind.DISBURSEMENT,
            direction=Direction.DEBIT,
            amount_centavos=d.amount_centavos,
            on=_day(d.settled_at or d.created_at),
            clave_rastreo=d.clave_rastreo,
            label=d.beneficiary_name,
        )
        for d in found.values()
        if d.id not in done
    ]


async def _settlements(institution_id: int) -> list[Expected]:
    rows = await GatewaySettlement.filter(institution_id=institution_id, line_id__isnull=True)
    return [
        Expected(
            key=f"settlement:{s.id}",
            kind=MatchKind.SETTLEMENT,
            direction=Direction.CREDIT,
            amount_centavos=s.net_centavos,
            on=s.arrival_date,
            provider_reference=s.provider_id,
            label=f"{s.provider} {s.provider_id}",
        )
        for s in rows
    ]


async def _loans(institution_id: int, lines: Sequence[LineFacts], cuenta: str) -> list[Expected]:
    if not cuenta:
        return []
    by_loan = {
        loan_id: line.beneficiary_account
        for line in lines
        if line.beneficiary_account
        and (loan_id := loan_id_from_clabe(cuenta, line.beneficiary_account)) is not None
    }
    if not by_loan:
        return []
    loans: list[int] = []
    wanted = list(by_loan)
    for start in range(0, len(wanted), 10_000):  # PostgreSQL: at most 32,767 parameters
        loans += await Loan.filter(
            institution_id=institution_id, id__in=wanted[start : start + 10_000]
        ).values_list("id", flat=True)
    return [
        Expected(
            key=f"loan:{loan_id}",
            kind=MatchKind.LOAN,
            direction=Direction.CREDIT,
            amount_centavos=None,
            clabe=by_loan[int(str(loan_id))],
        )
        for loan_id in loans
    ]


async def load_expected(
    institution_id: int,
    lines: Sequence[LineFacts],
    tolerances: Tolerances,
    *,
    stp_cuenta: str = "",
) -> list[Expected]:
    """Everything the lines may be matched to (within their dates and the window), looked
    up by the lines' own keys and amounts so the cost follows the window, not the history."""
    low = _since(lines, tolerances)
    return [
        *await _payments(institution_id, lines, low, tolerances),
        *await _disbursements(institution_id, lines, low, tolerances),
        *await _settlements(institution_id),
        *await _loans(institution_id, lines, stp_cuenta),
    ]
