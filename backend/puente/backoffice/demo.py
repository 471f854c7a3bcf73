"""Console demo data for `puente demo`: something in every queue for caja@ and admin@.

- a SPEI reference of Ana's that lapses tomorrow (expiring references), whose "paid" webhook
  from Conekta was dead-lettered (replay it: the payment becomes PAID);
- a loan of a second borrower, four months without a payment (delinquency, write-off);
- a bank statement with a cash deposit nothing explains (a reconciliation exception and its
  money in suspense).

Made through the same services users and the reconciliation import go through; idempotent
(the dead-lettered event is the marker).
"""

from __future__ import annotations

import secrets
import tempfile
from datetime import date, timedelta
from decimal import Decimal
from pathlib import Path

from puente.accounts.models import User
from puente.accounts.users import create_user
from puente.enums import PaymentMethodType, ProviderName, Role
from puente.enums import PaymentStatus as S
from puente.enums import ProviderEventStatus as E
from puente.loans.engine import add_months
from puente.loans.lifecycle import approve_loan, mark_defaulted
from puente.loans.models import Loan, LoanProduct
from puente.loans.origination import originate_loan, record_disbursement
from puente.money import to_centavos
from puente.payments.models import Payment
from puente.providers.values import EventKind
from puente.reconciliation.enums import Direction
from puente.reconciliation.samples import Movement, write_bbva_csv
from puente.reconciliation.service import import_statement, reconcile_lines
from puente.runtime import Runtime
from puente.webhooks.models import ProviderEvent

__all__ = ["DEAD_EVENT_ID", "load_console_demo"]

DEAD_EVENT_ID = "evt_demo_console_dead"


async def load_console_demo(runtime: Runtime, institution_id: int, today: date) -> bool:
    """Fill the console's queues for ``institution_id``; False if already there."""
    if await ProviderEvent.filter(event_id=DEAD_EVENT_ID).exists():
        return False
    ana = await User.get(email="ana@demo.puente.mx")
    loan = await Loan.filter(borrower_id=ana.id).order_by("id").first()
    if loan is None:
        return False
    await _dead_lettered_reference(runtime, loan)
    await _late_borrower(runtime, institution_id, today)
    await _unexplained_deposit(runtime, institution_id, today)
    return True


async def _dead_lettered_reference(runtime: Runtime, loan: Loan) -> None:
    amount = Decimal("1500.00")
    payment = await Payment.create(
        institution_id=loan.institution_id,
        loan_id=loan.id,
        user_id=loan.borrower_id,
        provider=ProviderName.CONEKTA,
        method=PaymentMethodType.SPEI,
        amount_centavos=to_centavos(amount),
        status=S.PENDING,
        idempotency_key="demo-console-spei",
        request_fingerprint="demo",
        provider_reference="ord_demo_console_spei",
        expires_at=runtime.now() + timedelta(hours=20),
        next_action={"type": "SPEI_TRANSFER", "reference": "ord_demo_console_spei"},
    )
    await ProviderEvent.create(
        provider=ProviderName.CONEKTA,
        event_id=DEAD_EVENT_ID,
        event_type="order.paid",
        institution_id=loan.institution_id,
        kind=EventKind.PAYMENT_SUCCEEDED.value,
        provider_payment_id=payment.provider_reference,
        amount_centavos=payment.amount_centavos,
        occurred_at=runtime.now(),
        raw_body="{}",
        body_authenticated=True,
        status=E.DEAD,
        attempts=8,
        last_error="PaymentNotYetKnown: la base de datos no respondió (demo)",
    )


async def _late_borrower(runtime: Runtime, institution_id: int, today: date) -> None:
    roberto = await create_user(
        runtime,
        institution_id=institution_id,
        email="roberto@demo.puente.mx",
        password=secrets.token_urlsafe(24),  # no demo login: a borrower the console works on
        full_name="Roberto Gómez Fuentes",
        role=Role.BORROWER,
    )
    product = await LoanProduct.filter(institution_id=institution_id).order_by("id").first()
    assert product is not None  # the demo's personal loan product
    start = add_months(today, -4) - timedelta(days=10)
    loan = await originate_loan(
        product=product,
        borrower_id=roberto.id,
        principal=Decimal("15000.00"),
        term_count=12,
        start_date=start,
    )
    await approve_loan(loan)
    await record_disbursement(loan, on=start, reference="SPEI demo")
    await mark_defaulted(loan, on=today, reason="más de 90 días sin pagar (demo)")


async def _unexplained_deposit(runtime: Runtime, institution_id: int, today: date) -> None:
    deposit = Movement(
        direction=Direction.CREDIT,
        amount=Decimal("2350.00"),
        booking_date=today - timedelta(days=1),
        value_date=today - timedelta(days=1),
        concept="DEPOSITO EN EFECTIVO SUCURSAL 0457",
    )
    with tempfile.TemporaryDirectory(prefix="puente-demo-") as folder:
        path = Path(folder) / "bbva-consola-demo.csv"
        with path.open("w", encoding="latin-1", newline="") as out:  # as BBVA exports it
            write_bbva_csv(out, [deposit])
        await import_statement(institution_id, path, "csv:bbva", account="BBVA demo")
    await reconcile_lines(runtime, institution_id, at=runtime.now())
