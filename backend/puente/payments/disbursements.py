"""Paying a loan out by SPEI (STP or a bank API) and activating it when the money lands.

    approved ──send_spei──► disbursed (transfer SENT) ──estado LQ/Exito──► active (+ ledger)
                                   └──────────────devuelta/rechazada──► transfer RETURNED

The clave de rastreo is derived from the disbursement id, so a retry after a timeout carries
the same clave and the bank refuses a second order instead of paying twice.
"""

from __future__ import annotations

import logging
from datetime import datetime

from tortoise.transactions import in_transaction

from puente.accounts.models import User
from puente.audit.service import record_audit
from puente.compliance.kyc import KycError, validate_clabe
from puente.enums import DisbursementStatus as D
from puente.enums import LoanStatus, ProviderName, Role
from puente.institutions.models import Institution
from puente.loans.lifecycle import LoanLifecycleError, approve_loan, start_disbursement
from puente.loans.models import Loan
from puente.loans.service import record_disbursement
from puente.money import from_centavos
from puente.payments.checkout import PaymentRefused
from puente.payments.gateways import GatewayDirectory
from puente.payments.models import Disbursement
from puente.providers.errors import InvalidRequest, ProviderError
from puente.providers.values import SpeiTransferRequest, TransferStatus
from puente.runtime import MEXICO_CITY, Runtime

__all__ = ["CLABE_CONTEXT", "approve_and_disburse", "disburse_loan", "settle_disbursement"]

logger = logging.getLogger("puente.disbursements")

CLABE_CONTEXT = "disbursements.clabe"
BANKS = (ProviderName.STP, ProviderName.BANK)


def _clave_rastreo(disbursement_id: int) -> str:
    return f"PTEDSB{disbursement_id:012d}"  # alphanumeric, ≤30, unique per sender


async def disburse_loan(
    runtime: Runtime,
    gateways: GatewayDirectory,
    actor: User,
    loan_id: int,
    *,
    clabe: str,
    beneficiary_name: str,
    provider: ProviderName = ProviderName.STP,
) -> Disbursement:
    """Send an approved loan's money to the borrower's CLABE (staff only)."""
    if Role(actor.role) not in (Role.STAFF, Role.ADMIN):
        raise PaymentRefused("FORBIDDEN", "Solo el personal puede dispersar créditos.")
    if provider not in BANKS:
        raise PaymentRefused("PROVIDER_NOT_A_BANK", "La dispersión se hace por STP o banco.")
    loan = await Loan.filter(id=loan_id, institution_id=actor.institution_id).first()
    if loan is None:
        raise PaymentRefused("LOAN_NOT_FOUND", "El crédito no existe.")
    existing = await Disbursement.filter(loan_id=loan.id).first()
    if existing is not None:
        return existing  # one payout per loan: a second click returns the first
    if LoanStatus(loan.status) is not LoanStatus.APPROVED:
        raise PaymentRefused("LOAN_NOT_APPROVED", "Solo se dispersan créditos aprobados.")
    try:
        account = validate_clabe(clabe)
    except KycError as exc:
        raise PaymentRefused("INVALID_CLABE", exc.message_es) from None
    name = " ".join(beneficiary_name.split())[:120]
    if not name:
        raise PaymentRefused("BENEFICIARY_REQUIRED", "Falta el nombre del beneficiario.")
    amount = loan.principal_centavos - loan.opening_fee_centavos - loan.opening_fee_vat_centavos
    async with in_transaction() as tx:
        existing = await Disbursement.filter(loan_id=loan.id).using_db(tx).first()
        if existing is not None:
            return existing  # one payout per loan: a second click returns the first
        disbursement = await Disbursement.create(
            institution_id=loan.institution_id,
            loan_id=loan.id,
            provider=provider,
            amount_centavos=amount,
            clabe_enc=runtime.cipher.encrypt(account.clabe, context=CLABE_CONTEXT),
            clabe_last4=account.clabe[-4:],
            beneficiary_name=name,
            clave_rastreo=f"tmp-{loan.id}",
            using_db=tx,
        )
        disbursement.clave_rastreo = _clave_rastreo(disbursement.id)
        await disbursement.save(using_db=tx, update_fields=["clave_rastreo"])
        await record_audit(
            "loan.disbursement_requested",
            actor_id=actor.id,
            institution_id=loan.institution_id,
            subject_type="loan",
            subject_id=loan.id,
            data={"amount": str(from_centavos(amount)), "clabe": account.masked},
            conn=tx,
        )
    await _send(runtime, gateways, actor, loan, disbursement, account.clabe)
    return await Disbursement.get(id=disbursement.id)


async def approve_and_disburse(
    runtime: Runtime,
    gateways: GatewayDirectory,
    actor: User,
    loan_id: int,
    *,
    clabe: str,
    beneficiary_name: str,
    provider: ProviderName = ProviderName.STP,
) -> Disbursement:
    """Credit committee says yes and the money goes out: application → approved → SPEI."""
    if Role(actor.role) not in (Role.STAFF, Role.ADMIN):
        raise PaymentRefused("FORBIDDEN", "Solo el personal puede aprobar créditos.")
    try:
        validate_clabe(clabe)  # refuse before approving, so a typo changes nothing
    except KycError as exc:
        raise PaymentRefused("INVALID_CLABE", exc.message_es) from None
    loan = await Loan.filter(id=loan_id, institution_id=actor.institution_id).first()
    if loan is None:
        raise PaymentRefused("LOAN_NOT_FOUND", "El crédito no existe.")
    if LoanStatus(loan.status) is LoanStatus.APPLICATION:
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


async def _send(runtime, gateways, actor, loan: Loan, disbursement: Disbursement, clabe: str):
    institution = await Institution.get(id=loan.institution_id)
    connector = await gateways.connector(institution, disbursement.provider.value)
    request = SpeiTransferRequest(
        amount=from_centavos(disbursement.amount_centavos),
        clabe=clabe,
        beneficiary_name=disbursement.beneficiary_name,
        concept=f"Credito {loan.id}",
        idempotency_key=disbursement.clave_rastreo,
        reference=str(loan.id % 10_000_000),
    )
    try:
        transfer = await connector.send_spei(request)
    except InvalidRequest as exc:
        await Disbursement.filter(id=disbursement.id).update(
            status=D.FAILED, failure_message=(exc.provider_message or str(exc))[:300]
        )
        return
    except ProviderError as exc:
        # Outcome unknown: stays PENDING; a retry sends the same clave de rastreo.
        logger.warning("disbursement %s not confirmed: %s", disbursement.id, exc.code)
        return
    await Disbursement.filter(id=disbursement.id).update(
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
    return True
