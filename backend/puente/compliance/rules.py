"""Transaction-monitoring rules (pure: facts and policy in, alert drafts out).

Each rule is a function ``(fact, history, customer, fx, policy) -> AlertDraft | None`` over
values only: no database, no clock. ``evaluate_payment`` runs every enabled payment rule;
``evaluate_disbursement`` the payout rule. Typologies from FATF/UIF red flags
(mexico.md §3.4); the thresholds come from :class:`~puente.compliance.policy.AmlPolicy`.

Rule (code)                         fires when
RELEVANT_CASH                       a cash payment ≥ USD 7,500 at the FIX of its day (a
                                    *relevante*, reported quarterly, not an unusual alert)
STRUCTURING_DAY / _MONTH            cash payments each under the threshold that, within 24 h,
                                    add up to it; or ≥ N "just under" ones within 30 days
MANY_THIRD_PARTY_PAYERS             more distinct third-party payers on one loan than allowed
CASH_PAYOFF_AFTER_DISBURSEMENT      a loan paid off in cash within N days of its payout
PREPAYMENT_BEYOND_INCOME            prepaid in 30 days > N × declared monthly income
CEP_ORDENANTE_MISMATCH              the SPEI's CEP names an ordenante who is not the borrower
DISBURSEMENT_THIRD_PARTY_CLABE      a payout to a CLABE that is not the one the borrower declared
STRUCTURING_LINKED                  structuring by linked customers (same CLABE, phone, address
                                    or payer), in the 24 h and 30 day windows
"""

from __future__ import annotations

import bisect
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field
from datetime import date, datetime, timedelta
from decimal import Decimal
from enum import StrEnum
from typing import Any, Final

from puente.compliance.policy import AmlPolicy
from puente.compliance.screening import name_score

__all__ = [
    "PAYMENT_RULES",
    "AlertDraft",
    "CustomerFacts",
    "DisbursementFact",
    "FixRates",
    "MissingFixRate",
    "PaymentFact",
    "ReportKind",
    "evaluate_disbursement",
    "evaluate_payment",
    "structuring_linked",
]


class ReportKind(StrEnum):
    RELEVANT = "relevante"  # quarterly relevant-operations report
    UNUSUAL = "inusual"  # per case, within 60 days
    BLOCKED = "24h"  # Lista de Personas Bloqueadas: within 24 hours


class MissingFixRate(LookupError):
    """No FIX rate is stored on or before the day asked for."""


class FixRates:
    """Banxico FIX (MXN per USD) by day; a day without one uses the latest before it
    (FIX is published on business days, mexico.md §3.2)."""

    def __init__(self, rates: Mapping[date, Decimal]) -> None:
        self._days = sorted(rates)
        self._rates = dict(rates)

    def on(self, day: date) -> Decimal:
        position = bisect.bisect_right(self._days, day)
        if position == 0:
            raise MissingFixRate(day.isoformat())
        return self._rates[self._days[position - 1]]

    def usd(self, mxn: Decimal, day: date) -> Decimal:
        return mxn / self.on(day)


@dataclass(frozen=True, slots=True)
class PaymentFact:
    """A payment that landed (PAID), as the rules see it. ``day`` is its Mexico City date."""

    payment_id: int
    customer_id: int
    loan_id: int
    amount: Decimal  # MXN
    cash: bool  # billetes y monedas, or store cash when the policy counts it as cash
    paid_at: datetime
    day: date
    payer_key: str | None = None  # who paid, when known and not the borrower (hashed)
    prepaid: Decimal = Decimal(0)  # money beyond what was due
    closes_loan: bool = False
    cep_ordenante_name: str | None = None
    cep_ordenante_rfc: str | None = None


@dataclass(frozen=True, slots=True)
class CustomerFacts:
    """What the rules know of the customer (the transactional profile's inputs)."""

    customer_id: int
    name: str
    rfc: str | None = None
    monthly_income: Decimal | None = None
    disbursed_at: datetime | None = None


@dataclass(frozen=True, slots=True)
class DisbursementFact:
    disbursement_id: int
    customer_id: int
    loan_id: int
    amount: Decimal
    clabe_matches_declared: bool  # the CLABE is the one the borrower declared at onboarding
    beneficiary_name: str


