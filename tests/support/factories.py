"""Build real objects through the services users go through."""

from __future__ import annotations

from datetime import date
from decimal import Decimal

from puente.accounts.models import User
from puente.accounts.users import create_user
from puente.enums import InstitutionKind, PaymentMethodType, PaymentStatus, ProviderName, Role
from puente.institutions.models import Institution
from puente.loans.lifecycle import approve_loan
from puente.loans.models import Loan, LoanProduct
from puente.loans.origination import originate_loan, record_disbursement
from puente.payments.models import Payment
from puente.runtime import Runtime


async def institution(slug: str = "financiera", kind: InstitutionKind = InstitutionKind.LENDER):
    return await Institution.create(slug=slug, name=slug.title(), kind=kind)


async def user(
    runtime: Runtime,
    inst: Institution,
    email: str = "ana@example.mx",
    password: str = "contrasena-segura-1",
    role: Role = Role.BORROWER,
) -> User:
    return await create_user(
        runtime,
        institution_id=inst.id,
        email=email,
        password=password,
        full_name="Ana Prueba",
        role=role,
    )


async def product(inst: Institution, **overrides: object) -> LoanProduct:
    values: dict[str, object] = {
        "institution_id": inst.id,
        "name": "Préstamo personal",
        "annual_rate": Decimal("0.36"),
        "vat_rate": Decimal("0.16"),
        "opening_fee_rate": Decimal("0"),
    }
    values.update(overrides)
    return await LoanProduct.create(**values)


async def active_loan(
    inst: Institution,
    borrower: User,
    *,
    principal: str = "12000.00",
    term_count: int = 12,
    start: date = date(2026, 6, 15),
    **product_overrides: object,
) -> Loan:
    prod = await product(inst, **product_overrides)
    loan = await originate_loan(
        product=prod,
        borrower_id=borrower.id,
        principal=Decimal(principal),
        term_count=term_count,
        start_date=start,
    )
    await approve_loan(loan)
    await record_disbursement(loan, on=start)
    return loan


async def enrolled_staff(
    runtime: Runtime,
    inst: Institution,
    email: str = "caja@example.mx",
    role: Role = Role.STAFF,
    secret: str = "JBSWY3DPEHPK3PXPJBSWY3DPEHPK3PXP",
) -> tuple[User, str]:
    """Staff who already enrolled TOTP; returns the user and the secret their app holds."""
    from puente.accounts.service import MFA_CONTEXT

    staff = await user(runtime, inst, email=email, role=role)
    staff.mfa_secret_enc = runtime.cipher.encrypt(secret, context=MFA_CONTEXT)
    staff.mfa_enabled = True
    await staff.save(update_fields=["mfa_secret_enc", "mfa_enabled"])
    return staff, secret


async def approved_loan(inst: Institution, borrower: User, principal: str = "12000.00") -> Loan:
    """An approved application waiting to be paid out."""
    loan = await originate_loan(
        product=await product(inst),
        borrower_id=borrower.id,
        principal=Decimal(principal),
        term_count=12,
        start_date=date(2026, 11, 27),
    )
    await approve_loan(loan)
    return loan


async def payment(
    loan: Loan,
    *,
    key: str,
    amount_centavos: int = 124035,
    provider: ProviderName = ProviderName.STRIPE,
    method: PaymentMethodType = PaymentMethodType.SPEI,
    status: PaymentStatus = PaymentStatus.REQUIRES_ACTION,
    **fields: object,
) -> Payment:
    """A payment row as a provider would have left it (no provider is called)."""
    return await Payment.create(
        institution_id=loan.institution_id,
        loan_id=loan.id,
        user_id=loan.borrower_id,
        provider=provider,
        method=method,
        amount_centavos=amount_centavos,
        status=status,
        idempotency_key=key,
        request_fingerprint="test",
        **fields,
    )
