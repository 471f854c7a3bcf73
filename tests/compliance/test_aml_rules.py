"""Transaction-monitoring rules, table-driven: for each rule a case that fires, one that
does not, and the boundary."""

from __future__ import annotations

from dataclasses import replace
from datetime import UTC, date, datetime, timedelta
from decimal import Decimal

import pytest

from puente.compliance.policy import DEFAULT_POLICY
from puente.compliance.rules import (
    CustomerFacts,
    DisbursementFact,
    FixRates,
    MissingFixRate,
    PaymentFact,
    ReportKind,
    evaluate_disbursement,
    evaluate_payment,
    structuring_linked,
)

FIX = FixRates({date(2026, 10, 1): Decimal("20.0000")})  # 7,500 USD = 150,000 MXN
T0 = datetime(2026, 11, 20, 18, 0, tzinfo=UTC)
ANA = CustomerFacts(
    customer_id=1,
    name="Juana Pérez Martínez",
    rfc="PEMJ900515AB7",
    monthly_income=Decimal("20000"),
    disbursed_at=T0 - timedelta(days=10),
)


def pay(pid: int, amount: str, *, cash: bool = True, at: datetime = T0, **extra) -> PaymentFact:
    return PaymentFact(
        payment_id=pid,
        customer_id=1,
        loan_id=7,
        amount=Decimal(amount),
        cash=cash,
        paid_at=at,
        day=at.date(),
        **extra,
    )


def fired(fact, history=(), customer=ANA, policy=DEFAULT_POLICY) -> set[str]:
    return {draft.rule for draft in evaluate_payment(fact, list(history), customer, FIX, policy)}


H = timedelta(hours=1)
D = timedelta(days=1)

CASES = [
    # rule, fact, history, fires
    ("RELEVANT_CASH", pay(1, "150000.00"), [], True),  # boundary: exactly USD 7,500
    ("RELEVANT_CASH", pay(1, "149999.99"), [], False),
    ("RELEVANT_CASH", pay(1, "200000.00", cash=False), [], False),  # SPEI is not cash
    ("STRUCTURING_DAY", pay(2, "80000.00"), [pay(1, "70000.00", at=T0 - 23 * H)], True),
    ("STRUCTURING_DAY", pay(2, "79999.99"), [pay(1, "70000.00", at=T0 - 23 * H)], False),
    ("STRUCTURING_DAY", pay(2, "80000.00"), [pay(1, "70000.00", at=T0 - 24 * H)], False),
    (
        "STRUCTURING_MONTH",
        pay(3, "120000.00"),
        [pay(1, "120000.00", at=T0 - 29 * D), pay(2, "130000.00", at=T0 - 10 * D)],
        True,
    ),
    (
        "STRUCTURING_MONTH",
        pay(3, "120000.00"),
        [pay(1, "120000.00", at=T0 - 30 * D), pay(2, "130000.00", at=T0 - 10 * D)],
        False,  # the first is exactly 30 days back: outside the window
    ),
    (
        "STRUCTURING_MONTH",
        pay(3, "119999.99"),  # below 80 % of the threshold: not "just under"
        [pay(1, "120000.00", at=T0 - 29 * D), pay(2, "130000.00", at=T0 - 10 * D)],
        False,
    ),
    (
        "MANY_THIRD_PARTY_PAYERS",
        pay(2, "500.00", cash=False, payer_key="b"),
        [pay(1, "500.00", cash=False, payer_key="a", at=T0 - 5 * D)],
        True,
    ),
    (
        "MANY_THIRD_PARTY_PAYERS",
        pay(2, "500.00", cash=False, payer_key="a"),
        [pay(1, "500.00", cash=False, payer_key="a", at=T0 - 5 * D)],
        False,
    ),
    (
        "MANY_THIRD_PARTY_PAYERS",
        pay(2, "500.00", cash=False, payer_key="b"),
        [pay(1, "500.00", cash=False, payer_key="a", at=T0 - 30 * D)],
        False,
    ),
    ("CASH_PAYOFF_AFTER_DISBURSEMENT", pay(1, "9000.00", closes_loan=True), [], True),
    ("CASH_PAYOFF_AFTER_DISBURSEMENT", pay(1, "9000.00", cash=False, closes_loan=True), [], False),
    (
        "CASH_PAYOFF_AFTER_DISBURSEMENT",
        pay(1, "9000.00", closes_loan=True, at=ANA.disbursed_at + 30 * D),  # boundary: day 30
        [],
        True,
    ),
    (
        "CASH_PAYOFF_AFTER_DISBURSEMENT",
        pay(1, "9000.00", closes_loan=True, at=ANA.disbursed_at + 30 * D + H),
        [],
        False,
    ),
    (
        "PREPAYMENT_BEYOND_INCOME",
        pay(1, "60000.01", cash=False, prepaid=Decimal("60000.01")),
        [],
        True,
    ),
    (
        "PREPAYMENT_BEYOND_INCOME",
        pay(1, "60000.00", cash=False, prepaid=Decimal("60000.00")),
        [],
        False,
    ),
    (
        "PREPAYMENT_BEYOND_INCOME",
        pay(2, "30000.00", cash=False, prepaid=Decimal("30000.00")),
        [pay(1, "30000.01", cash=False, prepaid=Decimal("30000.01"), at=T0 - 29 * D)],
        True,
    ),
    (
        "CEP_ORDENANTE_MISMATCH",
        pay(1, "500.00", cash=False, cep_ordenante_name="Pedro Sánchez Ruiz"),
        [],
        True,
    ),
    (
        "CEP_ORDENANTE_MISMATCH",
        pay(
            1,
            "500.00",
            cash=False,
            cep_ordenante_name="PEREZ MARTINEZ JUANA",
            cep_ordenante_rfc="PEMJ900515AB7",
        ),
        [],
        False,
    ),
    (
        "CEP_ORDENANTE_MISMATCH",
        pay(
            1,
            "500.00",
            cash=False,
            cep_ordenante_name="Juana Pérez Martínez",
            cep_ordenante_rfc="GODE561231GR8",
        ),
        [],
        True,
    ),
]


