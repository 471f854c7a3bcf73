"""Disbursement by SPEI through STP: sent, settled by callback, loan activated and posted once."""

from __future__ import annotations

from datetime import date
from decimal import Decimal

import httpx
import pyotp
import pytest
from tests.support import factories
from tests.support.gateways import sandboxes
from tests.support.http import app_client

from puente.enums import DisbursementStatus, JournalKind, LoanStatus
from puente.enums import LedgerAccountType as T
from puente.ledger.entries import AccountRef
from puente.ledger.models import JournalEntry
from puente.ledger.posting import account_balance
from puente.loans.lifecycle import approve_loan
from puente.loans.models import Loan
from puente.loans.origination import originate_loan
from puente.payments.checkout import PaymentRefused
from puente.payments.disbursements import disburse_loan
from puente.payments.gateways import store_credentials
from puente.payments.models import Disbursement
from puente.providers.circuit import DEFAULT_BREAKERS
from puente_sandbox.stp_keys import DEFAULT_STP_CREDENTIALS

pytestmark = pytest.mark.anyio


@pytest.fixture(autouse=True)
def closed_circuits():
    # An outage injected in one test must not leave the next one's circuit open.
    DEFAULT_BREAKERS.clear()
    yield
    DEFAULT_BREAKERS.clear()


STP = {**DEFAULT_STP_CREDENTIALS, "webhook_allowlist": "127.0.0.1/32"}
CLABE = "012180001234567899"  # BBVA, valid check digit
STAFF_TOTP = "JBSWY3DPEHPK3PXPJBSWY3DPEHPK3PXP"  # factories.enrolled_staff's default secret


async def setup(runtime):
    inst = await factories.institution()
    ana = await factories.user(runtime, inst)
    staff, _ = await factories.enrolled_staff(runtime, inst)
    product = await factories.product(inst, opening_fee_rate=Decimal("0.02"))
    loan = await originate_loan(
        product=product,
        borrower_id=ana.id,
        principal=Decimal("12000.00"),
        term_count=12,
        start_date=date(2026, 11, 27),
    )
    await approve_loan(loan)
    await store_credentials(runtime, inst.id, "stp", STP)
    box = sandboxes(runtime, {"stp": STP})
    client = app_client(runtime, gateways=box.gateways, run_workers=False)
    box.inbox.target = client._transport
    return staff, loan, box, client


async def test_disbursement_is_sent_then_settled_by_the_stp_callback(db, runtime):
    staff, loan, box, client = await setup(runtime)
    async with client:
        sent = await disburse_loan(
            runtime, box.gateways, staff, loan.id, clabe=CLABE, beneficiary_name="Ana Prueba"
        )
        assert sent.status == DisbursementStatus.SENT
        assert (await Loan.get(id=loan.id)).status == LoanStatus.DISBURSED
        async with httpx.AsyncClient(
            transport=httpx.ASGITransport(app=box.app), base_url="http://sandbox.test"
        ) as sandbox:
            assert (await sandbox.post("/stp/_settle")).is_success
        await client._transport.app.state.inbox.process_due()
        again = await disburse_loan(
            runtime, box.gateways, staff, loan.id, clabe=CLABE, beneficiary_name="Ana Prueba"
        )
    settled = await Disbursement.get(id=sent.id)
    assert settled.status == DisbursementStatus.SETTLED and again.id == sent.id
    assert (await Loan.get(id=loan.id)).status == LoanStatus.ACTIVE
    assert await JournalEntry.filter(kind=JournalKind.DISBURSEMENT).count() == 1
    inst = loan.institution_id
    paid_out = 12000_00 - loan.opening_fee_centavos - loan.opening_fee_vat_centavos
    assert settled.amount_centavos == paid_out
    assert await account_balance(AccountRef(inst, T.BANK)) == -paid_out
    assert await account_balance(AccountRef(inst, T.LOAN_PRINCIPAL, loan_id=loan.id)) == 12000_00
    assert CLABE not in settled.clabe_enc and settled.clabe_last4 == "7899"


@pytest.mark.parametrize(
    ("clabe", "code"), [("012180001234567890", "INVALID_CLABE"), ("123", "INVALID_CLABE")]
)
async def test_a_bad_clabe_is_refused_before_any_money_moves(db, runtime, clabe, code):
    staff, loan, box, client = await setup(runtime)
    with pytest.raises(PaymentRefused) as refused:
        await disburse_loan(
            runtime, box.gateways, staff, loan.id, clabe=clabe, beneficiary_name="Ana"
        )
    assert refused.value.code == code
    assert await Disbursement.all().count() == 0
    assert (await Loan.get(id=loan.id)).status == LoanStatus.APPROVED


async def test_borrowers_cannot_disburse(db, runtime):
    staff, loan, box, client = await setup(runtime)
    borrower = await loan.borrower
    with pytest.raises(PaymentRefused) as refused:
        await disburse_loan(
            runtime, box.gateways, borrower, loan.id, clabe=CLABE, beneficiary_name="Ana"
        )
    assert refused.value.code == "FORBIDDEN"


