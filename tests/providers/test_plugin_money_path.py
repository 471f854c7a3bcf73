"""A plug-in provider's money goes through the core like a built-in's.

Stored provider names are plain text checked at the doors (docs/providers.md): code reading
them back must not turn them into the built-ins' ``ProviderName`` enum (a plug-in's name is
not in it), and a door that needs a capability (keeping cards, sending SPEI payouts) asks the
provider's spec, refusing a name no registered provider has with the usual error value.
The toy plug-ins (``toy_provider.py``) are installed by their entry points (``toy_installed``).
"""

from __future__ import annotations

from datetime import UTC, date, datetime
from decimal import Decimal

import pyotp
import pytest
from tests.providers.toy_provider import ToyBankConnector
from tests.reconciliation.samples import movement, write
from tests.support import factories
from tests.support.books import books_total, institution_balance
from tests.support.gateways import STRIPE, sandboxes
from tests.support.http import app_client, graphql

from puente.collections.cards import save_card
from puente.collections.errors import CollectionRefused
from puente.enums import DisbursementStatus, LoanStatus, PaymentMethodType
from puente.enums import LedgerAccountType as T
from puente.enums import PaymentStatus as S
from puente.graphql.types import encode_global_id
from puente.invoicing.parts import payment_form_of
from puente.ledger.entries import AccountRef
from puente.ledger.posting import account_balance
from puente.loans.lifecycle import approve_loan
from puente.loans.models import Loan
from puente.loans.origination import originate_loan
from puente.payments.checkout import PaymentRefused
from puente.payments.disbursements import approve_and_disburse, disburse_loan
from puente.payments.gateways import GatewayDirectory, store_credentials
from puente.payments.lifecycle_service import advance_payment
from puente.payments.models import Disbursement, Payment, PaymentMethod
from puente.reconciliation.models import GatewaySettlement
from puente.reconciliation.service import import_and_reconcile

pytestmark = [pytest.mark.anyio, pytest.mark.usefixtures("monitoring_drained")]

AT = datetime(2026, 11, 27, 18, 0, tzinfo=UTC)
CLABE = "012180001234567899"  # BBVA, valid check digit
STAFF_TOTP = "JBSWY3DPEHPK3PXPJBSWY3DPEHPK3PXP"  # factories.enrolled_staff's default secret


async def _clearing(institution_id: int, provider: str) -> int:
    return await account_balance(AccountRef(institution_id, T.CASH_CLEARING, provider=provider))


async def test_a_plug_in_payout_is_reconciled_and_its_payment_invoiced(
    toy_installed: None, db: str, runtime, tmp_path
) -> None:
    inst = await factories.institution()
    ana = await factories.user(runtime, inst)
    loan = await factories.active_loan(inst, ana, start=date(2026, 11, 2))
    payment = await Payment.create(
        institution_id=inst.id,
        loan_id=loan.id,
        user_id=ana.id,
        provider="toy",
        method=PaymentMethodType.CASH,
        amount_centavos=1500_00,
        idempotency_key="toy-cash-1",
        request_fingerprint="x",
        status=S.CREATED,
    )
    await advance_payment(
        payment.id, S.PAID, source="webhook:toy", at=AT, provider_reference="toy_pay_1"
    )
    assert await _clearing(inst.id, "toy") == 1500_00  # the toy holds the payer's money
    # The toy pays out to the bank, keeping its fee and the fee's IVA.
    await GatewaySettlement.create(
        institution_id=inst.id,
        provider="toy",
        provider_id="po_toy_1",
        status="paid",
        gross_centavos=1500_00,
        fee_centavos=45_00,
        fee_vat_centavos=7_20,
        net_centavos=1447_80,
        arrival_date=AT.date(),
        payment_references=["toy_pay_1"],
    )
    deposit = movement(
        "1447.80",
        concept="TOY PAYOUT po_toy_1",
        clave_rastreo="",
        reference="",
        beneficiary_account="",
        bank_reference="PO1",
        value_date=AT.date(),
        booking_date=AT.date(),
    )
    statement = write(tmp_path / "bank.xml", "camt053:02", [deposit])
    summary = await import_and_reconcile(runtime, inst.id, statement, "camt053", at=AT)
    assert (summary.matched, summary.exceptions) == (1, 0)
    assert await _clearing(inst.id, "toy") == 0  # booked against the toy's own clearing
    assert await institution_balance(inst.id, T.PROVIDER_FEES_EXPENSE) == 45_00
    assert await institution_balance(inst.id, T.VAT_CREDITABLE) == 7_20
    assert await books_total() == 0
    # Its CFDI says how the money arrived (cash: 01), whoever carried it.
    assert payment_form_of(await Payment.get(id=payment.id)) == "01"


