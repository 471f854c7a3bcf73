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


async def _matched(field: str) -> set[int]:
    rows = await StatementMatch.filter(
        status=MatchStatus.BOOKED, **{f"{field}__isnull": False}
    ).values_list(field, flat=True)
    return {int(str(r)) for r in rows}


async def _payments(institution_id: int, low: datetime) -> list[Expected]:
    done = await _matched("payment_id")
    # Plain values, not model instances: a statement may expect a million payments.
    rows = await Payment.filter(
        institution_id=institution_id,
        provider__in=_DIRECT,
        method=PaymentMethodType.SPEI,
        status__in=_OPEN_OR_PAID,
        created_at__gte=low - timedelta(days=30),  # a reference lives a few days at most
    ).values(
        "id",
        "loan_id",
        "amount_centavos",
        "paid_at",
        "created_at",
        "provider_reference",
        "next_action",
        "user__full_name",
    )
    expected = []
    for p in rows:
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


async def _disbursements(institution_id: int, low: datetime) -> list[Expected]:
    done = await _matched("disbursement_id")
    rows = await Disbursement.filter(
        institution_id=institution_id,
        status__in=(DisbursementStatus.SENT, DisbursementStatus.SETTLED),
        created_at__gte=low - timedelta(days=30),
    )
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
        for d in rows
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
    """Everything the lines may be matched to (within their dates and the window)."""
    low = _since(lines, tolerances)
    return [
        *await _payments(institution_id, low),
        *await _disbursements(institution_id, low),
        *await _settlements(institution_id),
        *await _loans(institution_id, lines, stp_cuenta),
    ]
