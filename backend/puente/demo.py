"""Demo data for `puente demo`: made through the same services users go through.

Idempotent: running it again on a database that has the demo institution changes nothing.
"""

from __future__ import annotations

from datetime import UTC, date, datetime, time, timedelta
from decimal import Decimal

from puente.accounts.service import MFA_CONTEXT
from puente.accounts.users import create_borrower_profile, create_user
from puente.backoffice.demo import load_console_demo
from puente.compliance.demo import load_compliance_demo
from puente.enums import InstitutionKind, PaymentMethodType, PaymentStatus, ProviderName, Role
from puente.institutions.models import Institution
from puente.institutions.return_urls import RETURN_URLS_KEY
from puente.invoicing.demo import load_invoicing_demo
from puente.loans.billing import bill_installments
from puente.loans.engine import add_months
from puente.loans.lifecycle import approve_loan
from puente.loans.models import Installment, Loan, LoanProduct
from puente.loans.origination import originate_loan, record_disbursement
from puente.money import from_centavos
from puente.notifications.models import NotificationPreference
from puente.payments.lifecycle_service import advance_payment
from puente.payments.models import Payment
from puente.payments.settled_elsewhere import record_settled_payment
from puente.providers.catalogue import BUILTIN_SPECS
from puente.runtime import Runtime
from puente.tuition.engine import TuitionPlan, monthly_due_dates
from puente.tuition.service import enrol_in_plan

__all__ = ["DEMO_ADMIN_TOTP_SECRET", "DEMO_LOGINS", "load_demo_data"]

# Demo only (contract): the administrator is already enrolled with this TOTP secret, so a
# tester can add it to an authenticator app; every admin login needs its current code.
DEMO_ADMIN_TOTP_SECRET = "PUENTEDEMOADMINSECRETTOTPBASEXYZ"

DEMO_LOGINS = (
    ("ana@demo.puente.mx", "ana-demo-2026", "acreditada con un préstamo personal mensual"),
    ("luis@demo.puente.mx", "luis-demo-2026", "papá que paga colegiaturas"),
    ("caja@demo.puente.mx", "caja-demo-2026", "personal de caja (MFA en el primer acceso)"),
    ("nueva@demo.puente.mx", "nueva-demo-2026", "nueva acreditada: solicita en /solicitud"),
    (
        "admin@demo.puente.mx",
        "admin-demo-2026",
        f"administrador (MFA con la clave TOTP {DEMO_ADMIN_TOTP_SECRET})",
    ),
)


def demo_return_urls(runtime: Runtime) -> list[str]:
    """Where apps may send demo payers back after PayPal or 3-D Secure: the demo app's deep
    links and the demo's own origin (createPayment's returnUrl)."""
    return ["puente-demo://", runtime.settings.base_url]


async def _allow_demo_return_urls(runtime: Runtime) -> None:
    for institution in await Institution.filter(slug__in=["financiera-demo", "colegio-demo"]):
        if RETURN_URLS_KEY not in (institution.settings or {}):
            institution.settings = {
                **(institution.settings or {}),
                RETURN_URLS_KEY: demo_return_urls(runtime),
            }
            await institution.save(update_fields=["settings"])


def _at_noon(day: date) -> datetime:
    return datetime.combine(day, time(18, 0), tzinfo=UTC)  # noon in Mexico City


async def load_demo_data(runtime: Runtime) -> bool:
    """Create the demo institutions, users, loans and payments; False if already there."""
    if await Institution.filter(slug="financiera-demo").exists():
        await _allow_demo_return_urls(runtime)  # demo databases made before the allow-list
        return False
    today = runtime.today()
    lender = await Institution.create(
        slug="financiera-demo",
        name="Financiera Demo, S.A. de C.V., SOFOM, E.N.R.",
        kind=InstitutionKind.LENDER,
        rfc="EKU9003173C9",  # SAT's test RFC: the demo signs CFDI with its public test CSD
        settings={
            "env_credentials": True,  # PUENTE_<PROVIDER>_<FIELD> apply (contract)
            # Cards through every card gateway (its spec has a card form), each on its
            # simulator's own card page.
            "payment_providers": {"card": [s.name for s in BUILTIN_SPECS if s.offers_cards]},
            RETURN_URLS_KEY: demo_return_urls(runtime),
        },
    )
    school = await Institution.create(
        slug="colegio-demo",
        name="Colegio Demo",
        kind=InstitutionKind.SCHOOL,
        settings={"env_credentials": True, RETURN_URLS_KEY: demo_return_urls(runtime)},
    )
    ana = await create_user(
        runtime,
        institution_id=lender.id,
        email="ana@demo.puente.mx",
        password="ana-demo-2026",
        full_name="Ana Pérez Martínez",
        role=Role.BORROWER,
    )
    await create_borrower_profile(
        runtime,
        ana,
        curp="PEMJ900515MJCRRN09",
        rfc="GOME800101ABA",
        phone="3312345678",
        street="Av. Vallarta",
        exterior_number="1234",
        colonia="Americana",
        postal_code="44160",
        municipio="Guadalajara",
        state="Jalisco",
    )
    await create_user(
        runtime,
        institution_id=lender.id,
        email="caja@demo.puente.mx",
        password="caja-demo-2026",
        full_name="Carmen Caja",
        role=Role.STAFF,
    )
    admin = await create_user(
        runtime,
        institution_id=lender.id,
        email="admin@demo.puente.mx",
        password="admin-demo-2026",
        full_name="Alberto Admin",
        role=Role.ADMIN,
    )
    admin.mfa_secret_enc = runtime.cipher.encrypt(DEMO_ADMIN_TOTP_SECRET, context=MFA_CONTEXT)
    admin.mfa_enabled = True
    await admin.save(update_fields=["mfa_secret_enc", "mfa_enabled"])
    # Ana gets her notices by email (/sandbox/correo) and SMS (/sandbox/twilio/).
    await NotificationPreference.create(user_id=ana.id, email=True, sms=True)
    await _ana_loan(ana.id, lender.id, today)
    await _luis_tuition(runtime, school.id, today)
    await load_compliance_demo(runtime, lender.id, today)
    await load_console_demo(runtime, lender.id, today)
    await load_invoicing_demo(runtime, lender, school)
    return True


