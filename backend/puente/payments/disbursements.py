"""Paying a loan out by SPEI (STP or a bank API) and activating it when the money lands.

    approved ──send_spei──► disbursed (transfer SENT) ──estado LQ/Exito──► active (+ ledger)
       ▲                           └──────devuelta/rechazada──► transfer RETURNED ─┐
       └───────────────────────────────────────────────────── loan approved again ◄┘

Each ``Disbursement`` row is one attempt. A loan has at most one live attempt (PENDING, SENT
or SETTLED): asking again returns it, and a PENDING one (the bank's answer was lost) is sent
again with its own clave de rastreo, which the bank refuses to pay twice. After an attempt
FAILED (refused before it left) or was RETURNED, a new request is a new attempt with a new
clave de rastreo (derived from its id), audited like the first.
"""

from __future__ import annotations

import logging
from datetime import datetime

from tortoise.backends.base.client import BaseDBAsyncClient
from tortoise.transactions import in_transaction

from puente.accounts.models import User
from puente.audit.service import record_audit
from puente.enums import DisbursementStatus as D
from puente.enums import LoanStatus, ProviderName, Role
from puente.identifiers import KycError, validate_clabe
from puente.institutions.models import Institution
from puente.loans.access import can_see_loan
from puente.loans.lifecycle import (
    LoanLifecycleError,
    approve_loan,
    payout_returned,
    start_disbursement,
)
from puente.loans.models import Loan
from puente.loans.origination import record_disbursement
from puente.money import from_centavos
from puente.payments.change_notices import notify_institution
from puente.payments.checkout import PaymentRefused
from puente.payments.compliance_hooks import compliance
from puente.payments.gateways import GatewayDirectory, NoProviderAccount
from puente.payments.models import Disbursement
from puente.providers.errors import InvalidRequest, ProviderError
from puente.providers.registry import UnknownProvider, provider_spec
from puente.providers.spec import ConnectorKind
from puente.providers.values import SpeiTransferRequest, TransferStatus
from puente.runtime import MEXICO_CITY, Runtime

__all__ = [
    "CLABE_CONTEXT",
    "LIVE",
    "approve_and_disburse",
    "disburse_loan",
    "settle_disbursement",
]

logger = logging.getLogger("puente.disbursements")

CLABE_CONTEXT = "disbursements.clabe"


def _clave_rastreo(disbursement_id: int) -> str:
    return f"PTEDSB{disbursement_id:012d}"  # alphanumeric, ≤30, unique per sender


LIVE = (D.PENDING, D.SENT, D.SETTLED)  # an attempt that may still pay, or paid