@dataclass(frozen=True, slots=True)
class AlertDraft:
    """An alert a rule raises: which rule, what for, and the evidence (JSON-safe values)."""

    rule: str
    report_kind: ReportKind
    summary: str  # Spanish, for the compliance officer
    payment_ids: tuple[int, ...] = ()
    evidence: dict[str, Any] = field(default_factory=dict)


Rule = Callable[
    [PaymentFact, Sequence[PaymentFact], CustomerFacts, FixRates, AmlPolicy], AlertDraft | None
]
_TWO: Final = Decimal("0.01")


def _money(value: Decimal) -> str:
    return str(value.quantize(_TWO))


def _within(
    history: Sequence[PaymentFact], fact: PaymentFact, span: timedelta
) -> list[PaymentFact]:
    """Payments of ``history`` plus ``fact`` in the window (fact.paid_at − span, fact.paid_at]."""
    start = fact.paid_at - span
    seen = {p.payment_id for p in history}
    pool = [*history, fact] if fact.payment_id not in seen else list(history)
    return [p for p in pool if start < p.paid_at <= fact.paid_at]


def relevant_cash(
    fact: PaymentFact,
    history: Sequence[PaymentFact],
    customer: CustomerFacts,
    fx: FixRates,
    policy: AmlPolicy,
) -> AlertDraft | None:
    if not fact.cash:
        return None
    usd = fx.usd(fact.amount, fact.day)
    if usd < policy.relevant_cash_usd:
        return None
    return AlertDraft(
        "RELEVANT_CASH",
        ReportKind.RELEVANT,
        f"Pago en efectivo de {_money(fact.amount)} MXN (≈ {_money(usd)} USD al FIX del día).",
        (fact.payment_id,),
        {"amount_mxn": _money(fact.amount), "fix": str(fx.on(fact.day)), "usd": _money(usd)},
    )


def _under_threshold(p: PaymentFact, fx: FixRates, policy: AmlPolicy) -> bool:
    return p.cash and fx.usd(p.amount, p.day) < policy.relevant_cash_usd


def structuring_day(
    fact: PaymentFact,
    history: Sequence[PaymentFact],
    customer: CustomerFacts,
    fx: FixRates,
    policy: AmlPolicy,
) -> AlertDraft | None:
    if not _under_threshold(fact, fx, policy):
        return None
    window = [
        p
        for p in _within(history, fact, timedelta(hours=policy.structuring_day_hours))
        if _under_threshold(p, fx, policy)
    ]
    usd = sum((fx.usd(p.amount, p.day) for p in window), Decimal(0))
    if len(window) < policy.structuring_day_min_payments or usd < policy.relevant_cash_usd:
        return None
    return AlertDraft(
        "STRUCTURING_DAY",
        ReportKind.UNUSUAL,
        f"{len(window)} pagos en efectivo en {policy.structuring_day_hours} h, cada uno bajo "
        f"el umbral, suman ≈ {_money(usd)} USD.",
        tuple(sorted(p.payment_id for p in window)),
        {"payments": len(window), "usd": _money(usd)},
    )


def structuring_month(
    fact: PaymentFact,
    history: Sequence[PaymentFact],
    customer: CustomerFacts,
    fx: FixRates,
    policy: AmlPolicy,
) -> AlertDraft | None:
    floor = policy.relevant_cash_usd * policy.structuring_floor

    def just_under(p: PaymentFact) -> bool:
        return _under_threshold(p, fx, policy) and fx.usd(p.amount, p.day) >= floor

    if not just_under(fact):
        return None
    window = [
        p
        for p in _within(history, fact, timedelta(days=policy.structuring_month_days))
        if just_under(p)
    ]
    if len(window) < policy.structuring_month_min_payments:
        return None
    return AlertDraft(
        "STRUCTURING_MONTH",
        ReportKind.UNUSUAL,
        f"{len(window)} pagos en efectivo justo bajo el umbral en "
        f"{policy.structuring_month_days} días.",
        tuple(sorted(p.payment_id for p in window)),
        {"payments": len(window), "floor_usd": _money(floor)},
    )


