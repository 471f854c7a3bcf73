"""The webhook inbox: verify, store durably, answer; process afterwards, exactly once.

    receive ──verify signature──► INSERT provider_events (unique provider+event id) ──► 2xx
                                      │
    worker ──claim (lease)──► process ──► PROCESSED | IGNORED
                                 │ error
                                 └──► FAILED (retry with backoff) ──► DEAD after N (staff replay)

A process killed between storing and processing leaves the row RECEIVED (or FAILED with an
expired lease); the next worker, in this process after a restart or in another, finishes it.
"""

from __future__ import annotations

import asyncio
import logging
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from typing import Any

from tortoise.backends.base.client import BaseDBAsyncClient
from tortoise.expressions import F, Q
from tortoise.transactions import in_transaction

from puente.audit.service import audit_batch
from puente.enums import PaymentStatus as S
from puente.enums import ProviderEventStatus as E
from puente.institutions.models import Institution
from puente.ledger.posting import prime_loan_accounts
from puente.loans.contract import LoanReads, read_loans
from puente.loans.models import Loan, LoanProduct
from puente.money import from_centavos, to_centavos
from puente.observability.context import bound_request_id, current_request_id
from puente.observability.tracing import span
from puente.payments.change_notices import notify_institution, notify_transition
from puente.payments.disbursements import settle_disbursement
from puente.payments.gateways import GatewayDirectory
from puente.payments.lifecycle import from_event_kind
from puente.payments.lifecycle_service import (
    LockedRows,
    Transition,
    advance_payment,
    record_provider_reference,
)
from puente.payments.models import Disbursement, Payment
from puente.payments.observers import announce_transition
from puente.payments.outcomes import advance_and_notify, apply_provider_payment
from puente.payments.payer_approval import capture_approved_order
from puente.payments.spei_inbound import (
    apply_abono,
    loan_for_abono,
    payable_loan_for_abono,
)
from puente.providers.errors import ProviderConfigError, ProviderError, WebhookVerificationError
from puente.providers.registry import UnknownProvider, provider_spec
from puente.providers.spec import ProviderSpec, TransferAnswers, WebhookScheme
from puente.providers.values import EventKind, NormalisedEvent, ProviderPayment
from puente.runtime import Runtime
from puente.webhooks.models import ProviderEvent
from puente.webhooks.storage import seal_body, stored_body, stored_headers
from puente.webhooks.writer import InboxWriter, ReceivedEvent

__all__ = ["Receipt", "WebhookInbox", "webhook_scheme"]

logger = logging.getLogger("puente.webhooks")


@dataclass(frozen=True, slots=True)
class Receipt:
    status_code: int
    body: dict[str, Any]


def webhook_scheme(provider: str) -> WebhookScheme | None:
    """How ``provider``'s webhooks are checked and answered; None: the door does not know it."""
    try:
        return provider_spec(provider).webhook
    except ProviderConfigError:
        return None


def _plain_status(event: ProviderEvent) -> S | None:
    """The status a signed payment event proposes, when ``_process`` would do nothing else
    with it than propose that status to the payment it names (``_apply_by_loan``)."""
    kind = EventKind(event.kind) if event.kind in EventKind._value2member_map_ else None
    if kind is None or not event.provider_payment_id or not event.body_authenticated:
        return None
    if kind in (EventKind.PAYMENT_REFUNDED, EventKind.IGNORED, EventKind.UNKNOWN):
        return None
    if kind in (EventKind.TRANSFER_SUCCEEDED, EventKind.TRANSFER_FAILED):
        return None
    spec = provider_spec(event.provider)
    if kind is EventKind.TRANSFER_RECEIVED and spec.pays_to_loan_clabe:
        return None
    if spec.approval_event is not None and event.event_type == spec.approval_event:
        return None
    return from_event_kind(kind)


