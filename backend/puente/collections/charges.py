"""Scheduled domiciliación charges: plan each due installment's attempt, then charge it.

Every charge goes through the payment funnel (``payments.checkout.create_payment``: the
payoff ceiling of ``loans/payable.py``, compliance, the provider, ``outcomes.py``) under the
idempotency key ``domiciliacion-<loan>-<installment>-<attempt>``. An attempt row is marked
CHARGING, with its amount, before the payment exists; a job killed at any point after that
finds the row on its next run and resumes the same payment under the same keys (ours and
the provider's), so the provider answers with the original charge, never a second one.

Due installments and attempts are read in keyset batches (never all at once), so memory
stays flat however large the book is.
"""

from __future__ import annotations

import asyncio
import logging
from collections import Counter
from collections.abc import Awaitable, Callable
from dataclasses import dataclass, field
from datetime import date
from decimal import Decimal
from typing import TypeVar

from tortoise.expressions import Q, RawSQL
from tortoise.models import Model
from tortoise.queryset import QuerySet
from tortoise.transactions import in_transaction

from puente.accounts.models import User
from puente.collections.dunning import Action, DunningPolicy, classify_decline, plan_retry
from puente.collections.mandates import stop_mandates_of_card
from puente.collections.models import AttemptStatus, ChargeAttempt, Mandate, MandateStatus
from puente.collections.notices import SCHEDULED_CHARGE_KEY_PREFIX, tell_borrower
from puente.enums import PaymentMethodType
from puente.enums import PaymentStatus as S
from puente.institutions.models import Institution
from puente.loans.models import Loan, LoanProduct
from puente.loans.payable import Payable, payable_amount
from puente.loans.state import InstallmentStatus, LoanView, load_loan_views
from puente.money import ZERO, from_centavos, to_centavos
from puente.payments.checkout import (
    PaymentRefused,
    PaymentRequest,
    ReadJustNow,
    create_payment,
    resume_payment,
)
from puente.payments.gateways import GatewayDirectory
from puente.payments.models import Payment, PaymentMethod
from puente.payments.observers import announce_transitions, holding_announcements
from puente.runtime import Runtime

__all__ = ["ChargeReport", "Shard", "attempt_key", "run_scheduled_charges"]

log = logging.getLogger("puente.collections")
M = TypeVar("M", bound=Model)

BATCH = 200
SETTLED = (InstallmentStatus.PAID, InstallmentStatus.WRITTEN_OFF)
_RUNNABLE = (AttemptStatus.SCHEDULED, AttemptStatus.CHARGING)


@dataclass
class ChargeReport:
    """What one pass did."""

    day: date
    planned: int = 0
    charged: int = 0  # payments sent (paid, processing or declined)
    paid: int = 0
    declined: int = 0
    canceled: int = 0
    pending: int = 0  # provider did not answer: resumed on the next pass
    failures: list[tuple[int, str]] = field(default_factory=list)

    def resumen(self) -> str:
        """The summary in Spanish, for the portal."""
        return (
            f"Domiciliación: {self.planned} programados, {self.charged} cargos enviados "
            f"({self.paid} cobrados, {self.declined} rechazados), {self.canceled} cancelados, "
            f"{self.pending} en espera del proveedor."
        )

    def summary(self) -> str:
        return (
            f"domiciliación: {self.planned} planned, {self.charged} charged "
            f"({self.paid} paid, {self.declined} declined), {self.canceled} canceled, "
            f"{self.pending} awaiting the provider"
        )


@dataclass(frozen=True, slots=True)
class Shard:
    """One of ``count`` disjoint parts of the book: the loans whose id modulo ``count`` is
    ``index``. Each shard plans and charges only its loans, so shards run side by side (one
    process each, each under its own lease) and never touch the same attempt."""

    index: int = 0
    count: int = 1

    def __post_init__(self) -> None:
        if self.count < 1 or not 0 <= self.index < self.count:
            raise ValueError(f"shard {self.index + 1}/{self.count} does not exist")

    @classmethod
    def parse(cls, text: str) -> Shard:
        """``"2/4"`` (the second of four, counted from 1) as a ``Shard``."""
        number, _, count = text.partition("/")
        try:
            index, total = int(number) - 1, int(count)
        except ValueError:
            raise ValueError(f"shard must look like 1/2, got {text!r}") from None
        return cls(index, total)

    def __str__(self) -> str:
        return f"{self.index + 1}/{self.count}"

    def of(self, query: QuerySet[M]) -> QuerySet[M]:
        """``query`` (over a table with ``loan_id``) narrowed to this shard's loans."""
        if self.count == 1:
            return query
        # The integers are ours (checked above), never input text: no injection.
        return query.annotate(_shard=RawSQL(f"loan_id % {int(self.count)}")).filter(
            _shard=int(self.index)
        )


