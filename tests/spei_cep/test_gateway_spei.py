"""SPEI through Stripe, Conekta, Openpay and Mercado Pago: the clave de rastreo each simulator
shows in its own wire format reaches the normalised payment, and Banxico's CEP validates it."""

from __future__ import annotations

import json
from datetime import UTC, datetime
from decimal import Decimal

import httpx
import pytest
from tests.support import factories

from puente.cep.banxico import BanxicoCep
from puente.cep.models import CepCheck, CepStatus
from puente.cep.service import check_due_ceps, open_cep_checks
from puente.enums import PaymentMethodType, ProviderName
from puente.enums import PaymentStatus as S
from puente.institutions.models import Institution
from puente.invoicing.worker import gateway_payments
from puente.payments.gateways import GatewayDirectory, store_credentials
from puente.payments.outcomes import advance_and_notify
from puente.providers.base import CustomerInfo, ReferenceRequest
from puente.providers.spei_tracking import (
    MERCADOPAGO_SPEI,
    OPENPAY_SPEI,
    STRIPE_SPEI,
    SpeiTrackingPaths,
    read_spei_transfer,
)
from puente.sandbox_hook import demo_credentials
from puente.webhooks.models import ProviderEvent
from puente_sandbox.app import create_sandbox_app
from puente_sandbox.spei_payers import SENDER_BANK, gateway_speis

pytestmark = pytest.mark.anyio
GATEWAYS = ("stripe", "conekta", "openpay", "mercadopago")
AMOUNT = Decimal("1240.35")


class World:
    """One lender with an account at each gateway simulator, on the test's clock."""

    def __init__(self, runtime) -> None:
        creds = demo_credentials()
        self.credentials = {name: creds[name] for name in GATEWAYS}
        self.app = create_sandbox_app(
            self.credentials, None, clock=lambda: runtime.now().timestamp()
        )
        transport = httpx.ASGITransport(app=self.app)
        self.gateways = GatewayDirectory(
            runtime,
            transport_for=lambda provider: transport,
            base_url_for=lambda provider: f"http://sandbox.test/{provider}",
        )
        self.runtime = runtime

    def simulator(self, name: str):
        return self.app.state.simulators[name]

    async def lender(self) -> Institution:
        inst = await factories.institution()
        for name, values in self.credentials.items():
            await store_credentials(self.runtime, inst.id, name, values)
        return inst

    async def paid_spei(self, inst: Institution, provider: str):
        """A SPEI reference at ``provider`` that the payer pays; (its id, the connector)."""
        connector = await self.gateways.gateway(inst, provider)
        created = await connector.create_spei_reference(
            ReferenceRequest(
                amount=AMOUNT,
                idempotency_key=f"spei-{provider}",
                customer=CustomerInfo(name="Ana Prueba", email="ana@example.mx"),
            )
        )
        self.simulator(provider).pay_reference(created.provider_id)
        return created.provider_id, connector

    def transfer(self, provider: str) -> dict:
        [sent] = self.simulator(provider).state.store.all("spei_transfers")
        return sent


@pytest.mark.parametrize("provider", GATEWAYS)
async def test_the_normalised_payment_names_the_transfer_the_payer_sent(db, runtime, provider):
    world = World(runtime)
    inst = await world.lender()
    reference, connector = await world.paid_spei(inst, provider)
    sent = world.transfer(provider)
    current = await connector.get_payment(reference)
    if provider == "stripe":
        # Stripe tells it on the customer's cash balance, not on the PaymentIntent.
        assert current.spei is None
        funded = next(
            t
            for t in world.simulator("stripe").state.store.all("cash_balance_transactions")
            if t["type"] == "funded"
        )
        instructions = world.simulator("stripe").state.store.all("events")
        waiting = next(
            e["data"]["object"]
            for e in instructions
            if e["type"] == "payment_intent.requires_action"
        )
        spei = read_spei_transfer(STRIPE_SPEI, funded, waiting)
    else:
        spei = current.spei
    assert spei is not None and spei.complete
    assert spei.clave_rastreo == sent["clave_rastreo"]
    assert (spei.sender_bank, spei.receiver_bank) == (SENDER_BANK, "90646")
    assert spei.beneficiary_account == sent["cuenta"]


def _stored(provider: str, event: dict, inst: Institution, payment_id: str | None):
    return ProviderEvent.create(
        provider=ProviderName(provider),
        event_id=str(event.get("id") or event.get("type")),
        event_type=str(event.get("type")),
        institution_id=inst.id,
        provider_payment_id=payment_id,
        raw_body=json.dumps(event, default=str),
    )


async def _puente_payment(runtime, inst, provider: str, reference: str):
    borrower = await factories.user(runtime, inst)
    loan = await factories.active_loan(inst, borrower)
    payment = await factories.payment(
        loan,
        key=f"spei-{provider}",
        provider=ProviderName(provider),
        provider_reference=reference,
        method=PaymentMethodType.SPEI,
        amount_centavos=124035,
    )
    await advance_and_notify(runtime, payment.id, S.PAID, source="test", at=runtime.now())
    return payment