async def _ana_loan(ana_id: int, lender_id: int, today: date) -> None:
    product = await LoanProduct.create(
        institution_id=lender_id,
        name="Préstamo personal",
        kind="personal",
        method="FRENCH",
        periodicity="MONTHLY",
        annual_rate=Decimal("0.36"),
        vat_rate=Decimal("0.16"),
        opening_fee_rate=Decimal("0.02"),
        late_annual_rate=Decimal("0.54"),
        late_fee_centavos=25000,
        # Domiciliación retries (collections/dunning.py): per product.
        settings={"domiciliacion": {"payday_retries": 3, "soon_retries": 3, "soon_days": 1}},
    )
    # Started five months ago (+6 days): four installments are behind her, the fifth is due.
    start = add_months(today, -5) + timedelta(days=6)
    loan = await originate_loan(
        product=product,
        borrower_id=ana_id,
        principal=Decimal("30000.00"),
        term_count=12,
        start_date=start,
    )
    await approve_loan(loan)
    await record_disbursement(loan, on=start, reference="SPEI demo")
    rows = await Installment.filter(loan_id=loan.id, due_date__lt=today).order_by("number")
    for row in rows:
        paid_on = row.due_date - timedelta(days=1)
        await record_settled_payment(
            loan,
            from_centavos(row.total_centavos),
            provider=ProviderName.STRIPE,
            method=PaymentMethodType.CARD,
            idempotency_key=f"demo-ana-{row.number}",
            received_at=_at_noon(paid_on),
            provider_reference=f"pi_demo_{loan.id}_{row.number}",
        )
    await bill_installments(loan, today)
    await _declined_card(loan, today)


async def _declined_card(loan: Loan, today: date) -> None:
    """A card the bank declined two days ago: what an app shows as failureMessage."""
    attempt = await Payment.create(
        institution_id=loan.institution_id,
        loan_id=loan.id,
        user_id=loan.borrower_id,
        provider=ProviderName.STRIPE,
        method=PaymentMethodType.CARD,
        amount_centavos=150000,
        idempotency_key="demo-ana-declined",
        request_fingerprint="demo",
    )
    await advance_payment(
        attempt.id,
        PaymentStatus.FAILED,
        source="demo",
        at=_at_noon(today - timedelta(days=2)),
        failure_code="insufficient_funds",
        failure_message="Your card has insufficient funds.",
    )


async def _luis_tuition(runtime: Runtime, school_id: int, today: date) -> None:
    luis = await create_user(
        runtime,
        institution_id=school_id,
        email="luis@demo.puente.mx",
        password="luis-demo-2026",
        full_name="Luis Hernández Soto",
        role=Role.GUARDIAN,
    )
    student = await create_user(
        runtime,
        institution_id=school_id,
        email="sofia.hernandez@alumnos.colegio-demo.mx",
        password="sofia-demo-2026",
        full_name="Sofía Hernández",
        role=Role.STUDENT,
        guardian_id=luis.id,
    )
    product = await LoanProduct.create(
        institution_id=school_id,
        name="Colegiaturas primaria",
        kind="tuition",
        annual_rate=Decimal("0"),
        vat_rate=Decimal("0"),  # RVOE tuition is IVA-exempt (LIVA art. 15 fr. XII)
        # The school's rules; each enrolment freezes them into its plan (Loan.settings).
        settings={
            "early_discount_rate": "0.05",
            "early_discount_day": 5,
            "surcharge_amount": "250.00",
            "surcharge_grace_days": 5,
        },
    )
    first_due = add_months(date(today.year, today.month, 10), -2)
    plan = TuitionPlan(
        student_id=str(student.id),
        payer_id=str(luis.id),
        cycle=f"{first_due.year}-{first_due.year + 1}",
        enrolment_fee=Decimal("3500.00"),
        enrolment_due_date=add_months(first_due, -1),
        monthly_amount=Decimal("4200.00"),
        due_dates=monthly_due_dates(first_due, 10),
        scholarship_rate=Decimal("0.10"),
        early_discount_rate=Decimal(product.settings["early_discount_rate"]),
        early_discount_day=product.settings["early_discount_day"],
        surcharge_amount=Decimal(product.settings["surcharge_amount"]),
        surcharge_grace_days=product.settings["surcharge_grace_days"],
    )
    loan = await enrol_in_plan(plan, product=product, payer_id=luis.id, student_id=student.id)
    rows = await Installment.filter(loan_id=loan.id, due_date__lt=today).order_by("number")
    for row in rows:
        paid_on = row.due_date - timedelta(days=3)
        await record_settled_payment(
            loan,
            from_centavos(row.total_centavos),
            provider=ProviderName.CONEKTA,
            method=PaymentMethodType.SPEI,
            idempotency_key=f"demo-luis-{row.number}",
            received_at=_at_noon(paid_on),
            provider_reference=f"ord_demo_{loan.id}_{row.number}",
            user_id=luis.id,
        )
    await bill_installments(loan, today)