def attempt_key(attempt: ChargeAttempt) -> str:
    """The payment idempotency key of one attempt: per installment and attempt number."""
    return (
        f"{SCHEDULED_CHARGE_KEY_PREFIX}{attempt.loan_id}-{attempt.installment_number}"
        f"-{attempt.attempt}"
    )


async def run_scheduled_charges(
    runtime: Runtime,
    gateways: GatewayDirectory,
    day: date,
    *,
    renew: Callable[[], Awaitable[None]] | None = None,
    concurrency: int = 1,
    shard: Shard = Shard(),
) -> ChargeReport:
    """Plan the first attempt of every installment due by ``day`` under a mandate in force,
    then run every attempt due by ``day`` (new, retries, and interrupted ones); with
    ``shard``, only those of its loans."""
    report = ChargeReport(day=day)
    await plan_first_attempts(day, report, renew, shard)
    gate = asyncio.Semaphore(max(1, concurrency))

    async def one_loan(attempts: list[ChargeAttempt], batch: _BatchReads) -> None:
        # A loan's attempts run one after another: each one's amount due sees the last.
        async with gate:
            for attempt in attempts:
                try:
                    await charge_attempt(runtime, gateways, attempt, day, report, batch)
                except Exception as exc:  # one bad attempt must not stop the book
                    log.exception("domiciliación attempt %s failed", attempt.id)
                    report.failures.append((attempt.loan_id, type(exc).__name__))

    last = 0
    while True:
        attempts = (
            await shard.of(
                ChargeAttempt.filter(
                    id__gt=last, status__in=list(_RUNNABLE), scheduled_for__lte=day
                )
            )
            .order_by("id")
            .limit(BATCH)
        )
        if not attempts:
            return report
        last = attempts[-1].id
        by_loan: dict[int, list[ChargeAttempt]] = {}
        for attempt in attempts:
            by_loan.setdefault(attempt.loan_id, []).append(attempt)
        batch = await _BatchReads.load(attempts, by_loan, day)
        # Monitoring and notices of the batch's payments: read together after the batch
        # (each payment's transition is committed by then), in the background as always.
        with holding_announcements() as held:
            try:
                await asyncio.gather(*(one_loan(group, batch) for group in by_loan.values()))
            finally:
                announce_transitions(held)
        if renew is not None:
            await renew()


@dataclass
class _BatchReads:
    """What a batch of attempts reads once instead of once per attempt: the loans, their
    products and institutions, the mandates, their cards and borrowers, the payments already
    under the attempts' keys, and the views of loans with a single attempt in the batch
    (their amount due before anything of the batch is charged).

    Reading the mandate and the card at the start of the batch is as safe as reading them
    just before the charge: revoking a mandate or deleting a card cancels its SCHEDULED
    attempts in the same transaction, and a scheduled attempt is charged only after the
    conditional SCHEDULED → CHARGING update took it; an attempt already CHARGING (a run
    interrupted before its payment existed) reads its mandate and card again
    (``charge_attempt``)."""

    loans: dict[int, Loan]
    users: dict[int, User]
    views: dict[int, LoanView]
    mandates: dict[int, Mandate] = field(default_factory=dict)
    cards: dict[int, PaymentMethod] = field(default_factory=dict)
    payments: dict[str, Payment] = field(default_factory=dict)
    institutions: dict[int, Institution] = field(default_factory=dict)
    products: dict[int, LoanProduct] = field(default_factory=dict)

    @classmethod
    async def load(
        cls, attempts: list[ChargeAttempt], by_loan: dict[int, list[ChargeAttempt]], day: date
    ) -> _BatchReads:
        loans = {loan.id: loan for loan in await Loan.filter(id__in=list(by_loan))}
        mandates = {m.id: m for m in await Mandate.filter(id__in={a.mandate_id for a in attempts})}
        users = {
            user.id: user
            for user in await User.filter(id__in={m.user_id for m in mandates.values()})
        }
        cards = {
            card.id: card
            for card in await PaymentMethod.filter(
                id__in={m.payment_method_id for m in mandates.values()}, is_active=True
            )
        }
        institution_ids = {loan.institution_id for loan in loans.values()}
        payments = {
            p.idempotency_key: p
            for p in await Payment.filter(
                institution_id__in=institution_ids,
                idempotency_key__in=[attempt_key(a) for a in attempts],
            )
        }
        institutions = {i.id: i for i in await Institution.filter(id__in=institution_ids)}
        products = {
            p.id: p
            for p in await LoanProduct.filter(id__in={loan.product_id for loan in loans.values()})
        }
        # Only attempts about to compute their amount need a view.
        fresh = [
            loans[loan_id]
            for loan_id, group in by_loan.items()
            if len(group) == 1
            and loan_id in loans
            and (group[0].status is AttemptStatus.SCHEDULED or group[0].amount_centavos is None)
        ]
        views = {view.loan.id: view for view in await load_loan_views(fresh, day)}
        return cls(
            loans=loans,
            users=users,
            views=views,
            mandates=mandates,
            cards=cards,
            payments=payments,
            institutions=institutions,
            products=products,
        )