def many_third_party_payers(
    fact: PaymentFact,
    history: Sequence[PaymentFact],
    customer: CustomerFacts,
    fx: FixRates,
    policy: AmlPolicy,
) -> AlertDraft | None:
    if fact.payer_key is None:
        return None
    window = [
        p
        for p in _within(history, fact, timedelta(days=policy.third_party_window_days))
        if p.loan_id == fact.loan_id and p.payer_key is not None
    ]
    payers = {p.payer_key for p in window}
    if len(payers) <= policy.third_party_payers_max:
        return None
    return AlertDraft(
        "MANY_THIRD_PARTY_PAYERS",
        ReportKind.UNUSUAL,
        f"El crédito {fact.loan_id} recibió pagos de {len(payers)} terceros distintos.",
        tuple(sorted(p.payment_id for p in window)),
        {"third_party_payers": len(payers), "loan": fact.loan_id},
    )


def cash_payoff_after_disbursement(
    fact: PaymentFact,
    history: Sequence[PaymentFact],
    customer: CustomerFacts,
    fx: FixRates,
    policy: AmlPolicy,
) -> AlertDraft | None:
    if not (fact.cash and fact.closes_loan and customer.disbursed_at is not None):
        return None
    elapsed = fact.paid_at - customer.disbursed_at
    if elapsed > timedelta(days=policy.cash_payoff_days):
        return None
    return AlertDraft(
        "CASH_PAYOFF_AFTER_DISBURSEMENT",
        ReportKind.UNUSUAL,
        f"Liquidación en efectivo {elapsed.days} días después de la dispersión.",
        (fact.payment_id,),
        {"days_after_disbursement": elapsed.days, "amount_mxn": _money(fact.amount)},
    )


def prepayment_beyond_income(
    fact: PaymentFact,
    history: Sequence[PaymentFact],
    customer: CustomerFacts,
    fx: FixRates,
    policy: AmlPolicy,
) -> AlertDraft | None:
    if fact.prepaid <= 0 or not customer.monthly_income:
        return None
    window = [
        p
        for p in _within(history, fact, timedelta(days=policy.prepayment_window_days))
        if p.customer_id == fact.customer_id and p.prepaid > 0
    ]
    prepaid = sum((p.prepaid for p in window), Decimal(0))
    limit = customer.monthly_income * policy.prepayment_income_multiple
    if prepaid <= limit:
        return None
    return AlertDraft(
        "PREPAYMENT_BEYOND_INCOME",
        ReportKind.UNUSUAL,
        f"Pagos anticipados por {_money(prepaid)} MXN en {policy.prepayment_window_days} días; "
        f"el ingreso mensual declarado es {_money(customer.monthly_income)} MXN.",
        tuple(sorted(p.payment_id for p in window)),
        {"prepaid_mxn": _money(prepaid), "limit_mxn": _money(limit)},
    )


def cep_ordenante_mismatch(
    fact: PaymentFact,
    history: Sequence[PaymentFact],
    customer: CustomerFacts,
    fx: FixRates,
    policy: AmlPolicy,
) -> AlertDraft | None:
    name, rfc = fact.cep_ordenante_name, fact.cep_ordenante_rfc
    if not name and not rfc:
        return None
    rfc_differs = bool(rfc and customer.rfc and rfc.strip().upper() != customer.rfc.upper())
    name_differs = (
        bool(name) and name_score(name or "", customer.name) < policy.name_match_threshold
    )
    if not (rfc_differs or name_differs):
        return None
    return AlertDraft(
        "CEP_ORDENANTE_MISMATCH",
        ReportKind.UNUSUAL,
        "El ordenante del SPEI (según el CEP) no es el acreditado.",
        (fact.payment_id,),
        {"rfc_differs": rfc_differs, "name_differs": name_differs},
    )


