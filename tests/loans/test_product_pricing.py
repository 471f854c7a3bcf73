"""Product kinds register their pricing with the loan core, which never imports them."""

from __future__ import annotations

import subprocess
import sys
from datetime import date
from decimal import Decimal

import pytest
from tests.support import factories

from puente.enums import ProviderName
from puente.loans.application import apply_payment
from puente.loans.payoff import payoff_quote
from puente.loans.pricing import UnknownProductKind, pricing_for, register_pricing
from puente.tuition.product import TUITION

START = date(2026, 6, 15)


def _registered_after(statement: str) -> str:
    """The kinds registered in a fresh interpreter after ``statement`` (nothing else ran)."""
    script = f"{statement}\nfrom puente.loans.pricing import registered_kinds\n"
    script += "print(sorted(registered_kinds()))"
    done = subprocess.run(
        [sys.executable, "-c", script], capture_output=True, text=True, timeout=120, check=True
    )
    return done.stdout.strip()


def test_the_loan_core_alone_knows_no_product_kind():
    assert _registered_after("import puente.loans.application, puente.loans.jobs") == "[]"


@pytest.mark.parametrize(
    "start",
    [
        "import puente.app",
        "from puente.cli import build_parser; build_parser()",  # puente jobs daily
        "import puente.tuition.engine",  # any part of tuition
    ],
)
def test_the_app_the_cli_and_tuition_itself_register_tuition(start):
    assert _registered_after(start) == "['tuition']"


def test_ordinary_kinds_are_plain_loans_and_tuition_is_registered():
    assert pricing_for("personal") is None
    assert pricing_for("tuition") is TUITION


def test_a_kind_cannot_be_registered_twice_or_replace_an_ordinary_loan():
    class Impostor:
        kind = "tuition"

    class Personal:
        kind = "personal"

    with pytest.raises(ValueError):
        register_pricing(Impostor())  # type: ignore[arg-type]
    with pytest.raises(ValueError):
        register_pricing(Personal())  # type: ignore[arg-type]
    register_pricing(TUITION)  # the same object again changes nothing
    assert pricing_for("tuition") is TUITION


@pytest.mark.anyio
async def test_a_loan_of_an_unregistered_kind_is_refused_not_priced_as_a_plain_loan(db, runtime):
    inst = await factories.institution()
    ana = await factories.user(runtime, inst)
    loan = await factories.active_loan(inst, ana, start=START, kind="empeno")
    with pytest.raises(UnknownProductKind):
        await payoff_quote(loan, START)
    with pytest.raises(UnknownProductKind):
        await apply_payment(
            loan,
            Decimal("100.00"),
            received_on=START,
            provider=ProviderName.STRIPE,
            idempotency_key="empeno-1",
        )