async def plan_first_attempts(
    day: date,
    report: ChargeReport,
    renew: Callable[[], Awaitable[None]] | None = None,
    shard: Shard = Shard(),
) -> None:
    """The first attempt, under its mandate, at the oldest open installment due by ``day``
    of each mandated loan."""
    last = 0
    while True:
        mandates = (
            await shard.of(
                Mandate.filter(id__gt=last, status=MandateStatus.ACTIVE, valid_until__gte=day)
            )
            .order_by("id")
            .limit(BATCH)
        )
        if not mandates:
            return
        last = mandates[-1].id
        loans = await Loan.filter(id__in=[m.loan_id for m in mandates])
        views = {view.loan.id: view for view in await load_loan_views(loans, day)}
        wanted: dict[int, int] = {}
        for mandate in mandates:
            view = views.get(mandate.loan_id)
            due = next(
                (
                    i
                    for i in (view.installments if view else ())
                    if i.status not in SETTLED and i.outstanding > 0 and i.due_date <= day
                ),
                None,
            )
            if due is not None and mandate.signed_at.date() <= day:
                wanted[mandate.loan_id] = due.number
        if wanted:
            rows = await _first_attempts(mandates, wanted, day)
            if rows:
                # A concurrent planner may insert the same rows: the unique key keeps one.
                await ChargeAttempt.bulk_create(rows, ignore_conflicts=True)
                report.planned += len(rows)
        if renew is not None:
            await renew()


async def _first_attempts(
    mandates: list[Mandate], wanted: dict[int, int], day: date
) -> list[ChargeAttempt]:
    """The attempts to add: one per installment not yet tried under its mandate in force.

    A mandate signed again (another card after a decline) tries the installment again,
    numbered after every earlier attempt, so each attempt keeps its own idempotency key.
    """
    earlier = await ChargeAttempt.filter(
        Q(
            *(Q(loan_id=k, installment_number=v) for k, v in wanted.items()),
            join_type="OR",
        )
    ).values_list("loan_id", "mandate_id", "attempt")
    tried = {(loan_id, mandate_id) for loan_id, mandate_id, _ in earlier}
    last: dict[int, int] = {}
    for loan_id, _, number in earlier:
        last[loan_id] = max(last.get(loan_id, 0), number)
    return [
        ChargeAttempt(
            institution_id=mandate.institution_id,
            loan_id=mandate.loan_id,
            mandate_id=mandate.id,
            installment_number=wanted[mandate.loan_id],
            attempt=last.get(mandate.loan_id, 0) + 1,
            scheduled_for=day,
        )
        for mandate in mandates
        if mandate.loan_id in wanted and (mandate.loan_id, mandate.id) not in tried
    ]


async def amount_due(loan: Loan, day: date, view: LoanView | None = None) -> Decimal:
    """What the domiciliación charges on ``day``: every open installment due by then, less
    advances held, never above the payoff (``loans/payable.py``, always asked afresh).
    ``view``: the loan's view on ``day`` when already loaded."""
    return (await _amount_and_ceiling(loan, day, view))[0]


