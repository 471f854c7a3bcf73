"""Each provider's tables are data on its spec, and the mapping code reads them from there."""

from __future__ import annotations

from decimal import Decimal

import pytest

from puente.providers.catalogue import BUILTIN_SPECS, CONEKTA, PAYPAL, STRIPE
from puente.providers.errors import InsufficientFunds, MalformedResponse, PaymentDeclined
from puente.providers.paypal_mapping import decline_for_response_code
from puente.providers.paypal_webhooks import normalise_paypal_event
from puente.providers.stripe_mapping import stripe_settlement, stripe_transaction
from puente.providers.tables import ProviderTables
from puente.providers.values import EventKind


@pytest.mark.parametrize("spec", BUILTIN_SPECS, ids=[s.name for s in BUILTIN_SPECS])
def test_every_builtin_spec_carries_its_own_tables(spec) -> None:
    assert isinstance(spec.tables, ProviderTables)
    assert spec.tables.provider == spec.name


def test_tables_cannot_be_changed_under_a_running_connector() -> None:
    assert STRIPE.tables is not None
    with pytest.raises(TypeError):
        STRIPE.tables.methods["klarna"] = None  # type: ignore[index]


def test_decline_codes_and_event_kinds_come_from_the_spec() -> None:
    assert PAYPAL.tables is not None
    assert decline_for_response_code("5120") == PAYPAL.tables.declines["5120"]
    assert decline_for_response_code("5120")[0] is InsufficientFunds
    assert decline_for_response_code("7777") == (PaymentDeclined, "7777")
    event_type = "VAULT.PAYMENT-TOKEN.CREATED"
    assert PAYPAL.tables.event_kind(event_type) is EventKind.IGNORED
    event = {"id": "WH-9", "event_type": event_type, "create_time": "2024-05-02T18:00:00Z"}
    assert normalise_paypal_event(event).kind is EventKind.IGNORED
    assert PAYPAL.tables.event_kind("SOMETHING.NEW") is EventKind.UNKNOWN


def test_payouts_and_balance_lines_are_read_through_the_field_tables() -> None:
    payout = {"id": "po_1", "amount": 15000, "status": "paid", "created": 1714672800}
    settlement = stripe_settlement({**payout, "arrival_date": 1714759200})
    assert (settlement.provider_id, settlement.amount) == ("po_1", Decimal("150.00"))
    assert settlement.currency == "MXN" and settlement.arrival_date is not None
    line = stripe_transaction(
        {
            "id": "txn_1",
            "type": "charge",
            "amount": 15000,
            "fee": 450,
            "net": 14550,
            "status": "available",
            "created": 1714672800,
            "source": {"id": "ch_1"},
        },
        "po_1",
    )
    assert (line.fee, line.net, line.source_id, line.settlement_id) == (
        Decimal("4.50"),
        Decimal("145.50"),
        "ch_1",
        "po_1",
    )
    assert CONEKTA.tables is not None
    with pytest.raises(MalformedResponse, match="created_at"):
        CONEKTA.tables.settlement_from({"id": "tr_1", "amount": 1, "status": "paid"})


def test_a_status_missing_from_the_table_is_a_malformed_answer() -> None:
    assert STRIPE.tables is not None
    with pytest.raises(MalformedResponse):
        STRIPE.tables.status("teleported")
