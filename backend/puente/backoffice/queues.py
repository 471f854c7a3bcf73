"""The lists a cashier works through, and the two queue actions that are the console's own:
replaying a webhook event and resolving a reconciliation exception (both reuse their
domain's service: the webhook inbox and ``reconciliation.exceptions``)."""

from __future__ import annotations

from collections import defaultdict
from dataclasses import dataclass
from datetime import date, datetime, timedelta

from puente.accounts.models import User
from puente.audit.service import record_audit
from puente.enums import PaymentMethodType, SuspenseStatus
from puente.enums import PaymentStatus as S
from puente.enums import ProviderEventStatus as E
from puente.ledger.models import SuspenseItem
from puente.ledger.suspense import open_suspense_items, resolve_suspense_item
from puente.loans.engine import DelinquencyBucket
from puente.loans.models import Loan
from puente.loans.state import LoanView, load_loan_views
from puente.loans.terms import OPEN_STATUSES
from puente.payments.models import Payment
from puente.reconciliation.enums import Resolution
from puente.reconciliation.exceptions import ResolutionRefused, open_exceptions, resolve_exception
from puente.reconciliation.models import ReconciliationException
from puente.runtime import Runtime
from puente.webhooks.inbox import WebhookInbox
from puente.webhooks.models import ProviderEvent

from .roles import ConsoleAction, ConsoleRefused, require

__all__ = [
    "EXPIRY_WINDOW",
    "REASONS",
    "REPLAYABLE",
    "Queues",
    "delinquent_loans",
    "expiring_references",
    "failed_webhooks",
    "load_queues",
    "replay_webhook",
    "resolve_reconciliation_exception",
    "resolve_suspense",
]

# A reference (SPEI CLABE, OXXO voucher) the payer has not paid yet and that lapses within
# this window is worth a call or a message today.
EXPIRY_WINDOW = timedelta(hours=48)
REPLAYABLE = (E.FAILED, E.DEAD, E.EXCEPTION)
# What the queues' codes mean, for the people working them.
REASONS = {
    "LOAN_NOT_PAYABLE": "El crédito ya no admitía pagos",
    "ABOVE_PAYOFF": "Excede lo que liquidaba el crédito",
    "NOT_APPLICABLE": "El producto no acepta pagos adelantados",
    "UNEXPLAINED_DEPOSIT": "Depósito sin explicar",
    "UNEXPLAINED_DEBIT": "Cargo sin explicar",
    "UNMATCHED": "Movimiento sin conciliar",
    "AMOUNT_MISMATCH": "El monto no coincide",
    "LOW_CONFIDENCE": "Sugerencia por confirmar",
    "NOT_PAYABLE": "Nombra un crédito que no admite pagos",
    "credit": "Abono",
    "debit": "Cargo",
}
LATE_BUCKETS = tuple(b for b in DelinquencyBucket if b is not DelinquencyBucket.CURRENT)


@dataclass(frozen=True, slots=True)
class Queues:
    expiring: list[Payment]
    webhooks: list[ProviderEvent]
    suspense: list[SuspenseItem]
    exceptions: list[ReconciliationException]
    delinquent: dict[DelinquencyBucket, list[LoanView]]

    @property
    def from_exceptions(self) -> set[int]:
        """Suspense items a reconciliation exception holds (resolved there, not here)."""
        return {e.suspense_item_id for e in self.exceptions if e.suspense_item_id is not None}

    @property
    def counts(self) -> dict[str, int]:
        return {
            "expiring": len(self.expiring),
            "webhooks": len(self.webhooks),
            "suspense": len(self.suspense),
            "exceptions": len(self.exceptions),
            "delinquent": sum(len(v) for v in self.delinquent.values()),
        }


async def expiring_references(institution_id: int, now: datetime) -> list[Payment]:
    """Unpaid SPEI and OXXO references that lapse within ``EXPIRY_WINDOW``, soonest first."""
    return (
        await Payment.filter(
            institution_id=institution_id,
            method__in=[PaymentMethodType.SPEI, PaymentMethodType.CASH],
            status__in=[S.PENDING, S.REQUIRES_ACTION],
            expires_at__gt=now,
            expires_at__lte=now + EXPIRY_WINDOW,
        )
        .order_by("expires_at")
        .limit(200)
    )


async def failed_webhooks(institution_id: int) -> list[ProviderEvent]:
    """Webhook events that failed, were dead-lettered or disagree with their payment."""
    return (
        await ProviderEvent.filter(institution_id=institution_id, status__in=list(REPLAYABLE))
        .order_by("-id")
        .limit(200)
    )