async def _payments_by_reference(events: list[ProviderEvent]) -> dict[int, Payment]:
    """The payment each event names by its provider's id, by event id (one query for all)."""
    references = {event.provider_payment_id for event in events if event.provider_payment_id}
    if not references:
        return {}
    found = await Payment.filter(provider_reference__in=sorted(references))
    by_reference = {(p.provider, p.provider_reference): p for p in found}
    named = {
        event.id: by_reference.get((event.provider, event.provider_payment_id)) for event in events
    }
    return {event_id: payment for event_id, payment in named.items() if payment is not None}


@dataclass(frozen=True, slots=True)
class _Held:
    """The rows a batch's transaction locked (payments, loans) and read (their products,
    what each payment reads of its loan first), by id."""

    payments: dict[int, Payment]
    loans: dict[int, Loan]
    products: dict[int, LoanProduct]
    reads: dict[int, LoanReads]


async def _lock_batch(
    groups: list[tuple[int, list[tuple[ProviderEvent, S, Payment]]]], conn: BaseDBAsyncClient
) -> _Held:
    """Lock every payment of the batch, then every loan, each in id order (payments before
    their loan, as every other path), and read their products, ledger account ids and
    ``LoanReads``: six queries for the batch instead of six or more per loan."""
    payment_ids = sorted({payment.id for _, members in groups for _, _, payment in members})
    loan_ids = [loan_id for loan_id, _ in groups]
    payments = (
        await Payment.filter(id__in=payment_ids).order_by("id").select_for_update().using_db(conn)
    )
    loans = await Loan.filter(id__in=loan_ids).order_by("id").select_for_update().using_db(conn)
    await prime_loan_accounts(loan_ids, conn)  # their ledger accounts: no lookup per entry
    product_ids = sorted({loan.product_id for loan in loans})
    products = await LoanProduct.filter(id__in=product_ids).using_db(conn)
    return _Held(
        {p.id: p for p in payments},
        {loan.id: loan for loan in loans},
        {product.id: product for product in products},
        await read_loans(loan_ids, conn),
    )


class PaymentNotYetKnown(Exception):
    """The event names a payment we have not recorded (yet): retry later."""