async def _amount_and_ceiling(
    loan: Loan, day: date, view: LoanView | None = None
) -> tuple[Decimal, Payable]:
    """``amount_due`` and the payoff ceiling it was capped by (handed to the funnel, which
    checks the amount against it instead of asking the payoff a second time)."""
    if view is None:
        view = (await load_loan_views([loan], day))[0]
    due = sum(
        (
            i.outstanding
            for i in view.installments
            if i.status not in SETTLED and i.outstanding > 0 and i.due_date <= day
        ),
        ZERO,
    )
    due = max(due - view.balance.advance, ZERO)
    payable = await payable_amount(loan, day)
    return (min(due, payable.maximum) if payable.may_pay else ZERO), payable


async def _cancel(attempt: ChargeAttempt, detail: str, report: ChargeReport) -> None:
    await ChargeAttempt.filter(id=attempt.id, status__in=list(_RUNNABLE)).update(
        status=AttemptStatus.CANCELED, detail=detail[:300]
    )
    report.canceled += 1


async def charge_attempt(
    runtime: Runtime,
    gateways: GatewayDirectory,
    attempt: ChargeAttempt,
    day: date,
    report: ChargeReport,
    batch: _BatchReads | None = None,
) -> None:
    """Run (or resume) one attempt and record what came of it."""
    key = attempt_key(attempt)
    fresh = batch is None or attempt.status is not AttemptStatus.SCHEDULED
    mandate = None if fresh or batch is None else batch.mandates.get(attempt.mandate_id)
    if mandate is None:
        mandate = await Mandate.get(id=attempt.mandate_id)
    loan = batch.loans.get(attempt.loan_id) if batch else None
    if loan is None:
        loan = await Loan.get(id=attempt.loan_id)
    if fresh or batch is None:
        payment = await Payment.filter(
            institution_id=loan.institution_id, idempotency_key=key
        ).first()
    else:
        payment = batch.payments.get(key)
    if payment is None:
        # Checked before charging: a revoked mandate or a deleted card stops here (and a
        # revocation after the batch's read cancelled the attempt: the update below says so).
        if fresh or batch is None:
            card = await PaymentMethod.filter(id=mandate.payment_method_id, is_active=True).first()
        else:
            card = batch.cards.get(mandate.payment_method_id)
        if mandate.status is not MandateStatus.ACTIVE or mandate.valid_until < day:
            return await _cancel(attempt, "Domiciliación no vigente.", report)
        if card is None or card.provider_token is None:
            return await _cancel(attempt, "La tarjeta ya no está guardada.", report)
        payable = None
        if attempt.status is AttemptStatus.SCHEDULED or attempt.amount_centavos is None:
            amount, payable = await _amount_and_ceiling(
                loan, day, batch.views.get(loan.id) if batch else None
            )
            if amount <= 0:
                return await _cancel(attempt, "Sin monto exigible.", report)
            taken = await ChargeAttempt.filter(
                id=attempt.id, status=AttemptStatus.SCHEDULED
            ).update(status=AttemptStatus.CHARGING, amount_centavos=to_centavos(amount))
            if taken != 1:
                return  # another pass took it (or it was revoked meanwhile)
            attempt.amount_centavos = to_centavos(amount)
        user = batch.users.get(mandate.user_id) if batch else None
        if user is None:
            user = await User.get(id=mandate.user_id)
        institution = batch.institutions.get(loan.institution_id) if batch else None
        known = None
        if payable is not None and institution is not None:
            # What this attempt has just read, so the funnel does not read it again (it still
            # checks the amount against this payoff, the card, the customer and the key).
            known = ReadJustNow(
                loan=loan,
                payable=payable,
                institution=institution,
                saved=card,
                no_payment_yet=True,
            )
        try:
            payment = await create_payment(
                runtime,
                gateways,
                user,
                PaymentRequest(
                    loan_id=loan.id,
                    amount=from_centavos(attempt.amount_centavos or 0),
                    method=PaymentMethodType.CARD,
                    provider=str(card.provider),
                    idempotency_key=key,
                    payment_method_id=card.id,
                ),
                known=known,
            )
        except PaymentRefused as exc:
            await ChargeAttempt.filter(id=attempt.id).update(
                status=AttemptStatus.CANCELED, detail=exc.message[:300], decline_code=exc.code
            )
            report.canceled += 1
            return
    elif payment.status == S.CREATED:
        payment = await resume_payment(runtime, gateways, payment)
    report.charged += 1
    await settle_attempt(
        runtime,
        attempt,
        mandate,
        loan,
        payment,
        day,
        report,
        batch.products.get(loan.product_id) if batch else None,
    )