async def delinquent_loans(
    institution_id: int, today: date
) -> dict[DelinquencyBucket, list[LoanView]]:
    """Running loans past due, by aging bucket (most days late first within a bucket)."""
    loans = (
        await Loan.filter(institution_id=institution_id, status__in=list(OPEN_STATUSES))
        .order_by("id")
        .limit(1000)
        .prefetch_related("borrower")
    )
    views = await load_loan_views(loans, today)
    grouped: dict[DelinquencyBucket, list[LoanView]] = defaultdict(list)
    for view in views:
        if view.balance.bucket is not DelinquencyBucket.CURRENT:
            grouped[view.balance.bucket].append(view)
    for late in grouped.values():
        late.sort(key=lambda v: v.balance.days_past_due, reverse=True)
    return {bucket: grouped.get(bucket, []) for bucket in LATE_BUCKETS}


async def load_queues(runtime: Runtime, institution_id: int) -> Queues:
    return Queues(
        expiring=await expiring_references(institution_id, runtime.now()),
        webhooks=await failed_webhooks(institution_id),
        suspense=await open_suspense_items(institution_id),
        exceptions=await open_exceptions(institution_id),
        delinquent=await delinquent_loans(institution_id, runtime.today()),
    )


async def replay_webhook(
    runtime: Runtime, inbox: WebhookInbox, actor: User, event_id: int
) -> ProviderEvent:
    """Put a failed or dead event of the actor's institution back in the inbox and process
    it now (the inbox's own processing, exactly once); audited."""
    require(actor, ConsoleAction.REPLAY_WEBHOOK)
    event = await ProviderEvent.filter(id=event_id, institution_id=actor.institution_id).first()
    if event is None:
        raise ConsoleRefused("NOT_FOUND", "Ese evento no existe.")
    if E(event.status) not in REPLAYABLE:
        raise ConsoleRefused("NOT_REPLAYABLE", "Solo se reintentan eventos fallidos o detenidos.")
    await record_audit(
        "webhook.replayed",
        actor_id=actor.id,
        institution_id=actor.institution_id,
        subject_type="provider_event",
        subject_id=event.id,
        data={"status": str(event.status), "provider": str(event.provider)},
    )
    await inbox.replay(event.id)
    await inbox.process_due()
    return await ProviderEvent.get(id=event.id)


async def resolve_reconciliation_exception(
    runtime: Runtime,
    actor: User,
    exception_id: int,
    resolution: str,
    note: str,
    *,
    payment_id: int | None = None,
    loan_id: int | None = None,
) -> ReconciliationException:
    """Staff say what an exception was (``reconciliation.exceptions.resolve_exception``)."""
    require(actor, ConsoleAction.RESOLVE_EXCEPTION)
    if resolution not in Resolution._value2member_map_:
        raise ConsoleRefused("INVALID_RESOLUTION", "Elige cómo se resolvió la excepción.")
    try:
        return await resolve_exception(
            runtime,
            exception_id,
            Resolution(resolution),
            actor_id=actor.id,
            institution_id=actor.institution_id,
            note=note,
            at=runtime.now(),
            payment_id=payment_id,
            loan_id=loan_id,
        )
    except ResolutionRefused as refused:
        message = str(refused)
        raise ConsoleRefused("RESOLUTION_REFUSED", message[:1].upper() + message[1:]) from None


async def resolve_suspense(runtime: Runtime, actor: User, item_id: int, note: str) -> SuspenseItem:
    """Close one of the institution's suspense items with what staff did (refunded, applied
    by hand); ``ledger.suspense.resolve_suspense_item`` audits it. An item that came from a
    reconciliation exception is closed by resolving the exception instead."""
    require(actor, ConsoleAction.RESOLVE_SUSPENSE)
    item = await SuspenseItem.filter(id=item_id, institution_id=actor.institution_id).first()
    if item is None or item.status is not SuspenseStatus.OPEN:
        raise ConsoleRefused("NOT_FOUND", "Esa partida no existe o ya se resolvió.")
    if await ReconciliationException.filter(suspense_item_id=item.id).exists():
        raise ConsoleRefused(
            "USE_EXCEPTION", "Esa partida es de una excepción de conciliación: resuélvela ahí."
        )
    if not " ".join(note.split()):
        raise ConsoleRefused("NOTE_REQUIRED", "Escribe cómo se resolvió.")
    return await resolve_suspense_item(item.id, actor_id=actor.id, note=note, at=runtime.now())