async def test_approving_an_application_over_graphql_sends_the_money(db, runtime):
    from tests.support.http import graphql

    from puente.graphql.types import encode_global_id
    from puente.loans.origination import originate_loan

    staff, approved, box, client = await setup(runtime)
    product = await factories.product(await approved.institution)
    application = await originate_loan(
        product=product,
        borrower_id=approved.borrower_id,
        principal=Decimal("5000.00"),
        term_count=6,
        start_date=date(2026, 11, 27),
    )
    query = """mutation($id: ID!) { approveLoan(loanId: $id, clabe: "012180001234567899",
      beneficiaryName: "Ana Prueba") { __typename
      ... on DisbursementCreated { disbursement { status claveRastreo clabeLast4 } }
      ... on PaymentError { code } } }"""
    async with client:
        login = await graphql(
            client,
            'mutation($o: String) { login(email: "caja@example.mx", '
            'password: "contrasena-segura-1", otp: $o) { ... on AuthTokens { accessToken } } }',
            {"o": pyotp.TOTP(STAFF_TOTP).at(runtime.now())},
        )
        token = login["data"]["login"]["accessToken"]
        data = await graphql(
            client, query, {"id": encode_global_id("Loan", application.id)}, token=token
        )
    made = data["data"]["approveLoan"]["disbursement"]
    assert made["status"] == "sent" and made["clabeLast4"] == "7899"
    assert (await Loan.get(id=application.id)).status == LoanStatus.DISBURSED


# -- a payout that failed can be sent again; a live one never twice -------------------------


async def _settle_all(box, client) -> None:
    async with httpx.AsyncClient(
        transport=httpx.ASGITransport(app=box.app), base_url="http://sandbox.test"
    ) as sandbox:
        assert (await sandbox.post("/stp/_settle")).is_success
    await client._transport.app.state.inbox.process_due()


async def _disburse(runtime, box, staff, loan, clabe=CLABE):
    return await disburse_loan(
        runtime, box.gateways, staff, loan.id, clabe=clabe, beneficiary_name="Ana Prueba"
    )


async def test_a_refused_payout_is_sent_again_to_a_corrected_clabe(db, runtime):
    from puente.audit.models import AuditEvent

    staff, loan, box, client = await setup(runtime)
    async with client:
        refused = await _disburse(runtime, box, staff, loan, clabe=STP["cuenta"])  # STP: -24
        assert refused.status == DisbursementStatus.FAILED
        assert (await Loan.get(id=loan.id)).status == LoanStatus.APPROVED
        retried = await _disburse(runtime, box, staff, loan)
        assert retried.id != refused.id and retried.clave_rastreo != refused.clave_rastreo
        assert retried.status == DisbursementStatus.SENT and retried.clabe_last4 == "7899"
        assert (await Loan.get(id=loan.id)).status == LoanStatus.DISBURSED
        await _settle_all(box, client)
    assert (await Loan.get(id=loan.id)).status == LoanStatus.ACTIVE
    assert (await Disbursement.get(id=refused.id)).status == DisbursementStatus.FAILED
    assert await JournalEntry.filter(kind=JournalKind.DISBURSEMENT).count() == 1
    requested = await AuditEvent.filter(action="loan.disbursement_requested").count()
    assert requested == 2  # every attempt is audited


async def test_a_returned_payout_reopens_the_loan_and_can_be_sent_again(db, runtime):
    from puente_sandbox.stp_state import RETURN_CLABE

    staff, loan, box, client = await setup(runtime)
    async with client:
        first = await _disburse(runtime, box, staff, loan, clabe=RETURN_CLABE)
        assert first.status == DisbursementStatus.SENT
        await _settle_all(box, client)  # the receiving bank sends it back
        assert (await Disbursement.get(id=first.id)).status == DisbursementStatus.RETURNED
        assert (await Loan.get(id=loan.id)).status == LoanStatus.APPROVED
        second = await _disburse(runtime, box, staff, loan)
        assert second.id != first.id and second.status == DisbursementStatus.SENT
        await _settle_all(box, client)
    assert (await Disbursement.get(id=second.id)).status == DisbursementStatus.SETTLED
    assert (await Loan.get(id=loan.id)).status == LoanStatus.ACTIVE
    assert await JournalEntry.filter(kind=JournalKind.DISBURSEMENT).count() == 1
    assert (
        await account_balance(AccountRef(loan.institution_id, T.BANK))
        == -(await Disbursement.get(id=second.id)).amount_centavos
    )


async def test_a_payout_in_flight_is_never_sent_twice_even_to_another_clabe(db, runtime):
    import asyncio

    from puente_sandbox.stp_state import RETURN_CLABE

    staff, loan, box, client = await setup(runtime)
    async with client:
        made = await asyncio.gather(
            *[_disburse(runtime, box, staff, loan) for _ in range(3)],
            _disburse(runtime, box, staff, loan, clabe=RETURN_CLABE),
        )
    assert len({d.id for d in made}) == 1
    assert await Disbursement.all().count() == 1
    assert len([o for o in box.simulator("stp").state.orders()]) == 1


async def test_a_payout_whose_answer_was_lost_is_sent_again_with_the_same_clave(db, runtime):
    staff, loan, box, client = await setup(runtime)
    box.simulator("stp").faults.fail_next = 3  # the bank is down: outcome unknown
    async with client:
        pending = await _disburse(runtime, box, staff, loan)
        assert pending.status == DisbursementStatus.PENDING
        again = await _disburse(runtime, box, staff, loan)
    assert again.id == pending.id and again.clave_rastreo == pending.clave_rastreo
    assert again.status == DisbursementStatus.SENT
    assert (await Loan.get(id=loan.id)).status == LoanStatus.DISBURSED
    assert len(box.simulator("stp").state.orders()) == 1