async def _approved_loan(runtime):
    inst = await factories.institution()
    ana = await factories.user(runtime, inst)
    staff, _ = await factories.enrolled_staff(runtime, inst)
    loan = await originate_loan(
        product=await factories.product(inst),
        borrower_id=ana.id,
        principal=Decimal("12000.00"),
        term_count=12,
        start_date=date(2026, 11, 27),
    )
    await approve_loan(loan)
    return staff, loan


async def test_a_plug_in_bank_pays_a_loan_out(toy_installed: None, db: str, runtime) -> None:
    staff, loan = await _approved_loan(runtime)
    await store_credentials(runtime, loan.institution_id, "toybank", {"api_key": "k"})
    sent = await disburse_loan(
        runtime,
        GatewayDirectory(runtime),
        staff,
        loan.id,
        clabe=CLABE,
        beneficiary_name="Ana Prueba",
        provider="toybank",
    )
    assert (sent.status, sent.provider) == (DisbursementStatus.SENT, "toybank")
    assert ToyBankConnector.sent[-1].idempotency_key == sent.clave_rastreo
    assert (await Loan.get(id=loan.id)).status == LoanStatus.DISBURSED


@pytest.mark.parametrize(
    ("provider", "code"),
    [
        ("toy", "PROVIDER_NOT_A_BANK"),  # a plug-in gateway: its spec says it is no bank
        ("stripe", "PROVIDER_NOT_A_BANK"),
        ("acme", "PROVIDER_NOT_AVAILABLE"),  # no registered provider has that name
    ],
)
async def test_a_payout_through_a_provider_that_sends_none_is_refused(
    toy_installed: None, db: str, runtime, provider: str, code: str
) -> None:
    staff, loan = await _approved_loan(runtime)
    gateways = GatewayDirectory(runtime)
    for action in (disburse_loan, approve_and_disburse):
        with pytest.raises(PaymentRefused) as refused:
            await action(
                runtime,
                gateways,
                staff,
                loan.id,
                clabe=CLABE,
                beneficiary_name="Ana Prueba",
                provider=provider,
            )
        assert refused.value.code == code
    assert await Disbursement.all().count() == 0
    assert (await Loan.get(id=loan.id)).status == LoanStatus.APPROVED


@pytest.mark.parametrize("provider", ["toy", "stp", "acme"])
async def test_saving_a_card_where_the_provider_keeps_none_is_refused(
    toy_installed: None, db: str, runtime, provider: str
) -> None:
    inst = await factories.institution()
    ana = await factories.user(runtime, inst)
    # Even with an account there: the spec (no card vault) decides, not the account.
    if provider != "acme":
        await store_credentials(runtime, inst.id, provider, {"api_key": "k"})
    with pytest.raises(CollectionRefused) as refused:
        await save_card(GatewayDirectory(runtime), ana, provider, "tok_visa")
    assert (refused.value.code, refused.value.field) == ("PROVIDER_NOT_AVAILABLE", "provider")
    assert await PaymentMethod.all().count() == 0


SAVE = """mutation($i: SavePaymentMethodInput!) { savePaymentMethod(input: $i) {
  __typename ... on PaymentError { code message } } }"""
DISBURSE = """mutation($id: ID!, $p: Provider!) { disburseLoan(loanId: $id,
  clabe: "012180001234567899", beneficiaryName: "Ana Prueba", provider: $p) {
  __typename ... on PaymentError { code message } } }"""


async def _token(client, email: str, otp: str | None = None) -> str:
    data = await graphql(
        client,
        "mutation($e: String!, $o: String) { login(email: $e, "
        'password: "contrasena-segura-1", otp: $o) { ... on AuthTokens { accessToken } } }',
        {"e": email, "o": otp},
    )
    return data["data"]["login"]["accessToken"]


async def test_the_graphql_doors_refuse_a_provider_without_the_capability(db: str, runtime) -> None:
    staff, loan = await _approved_loan(runtime)
    await store_credentials(runtime, loan.institution_id, "stripe", STRIPE)
    box = sandboxes(runtime)
    async with app_client(runtime, gateways=box.gateways, run_workers=False) as client:
        ana = await _token(client, "ana@example.mx")
        card = await graphql(
            client, SAVE, {"i": {"provider": "PAYPAL", "cardToken": "tok_visa"}}, token=ana
        )
        staff_token = await _token(client, staff.email, pyotp.TOTP(STAFF_TOTP).at(runtime.now()))
        payout = await graphql(
            client,
            DISBURSE,
            {"id": encode_global_id("Loan", loan.id), "p": "STRIPE"},
            token=staff_token,
        )
    assert card["data"]["savePaymentMethod"]["code"] == "PROVIDER_NOT_AVAILABLE"
    assert payout["data"]["disburseLoan"]["code"] == "PROVIDER_NOT_A_BANK"
    assert await PaymentMethod.all().count() == 0 and await Disbursement.all().count() == 0
    assert (await Loan.get(id=loan.id)).status == LoanStatus.APPROVED