async def settle_attempt(
    runtime: Runtime,
    attempt: ChargeAttempt,
    mandate: Mandate,
    loan: Loan,
    payment: Payment,
    day: date,
    report: ChargeReport,
    product: LoanProduct | None = None,
) -> None:
    """Record the payment's outcome on its attempt and plan what comes next."""
    status = S(payment.status)
    if status is S.PAID:
        await ChargeAttempt.filter(id=attempt.id).update(
            status=AttemptStatus.PAID, payment_id=payment.id, detail=None
        )
        report.paid += 1
        return
    if status is S.CREATED:  # the provider did not answer: the next pass asks again
        await ChargeAttempt.filter(id=attempt.id).update(
            payment_id=payment.id, detail="Proveedor no disponible; se reintentará."
        )
        report.pending += 1
        return
    if status is not S.FAILED:
        await ChargeAttempt.filter(id=attempt.id).update(
            status=AttemptStatus.PROCESSING, payment_id=payment.id
        )
        return
    report.declined += 1
    action = classify_decline(payment.failure_code, payment.provider_failure_code)
    if product is None or product.id != loan.product_id:
        product = await LoanProduct.get(id=loan.product_id)
    earlier = await ChargeAttempt.filter(
        loan_id=attempt.loan_id,
        installment_number=attempt.installment_number,
        attempt__lt=attempt.attempt,
        action__not_isnull=True,
    ).values_list("action", flat=True)
    retry = plan_retry(
        DunningPolicy.from_settings(product.settings),
        action,
        today=day,
        previous=Counter(Action(str(a)) for a in earlier),
    )
    reason = payment.failure_message or "Cargo rechazado."
    async with in_transaction() as tx:
        await (
            ChargeAttempt.filter(id=attempt.id)
            .using_db(tx)
            .update(
                status=AttemptStatus.DECLINED,
                payment_id=payment.id,
                decline_code=(payment.provider_failure_code or payment.failure_code or "")[:64],
                action=retry.action.value,
                detail=_DETAIL[retry.action](retry.on),
            )
        )
        if retry.on is not None:
            await ChargeAttempt.bulk_create(
                [
                    ChargeAttempt(
                        institution_id=attempt.institution_id,
                        loan_id=attempt.loan_id,
                        mandate_id=attempt.mandate_id,
                        installment_number=attempt.installment_number,
                        attempt=attempt.attempt + 1,
                        scheduled_for=retry.on,
                    )
                ],
                ignore_conflicts=True,
                using_db=tx,
            )
        elif retry.action is Action.NEEDS_METHOD:
            await stop_mandates_of_card(
                mandate.payment_method_id, MandateStatus.NEEDS_METHOD, "needs-method", tx
            )
    kind = {
        Action.NEEDS_METHOD: "needs_another_method",
        Action.EXHAUSTED: "retries_exhausted",
    }.get(retry.action, "charge_declined")
    await tell_borrower(
        runtime,
        kind,
        user_id=mandate.user_id,
        loan_id=loan.id,
        payment_id=payment.id,
        dedupe_key=f"charge-attempt:{attempt.id}:{kind}",
        context={
            "amount": from_centavos(payment.amount_centavos),
            "reason": reason,
            "retry_on": retry.on,
        },
    )


_DETAIL: dict[Action, Callable[[date | None], str]] = {
    Action.RETRY_PAYDAY: lambda on: f"Fondos insuficientes: se reintentará el {on}.",
    Action.RETRY_SOON: lambda on: f"Error del procesador: se reintentará el {on}.",
    Action.NEEDS_METHOD: lambda on: "La tarjeta no puede cobrarse: se necesita otro método.",
    Action.EXHAUSTED: lambda on: "Se agotaron los reintentos: paga desde el portal.",
}
