"""Compliance demo data for `puente demo`: FIX rates, the sample lists, a borrower ready to
onboard, and a structuring pattern that raised an alert for the compliance officer."""

from __future__ import annotations

from datetime import UTC, date, datetime, time, timedelta
from decimal import Decimal
from pathlib import Path

from puente.accounts.users import create_user
from puente.compliance.monitoring_service import monitor_payment, store_fix_rates
from puente.compliance.screening_service import load_watchlists
from puente.enums import PaymentMethodType, ProviderName, Role
from puente.loans.lifecycle import approve_loan
from puente.loans.models import LoanProduct
from puente.loans.origination import originate_loan, record_disbursement
from puente.payments.settled_elsewhere import record_settled_payment
from puente.runtime import Runtime

__all__ = ["DEMO_FIX_RATE", "NEW_BORROWER", "SAMPLE_LISTS", "load_compliance_demo"]

# A round synthetic FIX for the demo only; production stores Banxico's published figures.
DEMO_FIX_RATE = Decimal("17.5000")
NEW_BORROWER = ("nueva@demo.puente.mx", "nueva-demo-2026", "Juana Pérez Martínez")
SAMPLE_LISTS = Path(__file__).resolve().parents[3] / "docs" / "samples" / "listas_demo.csv"
_FALLBACK_LIST = (
    "lista,id,nombre,alias,curp,rfc,fecha_nacimiento\n"
    "bloqueadas,UIF-DEMO-0001,RAMIREZ OROZCO LUIS ALBERTO,Luis A. Ramírez,,,1975-03-08\n"
)


async def load_compliance_demo(runtime: Runtime, lender_id: int, today: date) -> None:
    """FIX rates for the last 120 days, the sample lists, a new borrower, a seeded alert."""
    await store_fix_rates({today - timedelta(days=n): DEMO_FIX_RATE for n in range(120)})
    text = SAMPLE_LISTS.read_text(encoding="utf-8") if SAMPLE_LISTS.exists() else _FALLBACK_LIST
    await load_watchlists(runtime, text, source="docs/samples/listas_demo.csv")
    email, password, name = NEW_BORROWER
    await create_user(
        runtime,
        institution_id=lender_id,
        email=email,
        password=password,
        full_name=name,
        role=Role.BORROWER,
    )
    await _structuring_pattern(runtime, lender_id, today)


async def _structuring_pattern(runtime: Runtime, lender_id: int, today: date) -> None:
    """Two OXXO cash payments on one day, each under USD 7,500, together above it."""
    rogelio = await create_user(
        runtime,
        institution_id=lender_id,
        email="rogelio@demo.puente.mx",
        password="rogelio-demo-2026",
        full_name="Rogelio Treviño Salas",
        role=Role.BORROWER,
    )
    product = await LoanProduct.filter(institution_id=lender_id).order_by("id").first()
    assert product is not None  # created with Ana's loan
    start = today - timedelta(days=40)
    loan = await originate_loan(
        product=product,
        borrower_id=rogelio.id,
        principal=Decimal("400000.00"),
        term_count=24,
        start_date=start,
    )
    await approve_loan(loan)
    await record_disbursement(loan, on=start, reference="SPEI demo")
    day = today - timedelta(days=2)
    for hour, amount in ((16, "70000.00"), (21, "69000.00")):
        payment = await record_settled_payment(
            loan,
            Decimal(amount),
            provider=ProviderName.CONEKTA,
            method=PaymentMethodType.CASH,
            idempotency_key=f"demo-oxxo-{loan.id}-{hour}",
            received_at=datetime.combine(day, time(hour, 0), tzinfo=UTC),
        )
        # Recorded payments (cashier, demo) have no door that schedules monitoring: run it.
        await monitor_payment(runtime, payment.id)