@pytest.mark.parametrize("provider", GATEWAYS)
async def test_banxico_validates_a_gateway_spei(db, runtime, clock, banxico, provider):
    banxico_simulator, base = banxico
    clock.now = datetime(2026, 11, 27, 18, 0, tzinfo=UTC)
    world = World(runtime)
    inst = await world.lender()
    reference, _ = await world.paid_spei(inst, provider)
    if provider == "stripe":  # what Stripe's webhooks delivered, as the inbox stores them
        for event in world.simulator("stripe").state.store.all("events"):
            pi = event["data"]["object"].get("object") == "payment_intent"
            await _stored("stripe", event, inst, reference if pi else None)
    elif provider == "conekta":  # order.paid carries the order and its charges
        order = world.simulator("conekta").state.store.get("orders", reference)
        body = {"id": "evt_1", "type": "order.paid", "data": {"object": order}}
        await _stored("conekta", body, inst, reference)
    elif provider == "openpay":
        charge = world.simulator("openpay").state.store.get("charges", reference)
        body = {"type": "charge.succeeded", "event_date": "x", "transaction": charge}
        await _stored("openpay", body, inst, reference)
    else:  # Mercado Pago's notification names only the payment: the connector is asked
        body = {"type": "payment", "action": "payment.updated", "data": {"id": reference}}
        await _stored("mercadopago", body, inst, reference)
    payment = await _puente_payment(runtime, inst, provider, reference)
    banxico_simulator.sources.append(gateway_speis(world.simulator(provider)))
    try:
        asks = gateway_payments(world.gateways) if provider == "mercadopago" else None
        assert await open_cep_checks(runtime, asks) == 1
        check = await CepCheck.get(payment_id=payment.id)
        assert check.status == CepStatus.PENDING
        assert check.query["clave_rastreo"] == world.transfer(provider)["clave_rastreo"]
        validated = await check_due_ceps(runtime, BanxicoCep(base))
    finally:
        banxico_simulator.sources.pop()
    await check.refresh_from_db()
    assert validated == [payment.id] and check.status == CepStatus.VALIDATED
    assert check.ordenante_name.upper() == "ANA PRUEBA"


async def test_mercadopago_notification_alone_is_sin_datos_without_asking(db, runtime):
    world = World(runtime)
    inst = await world.lender()
    reference, _ = await world.paid_spei(inst, "mercadopago")
    body = {"type": "payment", "data": {"id": reference}}
    await _stored("mercadopago", body, inst, reference)
    payment = await _puente_payment(runtime, inst, "mercadopago", reference)
    await open_cep_checks(runtime)
    assert (await CepCheck.get(payment_id=payment.id)).status == CepStatus.NO_DATA


async def test_an_institution_points_an_unconfirmed_path_elsewhere(db, runtime):
    """The paths are data: a lender whose Openpay account names the key differently says so."""
    world = World(runtime)
    inst = await world.lender()
    reference, _ = await world.paid_spei(inst, "openpay")
    charge = world.simulator("openpay").state.store.get("charges", reference)
    charge["payment_method"]["clave_rastreo"] = charge["payment_method"].pop("tracking_key")
    await _stored("openpay", {"type": "charge.succeeded", "transaction": charge}, inst, reference)
    payment = await _puente_payment(runtime, inst, "openpay", reference)
    inst.settings = {
        **(inst.settings or {}),
        "spei_tracking": {"openpay": {"clave_rastreo": "payment_method.clave_rastreo"}},
    }
    await inst.save()
    await open_cep_checks(runtime)
    check = await CepCheck.get(payment_id=payment.id)
    assert check.status == CepStatus.PENDING
    assert check.query["clave_rastreo"] == world.transfer("openpay")["clave_rastreo"]


@pytest.mark.parametrize(
    ("paths", "obj", "expected"),
    [
        (OPENPAY_SPEI, {"payment_method": {"clabe": "646180157000000012"}}, None),
        (
            OPENPAY_SPEI,
            {
                "payment_method": {
                    "tracking_key": "BB1",
                    "sender_bank_code": "40002",
                    "clabe": "646180157000000012",
                }
            },
            ("BB1", "40002", "90646"),
        ),
        (  # the sending bank from the payer's CLABE (ABM 012 → Banxico 40012)
            MERCADOPAGO_SPEI,
            {
                "point_of_interaction": {
                    "transaction_data": {
                        "bank_info": {
                            "payer": {"tracking_key": "MB2", "account_id": "012180001234567899"},
                            "collector": {"account_id": "722969010000000001"},
                        }
                    }
                }
            },
            ("MB2", "40012", "90722"),
        ),
    ],
)
def test_reading_the_paths(paths: SpeiTrackingPaths, obj: dict, expected):
    spei = read_spei_transfer(paths, obj)
    if expected is None:
        assert spei is None
    else:
        assert spei is not None
        assert (spei.clave_rastreo, spei.sender_bank, spei.receiver_bank) == expected
