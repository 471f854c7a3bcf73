"""Which methods and providers an institution offers, and the amounts a borrower can pick."""

from __future__ import annotations

from datetime import date
from decimal import Decimal

import pytest
from tests.support import factories

from puente.enums import LedgerAccountType as T
from puente.enums import PaymentMethodType as M
from puente.enums import ProviderName as P
from puente.ledger.entries import AccountRef, Line
from puente.loans.state import load_loan_views
from puente.payments.offer import (
    AmountChoice,
    PaymentOption,
    chosen_amount,
    installment_totals,
    payment_options,
)
from puente.payments.receipt import fold_application


def test_defaults_card_and_spei_by_stripe_cash_by_conekta_paypal_by_paypal():
    assert payment_options({}) == (
        PaymentOption(M.CARD, P.STRIPE),
        PaymentOption(M.SPEI, P.STRIPE),
        PaymentOption(M.CASH, P.CONEKTA, Decimal("10000.00")),  # OXXO's ceiling, its spec's
        PaymentOption(M.PAYPAL, P.PAYPAL),
    )


def test_an_institution_can_offer_several_providers_hide_a_method_and_typos_are_ignored():
    options = payment_options(
        {
            "payment_providers": {
                "card": ["openpay", "stripe", "visa"],
                "paypal": [],
                "cash": "openpay",
            }
        }
    )
    assert [o.key for o in options] == [
        "card:openpay",
        "card:stripe",
        "spei:stripe",
        "cash:openpay",
    ]
    assert options[-1].limit == Decimal("9999.99")  # Paynet's, from Openpay's spec


def test_a_provider_is_offered_only_for_the_methods_its_spec_offers():
    # STP takes SPEI only: naming it for cash or cards offers nothing rather than a dead end.
    options = payment_options(
        {"payment_providers": {"card": ["stp"], "spei": ["stp"], "cash": ["stp"], "paypal": []}}
    )
    assert [o.key for o in options] == ["spei:stp"]


@pytest.mark.anyio
async def test_installment_totals_add_up_the_next_open_installments(db, runtime):
    inst = await factories.institution()
    ana = await factories.user(runtime, inst)
    loan = await factories.active_loan(inst, ana, start=date(2026, 11, 2), term_count=3)
    (view,) = await load_loan_views([loan], date(2026, 11, 27))
    totals = installment_totals(view)
    amounts = [i.outstanding for i in view.installments]
    assert totals == [(1, amounts[0]), (2, amounts[0] + amounts[1]), (3, sum(amounts))]


def test_the_amount_is_the_next_installment_several_of_them_or_what_the_payer_typed():
    totals = [(1, Decimal("1240.35")), (2, Decimal("2480.70"))]
    assert chosen_amount(AmountChoice(), totals) == Decimal("1240.35")
    assert chosen_amount(AmountChoice("varios", count="2"), totals) == Decimal("2480.70")
    assert chosen_amount(AmountChoice("otro", other="1,250.00 MXN"), totals) == Decimal("1250.00")
    assert chosen_amount(AmountChoice("otro", other="99.50"), []) == Decimal("99.50")


@pytest.mark.parametrize(
    ("choice", "totals", "message"),
    [
        (AmountChoice("otro", other="mil pesos"), [(1, Decimal("1"))], "Escribe un monto válido"),
        (AmountChoice("otro", other="1.005"), [], "Escribe un monto válido"),
        (AmountChoice("proximo"), [], "no tiene pagos pendientes"),
        (AmountChoice("varios", count="3"), [(1, Decimal("1")), (2, Decimal("2"))], "cuántos"),
        (AmountChoice("varios", count="0"), [(1, Decimal("1"))], "cuántos"),
        (AmountChoice("varios", count="²"), [(1, Decimal("1")), (2, Decimal("2"))], "cuántos"),
    ],
)
def test_an_amount_that_is_not_one_is_a_spanish_message(choice, totals, message):
    answer = chosen_amount(choice, totals)
    assert isinstance(answer, str) and message in answer


def test_the_receipt_reads_the_application_from_the_ledger_lines():
    def loan_account(kind):
        return AccountRef(1, kind, loan_id=7)

    lines = [
        Line(AccountRef(1, T.CASH_CLEARING, provider=P.STRIPE), 150_000),
        Line(loan_account(T.LOAN_INTEREST), -30_000, 1, "INTEREST"),
        Line(loan_account(T.LOAN_INTEREST_VAT), -4_800, 1, "INTEREST_VAT"),
        Line(AccountRef(1, T.VAT_UNCOLLECTED), 4_800),
        Line(AccountRef(1, T.VAT_PAYABLE), -4_800),
        Line(loan_account(T.LOAN_PRINCIPAL), -90_000, 1, "PRINCIPAL"),
        Line(loan_account(T.LOAN_PRINCIPAL), -20_000, 2, "PRINCIPAL"),
        Line(loan_account(T.LOAN_ADVANCE), -5_200),
    ]
    application = fold_application(lines)
    first, second = application.installments
    assert (first.number, first.principal, first.interest, first.vat) == (
        1,
        Decimal("900.00"),
        Decimal("300.00"),
        Decimal("48.00"),
    )
    assert first.total == Decimal("1248.00") and second.total == Decimal("200.00")
    assert application.advance == Decimal("52.00") and application.unapplied == 0


def test_the_payoff_today_is_an_amount_the_payer_can_pick():
    totals = [(1, Decimal("1240.35"))]
    assert chosen_amount(AmountChoice(kind="liquidar"), totals, Decimal("12100.50")) == Decimal(
        "12100.50"
    )
    assert isinstance(chosen_amount(AmountChoice(kind="liquidar"), totals, None), str)


@pytest.mark.anyio
async def test_no_bundle_is_offered_above_the_most_that_may_be_paid_today(db, runtime):
    from puente.loans.payable import payable_amount

    inst = await factories.institution()
    ana = await factories.user(runtime, inst)
    loan = await factories.active_loan(inst, ana, start=date(2026, 11, 2), term_count=3)
    today = date(2026, 11, 27)
    (view,) = await load_loan_views([loan], today)
    maximum = (await payable_amount(loan, today)).maximum
    totals = installment_totals(view, maximum)
    assert totals and all(amount <= maximum for _, amount in totals)
    assert len(totals) < len(installment_totals(view))  # all three exceed the payoff today