PAYMENT_RULES: Final[dict[str, Rule]] = {
    "RELEVANT_CASH": relevant_cash,
    "STRUCTURING_DAY": structuring_day,
    "STRUCTURING_MONTH": structuring_month,
    "MANY_THIRD_PARTY_PAYERS": many_third_party_payers,
    "CASH_PAYOFF_AFTER_DISBURSEMENT": cash_payoff_after_disbursement,
    "PREPAYMENT_BEYOND_INCOME": prepayment_beyond_income,
    "CEP_ORDENANTE_MISMATCH": cep_ordenante_mismatch,
}


def evaluate_payment(
    fact: PaymentFact,
    history: Sequence[PaymentFact],
    customer: CustomerFacts,
    fx: FixRates,
    policy: AmlPolicy,
) -> list[AlertDraft]:
    """Every enabled rule's alert for a payment that landed (``history``: the customer's
    earlier payments, at least the longest window's worth)."""
    drafts: list[AlertDraft] = []
    missing: set[str] = set()
    for code, rule in PAYMENT_RULES.items():
        if code not in policy.rules_enabled:
            continue
        try:
            draft = rule(fact, history, customer, fx, policy)
        except MissingFixRate as exc:
            missing.add(str(exc))  # the cash rules cannot be judged without the day's FIX
            continue
        if draft is not None:
            drafts.append(draft)
    if missing:
        drafts.append(
            AlertDraft(
                "FIX_RATE_MISSING",
                ReportKind.UNUSUAL,
                "Falta el tipo de cambio FIX: no se evaluaron las reglas de efectivo.",
                (fact.payment_id,),
                {"days": sorted(missing)},
            )
        )
    return drafts


def structuring_linked(
    fact: PaymentFact, group: Sequence[PaymentFact], fx: FixRates, policy: AmlPolicy
) -> AlertDraft | None:
    """Structuring across linked customers (same CLABE, phone, address or payer; see
    ``linked_customers``): cash payments each under the threshold, by the customer and the
    ones linked to them, that reach it within 24 h, or ≥ N "just under" within 30 days.
    ``group`` holds the linked customers' payments (and may hold the customer's own)."""
    if "STRUCTURING_LINKED" not in policy.rules_enabled or not _under_threshold(fact, fx, policy):
        return None
    floor = policy.relevant_cash_usd * policy.structuring_floor
    day = [
        p
        for p in _within(group, fact, timedelta(hours=policy.structuring_day_hours))
        if _under_threshold(p, fx, policy)
    ]
    month = [
        p
        for p in _within(group, fact, timedelta(days=policy.structuring_month_days))
        if _under_threshold(p, fx, policy) and fx.usd(p.amount, p.day) >= floor
    ]
    day_usd = sum((fx.usd(p.amount, p.day) for p in day), Decimal(0))
    if len(day) >= policy.structuring_day_min_payments and day_usd >= policy.relevant_cash_usd:
        window, text = day, f"en {policy.structuring_day_hours} h suman ≈ {_money(day_usd)} USD"
    elif len(month) >= policy.structuring_month_min_payments and fact in month:
        window, text = month, f"justo bajo el umbral en {policy.structuring_month_days} días"
    else:
        return None
    customers = {p.customer_id for p in window}
    if len(customers) < 2:
        return None  # one customer alone: STRUCTURING_DAY / STRUCTURING_MONTH say it
    return AlertDraft(
        "STRUCTURING_LINKED",
        ReportKind.UNUSUAL,
        f"{len(window)} pagos en efectivo de {len(customers)} clientes vinculados, cada uno "
        f"bajo el umbral, {text}.",
        tuple(sorted(p.payment_id for p in window)),
        {"payments": len(window), "customers": sorted(customers)},
    )


def evaluate_disbursement(fact: DisbursementFact, policy: AmlPolicy) -> AlertDraft | None:
    """A payout to a CLABE other than the borrower's declared one (red flag, §3.4)."""
    if "DISBURSEMENT_THIRD_PARTY_CLABE" not in policy.rules_enabled or fact.clabe_matches_declared:
        return None
    return AlertDraft(
        "DISBURSEMENT_THIRD_PARTY_CLABE",
        ReportKind.UNUSUAL,
        f"La dispersión del crédito {fact.loan_id} va a una CLABE distinta de la declarada.",
        evidence={"loan": fact.loan_id, "amount_mxn": _money(fact.amount)},
    )
