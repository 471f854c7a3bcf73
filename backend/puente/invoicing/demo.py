"""Invoicing demo data for `puente demo`: SAT's public test CSD for the lender and the school,
their fiscal settings, the IEDU data of the demo student's tuition plan, and a third lender
that invoices PPD (``financiera-ppd-demo``) whose borrower Pablo paid part of an installment
and got part of it back, so every kind of CFDI Puente issues is in the demo: PPD ingreso,
Complemento de Pagos, the complement that replaced it (TipoRelacion 04) and the cancelled one.

The CSD is SAT's test certificate for RFC EKU9003173C9 (ESCUELA KEMPER URGATE, password
``12345678a``), as the satcfdi project ships it: CFDI signed with it are valid documents that
no real PAC would stamp; the demo's PAC is the simulator under /sandbox/pac.
"""

from __future__ import annotations

from datetime import UTC, datetime, time, timedelta
from decimal import Decimal
from pathlib import Path

from puente.accounts.users import create_user
from puente.enums import InstitutionKind, PaymentMethodType, PaymentStatus, ProviderName, Role
from puente.institutions.models import Institution
from puente.invoicing.service import store_csd
from puente.loans.engine import add_months
from puente.loans.lifecycle import approve_loan
from puente.loans.models import Loan, LoanProduct
from puente.loans.origination import originate_loan, record_disbursement
from puente.payments.lifecycle_service import advance_payment
from puente.payments.settled_elsewhere import record_settled_payment
from puente.runtime import Runtime

__all__ = ["DEMO_CSD_DIR", "DEMO_CSD_RFC", "PPD_DEMO_LOGIN", "PPD_DEMO_SLUG", "load_invoicing_demo"]

DEMO_CSD_DIR = Path(__file__).resolve().parents[3] / "docs" / "samples" / "csd"
DEMO_CSD_RFC = "EKU9003173C9"
DEMO_CSD_PASSWORD = "12345678a"
# Fiscal data of the test RFC: the emisor's name must be the certificate's.
_CFDI = {"nombre": "ESCUELA KEMPER URGATE", "regimen_fiscal": "601", "codigo_postal": "42501"}
PPD_DEMO_SLUG = "financiera-ppd-demo"
PPD_DEMO_LOGIN = ("pablo@demo.puente.mx", "pablo-demo-2026")


async def load_invoicing_demo(runtime: Runtime, lender: Institution, school: Institution) -> None:
    """Both demo institutions issue CFDI; Sofía's colegiaturas carry the IEDU complement."""
    if not (DEMO_CSD_DIR / f"{DEMO_CSD_RFC}.cer").exists():
        return  # an install without the repository's docs/: the demo issues no CFDI
    cer = (DEMO_CSD_DIR / f"{DEMO_CSD_RFC}.cer").read_bytes()
    key = (DEMO_CSD_DIR / f"{DEMO_CSD_RFC}.key").read_bytes()
    for institution, extra in (
        (lender, {"serie": "FD"}),
        (school, {"serie": "COL", "rvoe": "ES4-728"}),
    ):
        institution.settings = {**(institution.settings or {}), "cfdi": {**_CFDI, **extra}}
        await institution.save(update_fields=["settings"])
        await store_csd(runtime, institution, cer, key, DEMO_CSD_PASSWORD)
    for loan in await Loan.filter(institution_id=school.id):
        loan.settings = {
            **(loan.settings or {}),
            "iedu": {
                "alumno": "SOFIA HERNANDEZ",
                "curp": "HESS150312MJCRTFA3",
                "nivel": "Primaria",
            },
        }
        await loan.save(update_fields=["settings"])
    await _ppd_lender(runtime, cer, key)


async def _ppd_lender(runtime: Runtime, cer: bytes, key: bytes) -> None:
    """Pablo's lender invoices each installment when it falls due (PPD). He paid 500.00 of
    his first installment's interest by SPEI; 100.00 went back (a partial refund). The fiscal
    worker then issues the PPD ingreso, the complement of his payment, and the complement
    that replaces it for the 400.00 that stayed paid (the first one cancelled, motivo 01)."""
    lender = await Institution.create(
        slug=PPD_DEMO_SLUG,
        name="Financiera PPD Demo, S.A. de C.V., SOFOM, E.N.R.",
        kind=InstitutionKind.LENDER,
        rfc=DEMO_CSD_RFC,
        settings={"env_credentials": True, "cfdi": {**_CFDI, "serie": "PPD", "metodo_pago": "PPD"}},
    )
    await store_csd(runtime, lender, cer, key, DEMO_CSD_PASSWORD)
    pablo = await create_user(
        runtime,
        institution_id=lender.id,
        email=PPD_DEMO_LOGIN[0],
        password=PPD_DEMO_LOGIN[1],
        full_name="Pablo Ramírez Soto",
        role=Role.BORROWER,
    )
    product = await LoanProduct.create(
        institution_id=lender.id,
        name="Préstamo personal (facturado en parcialidades)",
        kind="personal",
        method="FRENCH",
        periodicity="MONTHLY",
        annual_rate=Decimal("0.36"),
        vat_rate=Decimal("0.16"),
    )
    today = runtime.today()
    start = add_months(today, -1) - timedelta(days=3)  # the first installment fell due
    loan = await originate_loan(
        product=product,
        borrower_id=pablo.id,
        principal=Decimal("30000.00"),
        term_count=12,
        start_date=start,
    )
    await approve_loan(loan)
    await record_disbursement(loan, on=start, reference="SPEI demo")
    paid_at = datetime.combine(today - timedelta(days=2), time(18, 0), tzinfo=UTC)
    payment = await record_settled_payment(
        loan,
        Decimal("500.00"),
        provider=ProviderName.STRIPE,
        method=PaymentMethodType.SPEI,
        idempotency_key="demo-pablo-1",
        received_at=paid_at,
        provider_reference=f"pi_demo_ppd_{loan.id}",
    )
    await advance_payment(
        payment.id,
        PaymentStatus.PARTIALLY_REFUNDED,
        source="demo",
        at=paid_at + timedelta(hours=3),
        refunded=Decimal("100.00"),
    )