class WebhookInbox:
    """Receives and processes provider events for every institution."""

    def __init__(
        self,
        runtime: Runtime,
        gateways: GatewayDirectory,
        *,
        max_attempts: int = 8,
        backoff_seconds: float = 2.0,
        lease_seconds: int = 60,
    ) -> None:
        self.runtime = runtime
        self.gateways = gateways
        self.max_attempts = max_attempts
        self.backoff_seconds = backoff_seconds
        self.lease = timedelta(seconds=lease_seconds)
        self._wake = asyncio.Event()
        self.writer = InboxWriter()  # group commit of received events (``writer.py``)

    # -- receiving -------------------------------------------------------------------------

    async def receive(
        self, provider: str, raw_body: bytes, headers: dict[str, str], client_ip: str | None
    ) -> Receipt:
        """Verify and store; 2xx only once the event is durably stored."""
        scheme = webhook_scheme(provider)
        if scheme is None:
            return Receipt(404, {"error": "unknown provider"})
        try:
            verified = await self._verify(provider, raw_body, headers, client_ip)
        except ProviderError as exc:
            # We could not check the signature now (e.g. certificate download): the provider
            # retries on 5xx, and nothing was stored.
            logger.warning("%s webhook not verifiable now: %s", provider, exc.code)
            return Receipt(503, {"error": "verification temporarily unavailable"})
        if verified is None:
            return Receipt(400, {"error": "signature verification failed"})
        institution, event = verified
        # Noise (a provider's echo of an event we act on elsewhere) is stored already settled,
        # so the worker never spends a database round trip on it.
        noise = event.kind is EventKind.IGNORED or (
            event.kind is EventKind.UNKNOWN and not event.provider_payment_id
        )
        answer = scheme.acknowledgement()
        if scheme.transfers is not None and event.kind is EventKind.TRANSFER_RECEIVED:
            # The bank asks us to keep (STP: confirmar) or send back (devolver) each abono.
            keep = await self._keep_abono(institution, provider, scheme.transfers, raw_body)
            noise = noise or not keep
            answer = scheme.acknowledgement(keep_transfer=keep)
        stored = await self.writer.store(
            ReceivedEvent(
                provider=provider,
                event_id=event.event_id[:200],
                event_type=event.type[:100],
                institution_id=institution.id,
                kind=event.kind.value,
                provider_payment_id=event.provider_payment_id,
                puente_payment_id=event.puente_payment_id,
                amount_centavos=to_centavos(event.amount) if event.amount is not None else None,
                occurred_at=event.occurred_at,
                raw_body=seal_body(self.runtime, raw_body),
                headers=stored_headers(headers),
                body_authenticated=event.body_authenticated,
                status=E.IGNORED if noise else E.RECEIVED,
                processed_at=self.runtime.now() if noise else None,
                received_at=datetime.now(UTC),
                request_id=current_request_id(),
            )
        )
        if not stored:
            return Receipt(200, {**answer, "duplicate": True})
        if not noise:
            self._wake.set()
        return Receipt(200, answer)

    async def _keep_abono(
        self, institution: Institution, provider: str, transfers: TransferAnswers, raw: bytes
    ) -> bool:
        """Whether the abono goes to a loan that may be paid today (``loans/payable.py``)."""
        credentials = await self.gateways.credentials(institution, provider)
        cuenta = credentials.get(transfers.account_field, "")
        today = self.runtime.today()
        return await payable_loan_for_abono(institution.id, cuenta, raw, today) is not None

    async def _verify(
        self, provider: str, raw_body: bytes, headers: dict[str, str], client_ip: str | None
    ) -> tuple[Institution, NormalisedEvent] | None:
        try:
            institutions = await self.gateways.candidates(provider)
        except UnknownProvider:
            return None
        for institution in institutions:
            connector = await self.gateways.connector(institution, provider)
            try:
                event = await connector.verify_webhook(
                    raw_body, headers, now=self.runtime.now(), client_ip=client_ip
                )
                return institution, event
            except WebhookVerificationError as exc:
                logger.info("%s webhook not verified for %s: %s", provider, institution.slug, exc)
            except (ValueError, TypeError, KeyError, AttributeError) as exc:
                # A body that passed the signature but does not parse as the provider's own
                # shape: refuse it (4xx) like any malformed webhook instead of failing with 500.
                logger.warning("%s webhook malformed: %s", provider, type(exc).__name__)
        return None

    # -- processing ------------------------------------------------------------------------

    async def _claim_due(self, now: datetime, limit: int) -> list[ProviderEvent]:
        """Lease up to ``limit`` due events to this worker; no two workers get the same one.

        PostgreSQL: ``FOR UPDATE SKIP LOCKED`` hands each concurrent worker (in this process
        or another) a disjoint batch, leased in one UPDATE. SQLite has one writer at a time
        and no row locks, so each row is leased by a conditional UPDATE on the attempt count
        it was read with: a second worker that read the same row updates nothing.
        """
        due = Q(status__in=[E.RECEIVED, E.FAILED]) & (
            Q(next_attempt_at__isnull=True) | Q(next_attempt_at__lte=now)
        )
        lease_until = now + self.lease
        async with in_transaction() as tx:
            # Not values_list(): Tortoise drops FOR UPDATE from values queries.
            found = (
                await ProviderEvent.filter(due)
                .order_by("id")
                .limit(limit)
                .select_for_update(skip_locked=True)
                .only("id", "attempts")
                .using_db(tx)
            )
            rows = [(event.id, event.attempts) for event in found]
            if tx.capabilities.dialect == "postgres":
                ids = [row_id for row_id, _ in rows]
                if ids:
                    await (
                        ProviderEvent.filter(id__in=ids)
                        .using_db(tx)
                        .update(attempts=F("attempts") + 1, next_attempt_at=lease_until)
                    )
            else:
                ids = []
                for row_id, attempts in rows:
                    taken = (
                        await ProviderEvent.filter(due, id=row_id, attempts=attempts)
                        .using_db(tx)
                        .update(attempts=attempts + 1, next_attempt_at=lease_until)
                    )
                    if taken == 1:
                        ids.append(row_id)
        if not ids:
            return []
        return await ProviderEvent.filter(id__in=ids).order_by("id")

    async def process_due(self, limit: int = 50) -> int:
        """Process events that are waiting; returns how many were handled.

        Payment status events of the batch are applied by loan, each loan's in one
        transaction (``_apply_by_loan``); any other event, or one of a loan whose
        transaction failed, is processed on its own. The outcomes of the batch are then
        recorded with one UPDATE per outcome. A process that dies before that leaves
        its applied events leased: they are processed again when the lease lapses, which
        changes nothing (a payment moves forward once).
        """
        now = self.runtime.now()
        claimed = await self._claim_due(now, limit)
        settled: dict[E, list[ProviderEvent]] = {}
        applied = await self._apply_by_loan(claimed)
        for event in claimed:
            if event.id in applied:
                settled.setdefault(applied[event.id], []).append(event)
                continue
            try:
                # Logged under the id of the request that delivered it (one story per event).
                with (
                    bound_request_id(event.request_id or f"event-{event.id}"),
                    span("webhook.process", **{"puente.provider": str(event.provider)}),
                ):
                    outcome = await self._process(event)
            except Exception as exc:  # noqa: BLE001 - every failure is retried, then dead-lettered
                await self._failed(event, exc, now)
                continue
            settled.setdefault(outcome, []).append(event)
        processed_at = self.runtime.now()
        for outcome, events in settled.items():
            fields: dict[str, Any] = {"status": outcome, "processed_at": processed_at}
            if outcome is not E.EXCEPTION:
                fields["last_error"] = None  # an exception keeps its explanation for staff
            await ProviderEvent.filter(id__in=[event.id for event in events]).update(**fields)
        for outcome, events in settled.items():
            for event in events:
                await self._tell_staff(event, outcome)
        return len(claimed)

    async def _apply_by_loan(self, events: list[ProviderEvent]) -> dict[int, E]:
        """Apply the batch's signed payment status events grouped by loan, and return the
        outcome per event id.

        On PostgreSQL the whole batch is one transaction: its payments then their loans
        locked once, each in id order (payments before loans, the order every path locks
        in), read once (``_lock_batch``) and passed down loan after loan, and the audit
        entries appended together at its end (``audit_batch``), so the chain's head row is
        held once per batch, not once per payment. If that transaction fails (a deadlock,
        one bad loan), it rolls back whole and each loan is applied in a transaction of its
        own, as always on SQLite; events left out (other kinds, unknown payments, a loan
        that failed again) are processed one by one by the caller, so a failure is charged
        to its own event."""
        wanted = [(event, status) for event in events if (status := _plain_status(event))]
        if not wanted:
            return {}
        named = await _payments_by_reference([event for event, _ in wanted])
        groups: dict[int, list[tuple[ProviderEvent, S, Payment]]] = {}
        for event, status in wanted:
            payment = named.get(event.id)
            if payment is not None:
                groups.setdefault(payment.loan_id, []).append((event, status, payment))
        ordered = sorted(groups.items())
        done: dict[int, list[Transition]] = {}
        # SQLite has one connection: a batch's transaction would hold every other writer
        # (the webhook door's acknowledgements) for all of it, so there each loan is
        # applied in a transaction of its own, letting the door in between.
        if ProviderEvent._meta.db.capabilities.dialect == "postgres":
            try:
                with span("webhook.apply_batch", **{"puente.loans": len(ordered)}):
                    async with in_transaction() as tx, audit_batch(tx):
                        held = await _lock_batch(ordered, tx)
                        for loan_id, members in ordered:
                            done[loan_id] = await self._apply_group(loan_id, members, tx, held)
            except Exception:  # noqa: BLE001 - rolled back whole: each loan on its own below
                logger.info("batch of %s loans applied loan by loan", len(ordered), exc_info=True)
                done = {}
        if not done:
            for loan_id, members in ordered:
                try:
                    with span("webhook.apply_loan", **{"puente.events": len(members)}):
                        done[loan_id] = await self._apply_group(loan_id, members)
                except Exception:  # noqa: BLE001 - its events are retried one by one
                    logger.warning("events of loan %s applied one by one", loan_id, exc_info=True)
        outcomes: dict[int, E] = {}
        for loan_id, members in ordered:
            if loan_id not in done:
                continue
            for (event, _, _), transition in zip(members, done[loan_id], strict=True):
                # Monitoring and notices start under the delivery's request id, as in _process.
                with bound_request_id(event.request_id or f"event-{event.id}"):
                    await notify_transition(self.runtime.bus, transition, self.runtime.now())
                    announce_transition(self.runtime, transition)
                    outcomes[event.id] = await self._outcome(event, transition)
        return outcomes

    async def _apply_group(
        self,
        loan_id: int,
        members: list[tuple[ProviderEvent, S, Payment]],
        conn: BaseDBAsyncClient | None = None,
        held: _Held | None = None,
    ) -> list[Transition]:
        """One loan's events applied in ``conn`` (the batch's transaction, ``held``: the rows
        it locked and read), else in a transaction of their own."""
        if conn is None:
            async with in_transaction() as tx:
                return await self._apply_group(loan_id, members, tx)
        if held is None:
            ids = sorted({payment.id for _, _, payment in members})
            payments = (
                await Payment.filter(id__in=ids).order_by("id").select_for_update().using_db(conn)
            )
            loan = await Loan.select_for_update().using_db(conn).get(id=loan_id)
            product = await LoanProduct.filter(id=loan.product_id).using_db(conn).get()
            locked = LockedRows(conn, {p.id: p for p in payments}, loan, product)
        else:
            loan = held.loans[loan_id]
            mine = {p.id: held.payments[p.id] for _, _, p in members}
            reads = {loan_id: held.reads[loan_id]} if loan_id in held.reads else {}
            locked = LockedRows(conn, mine, loan, held.products[loan.product_id], reads)
        transitions = []
        for event, status, payment in members:
            with bound_request_id(event.request_id or f"event-{event.id}"):
                transitions.append(
                    await advance_payment(payment.id, status, **self._news(event), locked=locked)
                )
        return transitions

    def _news(self, event: ProviderEvent) -> dict[str, Any]:
        """What a payment status event tells ``advance_payment`` (batched or alone)."""
        return {
            "source": f"webhook:{event.provider}:{event.event_id}",
            "at": event.occurred_at or self.runtime.now(),
            "provider_reference": event.provider_payment_id,
            "reported_amount": (
                from_centavos(event.amount_centavos) if event.amount_centavos is not None else None
            ),
        }

    async def _tell_staff(self, event: ProviderEvent, outcome: E) -> None:
        """The institution's dashboards hear each outcome but the noise (``IGNORED``)."""
        if outcome is not E.IGNORED:
            await notify_institution(
                self.runtime.bus,
                event.institution_id,
                f"webhook.{outcome.value}",
                self.runtime.now(),
                subject_id=event.id,
            )

    async def _failed(self, event: ProviderEvent, exc: Exception, now: datetime) -> None:
        attempts = event.attempts  # read after the claim, so it counts this attempt
        if attempts >= self.max_attempts:
            status, next_at = E.DEAD, None
            logger.error("webhook %s/%s dead after %s attempts", event.provider, event.id, attempts)
        else:
            status = E.FAILED
            next_at = now + timedelta(seconds=self.backoff_seconds * 2 ** (attempts - 1))
        await ProviderEvent.filter(id=event.id).update(
            status=status, last_error=f"{type(exc).__name__}: {exc}"[:2000], next_attempt_at=next_at
        )
        await self._tell_staff(event, status)

    async def _process(self, event: ProviderEvent) -> E:
        kind = EventKind(event.kind) if event.kind in EventKind._value2member_map_ else None
        spec = provider_spec(event.provider)
        if kind in (EventKind.TRANSFER_SUCCEEDED, EventKind.TRANSFER_FAILED):
            return await self._disbursement(event, kind)
        if kind is EventKind.TRANSFER_RECEIVED and spec.pays_to_loan_clabe:
            return await self._abono(event, spec)
        if not event.provider_payment_id or kind is EventKind.IGNORED:
            logger.info("acknowledged %s event %s (%s)", event.provider, event.event_id, event.kind)
            return E.IGNORED
        if kind is None or kind is EventKind.UNKNOWN:
            # Some providers (Mercado Pago) only name the payment: ask for its current state.
            return await self._bare_notice(event)
        if kind is EventKind.PAYMENT_REFUNDED or (
            from_event_kind(kind) is not None and not event.body_authenticated
        ):
            # Refund totals, and any body its provider did not sign (Openpay's Basic auth,
            # Mercado Pago): status and amount come from the provider's API, not the body.
            return await self._sync_with_provider(event, await self._payment(event))
        if spec.approval_event is not None and event.event_type == spec.approval_event:
            # Server-side capture: the payer approved but may never return to our page.
            payment = await self._payment(event)
            await capture_approved_order(
                self.runtime, self.gateways, payment, event.provider_payment_id or ""
            )
            return E.PROCESSED
        status = from_event_kind(kind) if kind is not None else None
        if status is None:
            logger.info("acknowledged %s event %s (%s)", event.provider, event.event_id, kind)
            return E.IGNORED
        payment = await self._payment(event)
        transition = await advance_and_notify(self.runtime, payment.id, status, **self._news(event))
        return await self._outcome(event, transition)

    async def _outcome(self, event: ProviderEvent, transition: Transition) -> E:
        """PROCESSED, or EXCEPTION with its reason kept on the event for staff."""
        if transition.exception:
            await ProviderEvent.filter(id=event.id).update(
                last_error=f"{transition.exception}: payment {transition.payment_id}"
            )
            return E.EXCEPTION
        return E.PROCESSED

    async def _payment(self, event: ProviderEvent) -> Payment:
        """The payment an event is about: by the provider's id, or by Puente's own id echoed
        in the provider's metadata (a payment whose creation answer was lost has no provider
        id yet). The provider id is recorded on the payment as soon as it is matched."""
        payment = (await _payments_by_reference([event])).get(event.id)
        if payment is None and event.puente_payment_id:
            payment = await self._unreferenced(event, event.puente_payment_id)
        if payment is None:
            raise PaymentNotYetKnown(f"no payment with reference {event.provider_payment_id}")
        return payment

    async def _unreferenced(self, event: ProviderEvent, puente_id: str) -> Payment | None:
        """Our payment ``puente_id`` of this institution and provider, if it has no provider
        id yet; the event's provider id becomes its reference."""
        if not puente_id.isdigit():
            return None
        candidate = await Payment.filter(
            id=int(puente_id),
            institution_id=event.institution_id,
            provider=event.provider,
            provider_reference__isnull=True,
        ).first()
        if candidate is None:
            return None
        await record_provider_reference(candidate.id, event.provider_payment_id or "")
        return await Payment.get(id=candidate.id)

    async def _bare_notice(self, event: ProviderEvent) -> E:
        """A notice that only names a provider payment: its state is asked of the provider,
        which also says (metadata) which Puente payment it is when we do not know it yet."""
        payment = await Payment.filter(
            provider=event.provider, provider_reference=event.provider_payment_id
        ).first()
        if payment is not None:
            return await self._sync_with_provider(event, payment)
        institution = await Institution.get(id=event.institution_id)
        connector = await self.gateways.gateway(institution, event.provider)
        current = await connector.get_payment(event.provider_payment_id or "")
        ours = current.puente_payment_id
        payment = await self._unreferenced(event, ours) if ours else None
        if payment is None:
            return E.IGNORED  # not a payment Puente started
        return await self._apply(event, payment, current)

    async def _sync_with_provider(self, event: ProviderEvent, payment: Payment) -> E:
        """Move the payment to what the provider says now (refund amounts, bare notices)."""
        institution = await Institution.get(id=payment.institution_id)
        connector = await self.gateways.gateway(institution, event.provider)
        # A provider error propagates: the event is retried with backoff.
        current = await connector.get_payment(event.provider_payment_id or "")
        return await self._apply(event, payment, current)

    async def _apply(self, event: ProviderEvent, payment: Payment, current: ProviderPayment) -> E:
        transition = await apply_provider_payment(
            self.runtime,
            payment.id,
            current,
            source=f"webhook:{event.provider}:{event.event_id}",
            at=event.occurred_at or self.runtime.now(),
        )
        return await self._outcome(event, transition)

    async def _disbursement(self, event: ProviderEvent, kind: EventKind) -> E:
        """Our outgoing SPEI settled or came back (STP estado / bank webhook)."""
        disbursement = await Disbursement.filter(
            provider=event.provider, provider_reference=event.provider_payment_id
        ).first()
        if disbursement is None:
            raise PaymentNotYetKnown(f"no disbursement with reference {event.provider_payment_id}")
        succeeded = kind is EventKind.TRANSFER_SUCCEEDED
        changed = await settle_disbursement(
            disbursement.id,
            succeeded=succeeded,
            at=event.occurred_at or self.runtime.now(),
            reason=event.event_type,
        )
        if changed:
            await notify_institution(
                self.runtime.bus,
                disbursement.institution_id,
                "disbursement.settled" if succeeded else "disbursement.returned",
                self.runtime.now(),
                loan_id=disbursement.loan_id,
                subject_id=disbursement.id,
            )
        return E.PROCESSED

    async def _abono(self, event: ProviderEvent, spec: ProviderSpec) -> E:
        """An incoming SPEI on a loan's CLABE: applied to that loan as a PAID payment."""
        institution = await Institution.get(id=event.institution_id)
        transfers = spec.webhook.transfers if spec.webhook else None
        account_field = transfers.account_field if transfers else ""
        credentials = await self.gateways.credentials(institution, event.provider)
        cuenta = credentials.get(account_field, "")
        body = stored_body(self.runtime, event)
        # Whatever the loan's status now: we answered confirmar, so the money is applied
        # (or held in suspense with an exception) by apply_abono.
        loan = await loan_for_abono(institution.id, cuenta, body.encode())
        if loan is None:
            return E.IGNORED  # no loan of ours: returned to the sender when it arrived
        # Through the funnel: subscribers told, AML monitoring in the background.
        await apply_abono(self.runtime, body, loan, event.occurred_at or self.runtime.now())
        return E.PROCESSED

    async def replay(self, event_id: int) -> None:
        """Staff action: put a dead (or processed) event back in the queue."""
        await ProviderEvent.filter(id=event_id).update(
            status=E.RECEIVED, attempts=0, next_attempt_at=None, last_error=None
        )
        self._wake.set()

    async def run(
        self, stop: asyncio.Event, idle_seconds: float = 1.0, gather_seconds: float = 0.05
    ) -> None:
        """The background worker: drains due events, then sleeps until woken or idle.

        After a wake-up it waits ``gather_seconds`` so a burst is processed as one pass
        instead of one pass per delivery (acknowledging webhooks stays the priority).
        """
        while not stop.is_set():
            await asyncio.sleep(gather_seconds)
            try:
                # ``stop`` is checked between batches: a stopping worker finishes the batch
                # under way and leaves the rest to the next worker.
                while not stop.is_set() and await self.process_due():
                    pass
            except Exception:  # noqa: BLE001 - the worker must outlive a bad database moment
                logger.exception("webhook worker pass failed")
            self._wake.clear()
            try:
                await asyncio.wait_for(self._wake.wait(), timeout=idle_seconds)
            except TimeoutError:
                pass
