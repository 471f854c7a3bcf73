"""The concepts of a CFDI, from the ledger's components (pure)."""

from __future__ import annotations

from decimal import Decimal as D

import pytest

from puente.invoicing.lines import (
    ConceptKind,
    LineProblem,
    collected_by_component,
    credit_note_lines,
    invoice_lines,
    vat_within_sat_limits,
)
from puente.loans.engine import Component as C


@pytest.mark.parametrize(
    ("base", "vat", "accepted"),
    [
        (D("360.00"), D("57.60"), True),  # exactly 16 %
        (D("64.17"), D("10.27"), True),  # 10.2672 rounds up: SAT's upper limit
        (D("64.17"), D("10.26"), True),  # truncated: SAT's lower limit
        (D("64.17"), D("10.25"), False),
        (D("64.17"), D("10.28"), False),
        (D("0.01"), D("0.00"), True),
    ],
)
def test_vat_limits_follow_anexo_20(base, vat, accepted):
    assert vat_within_sat_limits(base, vat) is accepted


def test_collected_components_are_the_negated_credits():
    rows = [("INTEREST", -36000), ("INTEREST_VAT", -5760), ("INTEREST", -100), (None, 999)]
    assert collected_by_component(rows) == {C.INTEREST: D("361.00"), C.INTEREST_VAT: D("57.60")}


def test_interest_moratorium_and_fees_each_become_a_concept_with_the_ledgers_iva():
    lines = invoice_lines(
        {
            C.INTEREST: D("360.00"),
            C.INTEREST_VAT: D("57.60"),
            C.LATE_INTEREST: D("12.50"),
            C.LATE_INTEREST_VAT: D("2.00"),
            C.FEE: D("150.00"),
            C.FEE_VAT: D("24.00"),
        }
    )
    assert [(line.kind, line.base, line.vat) for line in lines] == [
        (ConceptKind.FEE, D("150.00"), D("24.00")),
        (ConceptKind.LATE_INTEREST, D("12.50"), D("2.00")),
        (ConceptKind.INTEREST, D("360.00"), D("57.60")),
    ]


def test_tuition_is_an_exempt_colegiatura_and_principal_is_never_invoiced():
    lines = invoice_lines({C.FEE: D("3500.00"), C.PRINCIPAL: D("1000.00")}, tuition=True)
    assert [(line.kind, line.base, line.vat) for line in lines] == [
        (ConceptKind.TUITION, D("3500.00"), None)
    ]
    assert invoice_lines({C.PRINCIPAL: D("1000.00")}) == []


def test_iva_that_is_not_sixteen_percent_of_its_base_is_refused():
    with pytest.raises(LineProblem):
        invoice_lines({C.INTEREST: D("100.00"), C.INTEREST_VAT: D("20.00")})
    with pytest.raises(LineProblem):
        invoice_lines({C.INTEREST_VAT: D("16.00")})


def test_a_credit_note_keeps_the_refunds_total_and_splits_it_at_sixteen_percent():
    # The refund unwound IVA before its base: 10.27 + 64.17 + 25.56 of another installment's IVA.
    given_back = {C.INTEREST: D("64.17"), C.INTEREST_VAT: D("36.83")}
    [line] = credit_note_lines(given_back, {ConceptKind.INTEREST})
    assert line.total == D("101.00")
    assert (line.base, line.vat) == (D("87.07"), D("13.93"))
    [exempt] = credit_note_lines({C.FEE: D("500.00")}, set(), tuition=True)
    assert (exempt.kind, exempt.base, exempt.vat) == (ConceptKind.TUITION, D("500.00"), None)