async def disburse_loan(
    runtime: Runtime,
    gateways: GatewayDirectory,
    actor: User,
    loan_id: int,
    *,
    clabe: str,
    beneficiary_name: str,
    provider: str = ProviderName.STP,
) -> Disbursement:
    """Send an approved loan's money to the borrower's CLABE (staff only).

    A payout already live is returned (sent again if its outcome is unknown), never doubled;
    after a failed or returned one, this is a new attempt to the CLABE given now.
    """
    if Role(actor.role) not in (Role.STAFF, Role.ADMIN):
        raise PaymentRefused("FORBIDDEN", "Solo el personal puede dispersar créditos.")
    _require_bank_spec(provider)
    loan = await Loan.filter(id=loan_id).first()
    if loan is None or not can_see_loan(actor, loan):
        raise PaymentRefused("LOAN_NOT_FOUND", "El crédito no existe.")
    await _require_bank(gateways, loan, provider)
    live = await _live_attempt(loan.id)
    if live is not None:
        return await _resume(runtime, gateways, actor, loan, live)
    if LoanStatus(loan.status) is not LoanStatus.APPROVED:
        raise PaymentRefused("LOAN_NOT_APPROVED", "Solo se dispersan créditos aprobados.")
    try:
        account = validate_clabe(clabe)
    except KycError as exc:
        raise PaymentRefused("INVALID_CLABE", exc.message_es) from None
    name = " ".join(beneficiary_name.split())[:120]
    if not name:
        raise PaymentRefused("BENEFICIARY_REQUIRED", "Falta el nombre del beneficiario.")
    # Screened before every payout (compliance/gates.py); a blocked customer gets nothing.
    suspended = await compliance().screen_before_payout(runtime, loan)
    if suspended is not None:
        raise PaymentRefused(suspended.code, suspended.message)
    created = False
    amount = loan.principal_centavos - loan.opening_fee_centavos - loan.opening_fee_vat_centavos
    async with in_transaction() as tx:
        # The loan row lock makes "is there a live attempt?" and the insert one step, so
        # concurrent clicks create one payout.
        locked = await Loan.select_for_update().using_db(tx).get(id=loan.id)
        live = await _live_attempt(loan.id, tx)
        if live is None and LoanStatus(locked.status) is not LoanStatus.APPROVED:
            raise PaymentRefused("LOAN_NOT_APPROVED", "Solo se dispersan créditos aprobados.")
        if live is None:
            previous = await Disbursement.filter(loan_id=loan.id).using_db(tx).count()
            live = await Disbursement.create(
                institution_id=loan.institution_id,
                loan_id=loan.id,
                provider=provider,
                amount_centavos=amount,
                clabe_enc=runtime.cipher.encrypt(account.clabe, context=CLABE_CONTEXT),
                clabe_last4=account.clabe[-4:],
                beneficiary_name=name,
                clave_rastreo=f"tmp-{loan.id}-{previous}",
                using_db=tx,
            )
            live.clave_rastreo = _clave_rastreo(live.id)
            await live.save(using_db=tx, update_fields=["clave_rastreo"])
            created = True
            await record_audit(
                "loan.disbursement_requested",
                actor_id=actor.id,
                institution_id=loan.institution_id,
                subject_type="loan",
                subject_id=loan.id,
                data={
                    "amount": str(from_centavos(amount)),
                    "clabe": account.masked,
                    "attempt": previous + 1,
                    "clave_rastreo": live.clave_rastreo,
                },
                conn=tx,
            )
        elif D(live.status) is not D.PENDING:
            return live
    if created:
        await compliance().check_payout_account(
            runtime, loan, disbursement_id=live.id, clabe=account.clabe, name=name
        )
    await _send(runtime, gateways, actor, loan, live)
    sent = await Disbursement.get(id=live.id)
    if created:
        await notify_institution(
            runtime.bus,
            loan.institution_id,
            "disbursement.requested",
            runtime.now(),
            loan_id=loan.id,
            subject_id=sent.id,
        )
    return sent


async def _live_attempt(loan_id: int, conn: BaseDBAsyncClient | None = None) -> Disbursement | None:
    query = Disbursement.filter(loan_id=loan_id, status__in=list(LIVE)).order_by("-id")
    return await (query.using_db(conn) if conn is not None else query).first()


async def _resume(
    runtime: Runtime, gateways: GatewayDirectory, actor: User, loan: Loan, live: Disbursement
) -> Disbursement:
    """A live payout asked for again: returned as it is, or, if the bank never answered,
    sent again with the same clave de rastreo (the bank refuses to pay a clave twice)."""
    if D(live.status) is not D.PENDING:
        return live
    await _send(runtime, gateways, actor, loan, live)
    return await Disbursement.get(id=live.id)


async def approve_and_disburse(
    runtime: Runtime,
    gateways: GatewayDirectory,
    actor: User,
    loan_id: int,
    *,
    clabe: str,
    beneficiary_name: str,
    provider: str = ProviderName.STP,
) -> Disbursement:
    """Credit committee says yes and the money goes out: application → approved → SPEI."""
    if Role(actor.role) not in (Role.STAFF, Role.ADMIN):
        raise PaymentRefused("FORBIDDEN", "Solo el personal puede aprobar créditos.")
    _require_bank_spec(provider)
    try:
        validate_clabe(clabe)  # refuse before approving, so a typo changes nothing
    except KycError as exc:
        raise PaymentRefused("INVALID_CLABE", exc.message_es) from None
    loan = await Loan.filter(id=loan_id).first()
    if loan is None or not can_see_loan(actor, loan):
        raise PaymentRefused("LOAN_NOT_FOUND", "El crédito no existe.")
    await _require_bank(gateways, loan, provider)  # refused before approving, too
    if LoanStatus(loan.status) is LoanStatus.APPLICATION:
        # Refuse before approving, so a blocked customer's application changes nothing.
        suspended = await compliance().screen_before_payout(runtime, loan)
        if suspended is not None:
            raise PaymentRefused(suspended.code, suspended.message)
        try:
            await approve_loan(loan, actor_id=actor.id)
        except LoanLifecycleError as exc:
            raise PaymentRefused("LOAN_NOT_APPROVABLE", str(exc)) from None
    return await disburse_loan(
        runtime,
        gateways,
        actor,
        loan_id,
        clabe=clabe,
        beneficiary_name=beneficiary_name,
        provider=provider,
    )