@pytest.mark.parametrize(("rule", "fact", "history", "fires"), CASES)
def test_rule_table(rule, fact, history, fires):
    assert (rule in fired(fact, history)) is fires


def test_relevant_cash_is_a_relevant_report_and_structuring_an_unusual_one():
    drafts = evaluate_payment(pay(1, "150000.00"), [], ANA, FIX, DEFAULT_POLICY)
    assert [(d.rule, d.report_kind) for d in drafts] == [("RELEVANT_CASH", ReportKind.RELEVANT)]
    assert drafts[0].evidence["usd"] == "7500.00"
    day = evaluate_payment(
        pay(2, "80000.00"), [pay(1, "70000.00", at=T0 - H)], ANA, FIX, DEFAULT_POLICY
    )
    assert {d.report_kind for d in day} == {ReportKind.UNUSUAL}
    assert day[0].payment_ids == (1, 2)


def test_store_cash_does_not_count_when_the_policy_says_so_upstream():
    # "cash" is decided when the fact is built; a non-cash fact never fires the cash rules.
    assert fired(pay(1, "150000.00", cash=False)) == set()


def test_a_disabled_rule_never_fires():
    policy = replace(DEFAULT_POLICY, rules_enabled=frozenset({"STRUCTURING_DAY"}))
    assert fired(pay(1, "150000.00"), policy=policy) == set()


def test_the_threshold_uses_the_fix_of_the_payment_day():
    rates = FixRates({date(2026, 10, 1): Decimal("20"), date(2026, 11, 20): Decimal("21")})
    on_20th = evaluate_payment(pay(1, "150000.00"), [], ANA, rates, DEFAULT_POLICY)
    assert on_20th == []  # 150,000 / 21 < 7,500
    with pytest.raises(MissingFixRate):
        FixRates({}).on(date(2026, 1, 1))


@pytest.mark.parametrize(("matches", "fires"), [(True, False), (False, True)])
def test_disbursement_to_a_third_party_clabe(matches, fires):
    fact = DisbursementFact(1, 1, 7, Decimal("12000"), matches, "Juana Pérez")
    assert (evaluate_disbursement(fact, DEFAULT_POLICY) is not None) is fires


def test_without_a_fix_rate_the_cash_rules_say_so_instead_of_guessing():
    drafts = evaluate_payment(pay(1, "150000.00"), [], ANA, FixRates({}), DEFAULT_POLICY)
    assert [d.rule for d in drafts] == ["FIX_RATE_MISSING"]
    assert (
        evaluate_payment(pay(1, "150000.00", cash=False), [], ANA, FixRates({}), DEFAULT_POLICY)
        == []
    )


def other(pid: int, amount: str, at: datetime = T0, customer: int = 2) -> PaymentFact:
    return replace(pay(pid, amount, at=at), customer_id=customer, loan_id=70 + customer)


LINKED_CASES = [
    # fact, group (linked customers' payments), fires
    (pay(2, "80000.00"), [other(1, "70000.00", T0 - 23 * H)], True),
    (pay(2, "79999.99"), [other(1, "70000.00", T0 - 23 * H)], False),  # boundary: < USD 7,500
    (pay(2, "80000.00"), [other(1, "70000.00", T0 - 24 * H)], False),  # outside 24 h
    (pay(2, "80000.00"), [pay(1, "70000.00", at=T0 - H)], False),  # one customer: not linked
    (pay(2, "80000.00", cash=False), [other(1, "70000.00", T0 - H)], False),  # SPEI
    (  # three "just under" within 30 days, two customers
        pay(3, "125000.00"),
        [other(1, "121000.00", T0 - 29 * D), other(2, "130000.00", T0 - 10 * D, customer=3)],
        True,
    ),
    (
        pay(3, "125000.00"),
        [other(1, "121000.00", T0 - 30 * D), other(2, "130000.00", T0 - 10 * D, customer=3)],
        False,
    ),
]


@pytest.mark.parametrize(("fact", "group", "fires"), LINKED_CASES)
def test_structuring_across_linked_customers(fact, group, fires):
    draft = structuring_linked(fact, group, FIX, DEFAULT_POLICY)
    assert (draft is not None) is fires
    if draft is not None:
        assert draft.rule == "STRUCTURING_LINKED" and draft.report_kind is ReportKind.UNUSUAL
        assert fact.payment_id in draft.payment_ids
    disabled = replace(DEFAULT_POLICY, rules_enabled=frozenset())
    assert structuring_linked(fact, group, FIX, disabled) is None