def _require_bank_spec(provider: str) -> None:
    """Refuse a provider that cannot send SPEI payouts: its spec says whether it is a bank
    (a plug-in's as a built-in's); a name no registered provider has is not available."""
    try:
        kind = provider_spec(provider).kind
    except UnknownProvider:
        raise PaymentRefused(
            "PROVIDER_NOT_AVAILABLE", "Ese proveedor no está disponible para dispersar."
        ) from None
    if kind is not ConnectorKind.BANK:
        raise PaymentRefused("PROVIDER_NOT_A_BANK", "La dispersión se hace por STP o banco.")


async def _require_bank(gateways: GatewayDirectory, loan: Loan, provider: str) -> None:
    """Refuse, before anything is recorded, a payout with no account to send it from."""
    try:
        await gateways.bank(await Institution.get(id=loan.institution_id), provider)
    except NoProviderAccount:
        raise PaymentRefused(
            "PROVIDER_NOT_AVAILABLE",
            "La institución no tiene cuenta de dispersión con ese proveedor.",
        ) from None


async def _send(
    runtime: Runtime,
    gateways: GatewayDirectory,
    actor: User,
    loan: Loan,
    disbursement: Disbursement,
) -> None:
    institution = await Institution.get(id=loan.institution_id)
    connector = await gateways.bank(institution, str(disbursement.provider))
    request = SpeiTransferRequest(
        amount=from_centavos(disbursement.amount_centavos),
        clabe=runtime.cipher.decrypt(disbursement.clabe_enc, context=CLABE_CONTEXT),
        beneficiary_name=disbursement.beneficiary_name,
        concept=f"Credito {loan.id}",
        idempotency_key=disbursement.clave_rastreo,
        reference=str(loan.id % 10_000_000),
    )
    try:
        transfer = await connector.send_spei(request)
    except InvalidRequest as exc:
        await Disbursement.filter(id=disbursement.id, status=D.PENDING).update(
            status=D.FAILED, failure_message=(exc.provider_message or str(exc))[:300]
        )
        await record_audit(
            "loan.disbursement_failed",
            actor_id=actor.id,
            institution_id=loan.institution_id,
            subject_type="loan",
            subject_id=loan.id,
            data={"clave_rastreo": disbursement.clave_rastreo, "code": str(exc.code)},
        )
        return
    except ProviderError as exc:
        # Outcome unknown: stays PENDING; asking again sends the same clave de rastreo.
        logger.warning("disbursement %s not confirmed: %s", disbursement.id, exc.code)
        return
    await Disbursement.filter(id=disbursement.id, status=D.PENDING).update(
        status=D.SENT, provider_reference=transfer.provider_id
    )
    try:
        await start_disbursement(loan, actor_id=actor.id, reference=disbursement.clave_rastreo)
    except LoanLifecycleError:
        pass  # already moved on (a fast settlement got there first)
    if transfer.status is TransferStatus.SUCCEEDED:
        await settle_disbursement(disbursement.id, succeeded=True, at=runtime.now())


async def settle_disbursement(
    disbursement_id: int, *, succeeded: bool, at: datetime, reason: str | None = None
) -> bool:
    """The bank's verdict on a payout; returns True when it changed something (idempotent)."""
    async with in_transaction() as tx:
        disbursement = await Disbursement.select_for_update().using_db(tx).get(id=disbursement_id)
        if D(disbursement.status) in (D.SETTLED, D.RETURNED, D.FAILED):
            return False
        disbursement.status = D.SETTLED if succeeded else D.RETURNED
        disbursement.settled_at = at if succeeded else None
        disbursement.failure_message = None if succeeded else (reason or "devuelta")[:300]
        await disbursement.save(using_db=tx)
    loan = await Loan.get(id=disbursement.loan_id)
    if succeeded:
        await record_disbursement(
            loan, on=at.astimezone(MEXICO_CITY).date(), reference=disbursement.clave_rastreo
        )
    else:
        await record_audit(
            "loan.disbursement_returned",
            institution_id=loan.institution_id,
            subject_type="loan",
            subject_id=loan.id,
            data={"reason": disbursement.failure_message or ""},
        )
        if LoanStatus(loan.status) is LoanStatus.DISBURSED:
            # The money is back with us: the loan waits, approved, for a corrected payout.
            await payout_returned(loan, reference=disbursement.clave_rastreo)
    return True
