"""GraphQL doors onto compliance: loan applications (KYC), review, AML alerts and cases.

Documents travel base64-encoded in the input (multipart uploads are off on /graphql); the
services check their real type and size. Errors are values: ``ComplianceError`` with a code,
a Spanish message and, for a refused application, one message per input field.
"""

from __future__ import annotations

import base64
import binascii
from datetime import datetime
from decimal import Decimal
from typing import Annotated

import strawberry
from strawberry.types import Info

from puente.accounts.models import User as UserModel
from puente.compliance.cases import CaseError, dismiss_case, lift_suspension
from puente.compliance.models import AmlAlert as AmlAlertModel
from puente.compliance.models import AmlCase as AmlCaseModel
from puente.compliance.models import LoanApplication as ApplicationModel
from puente.compliance.onboarding import ApplicationInvalid
from puente.compliance.onboarding_service import (
    OnboardingRefused,
    UploadedDocument,
    review_application,
    submit_application,
)
from puente.compliance.reports import file_case_report
from puente.enums import Role
from puente.graphql.context import GraphQLContext
from puente.graphql.errors import UserFacingError
from puente.graphql.paging import checked_request, cursor, empty_page, fetch_page, page_info
from puente.graphql.permissions import IsAuthenticated, allow
from puente.graphql.types import (
    Count,
    Money,
    PageInfo,
    decode_global_id,
    encode_global_id,
    money,
    no_rows,
)
from puente.money import from_centavos

__all__ = [
    "AmlAlert",
    "AmlAlertConnection",
    "AmlAlertEdge",
    "ComplianceMutations",
    "aml_alert_connection",
    "require_officer",
]

PuenteInfo = Info[GraphQLContext, None]

# GraphQL input name → the service's form field.
_FIELDS = {
    "givenNames": "given_names",
    "paternalSurname": "paternal_surname",
    "maternalSurname": "maternal_surname",
    "birthDate": "birth_date",
    "birthState": "birth_state",
    "nationality": "nationality",
    "occupation": "occupation",
    "monthlyIncome": "monthly_income",
    "street": "street",
    "exteriorNumber": "exterior_number",
    "interiorNumber": "interior_number",
    "colonia": "colonia",
    "postalCode": "postal_code",
    "municipio": "municipio",
    "state": "state",
    "phone": "phone",
    "email": "email",
    "curp": "curp",
    "rfc": "rfc",
    "clabe": "clabe",
    "ownAccount": "own_account",
    "beneficialOwner": "beneficial_owner",
    "requestedAmount": "requested_amount",
    "termCount": "term_count",
    "proofOfAddressDate": "proof_of_address_date",
    "idDocument": "id_document",
    "proofOfAddress": "proof_of_address",
    "productId": "product_id",
}
_INPUT_NAME = {service: api for api, service in _FIELDS.items()}


@strawberry.input(description="A file as base64 (PDF, JPG or PNG).")
class DocumentUpload:
    content_type: str
    base64: str


@strawberry.input
class LoanApplicationInput:
    product_id: strawberry.ID = strawberry.field(description="The loan product (its number)")
    given_names: str
    paternal_surname: str
    maternal_surname: str = ""
    birth_date: str = strawberry.field(description="AAAA-MM-DD")
    birth_state: str = strawberry.field(description="CURP entity code; NE born abroad")
    nationality: str = strawberry.field(description="ISO 3166 alpha-2, MX for Mexican")
    occupation: str
    monthly_income: Decimal
    street: str
    exterior_number: str
    interior_number: str = ""
    colonia: str
    postal_code: str
    municipio: str
    state: str
    phone: str
    email: str
    curp: str
    rfc: str = strawberry.field(description="With homoclave (13 characters)")
    clabe: str = strawberry.field(description="Where the loan is paid out")
    own_account: bool = strawberry.field(description="Acting on their own account")
    beneficial_owner: str = ""
    requested_amount: Decimal
    term_count: int
    proof_of_address_date: str
    id_document: DocumentUpload
    proof_of_address: DocumentUpload


@strawberry.type
class FieldError:
    field: str
    message: str


@strawberry.type
class ComplianceError:
    code: str
    message: str
    fields: list[FieldError]


@strawberry.type
class LoanApplication:
    id: strawberry.ID
    status: str
    risk_grade: str
    requested_amount: Money
    term_count: int
    loan_id: strawberry.ID | None

    @classmethod
    def from_model(cls, row: ApplicationModel) -> LoanApplication:
        return cls(
            id=encode_global_id("LoanApplication", row.id),
            status=row.status,
            risk_grade=row.risk_grade,
            requested_amount=money(from_centavos(row.requested_centavos)),
            term_count=row.term_count,
            loan_id=encode_global_id("Loan", row.loan_id) if row.loan_id else None,
        )


@strawberry.type
class LoanApplicationSaved:
    application: LoanApplication


LoanApplicationResult = Annotated[
    LoanApplicationSaved | ComplianceError, strawberry.union("LoanApplicationResult")
]


@strawberry.type
class AmlCase:
    id: strawberry.ID
    report_kind: str = strawberry.field(description="24h, inusual or relevante")
    status: str = strawberry.field(description="open, dismissed or reported")
    opened_at: datetime
    due_at: datetime
    overdue: bool
    reason: str
    report_file: str | None

    @classmethod
    def from_model(cls, row: AmlCaseModel, now: datetime) -> AmlCase:
        return cls(
            id=encode_global_id("AmlCase", row.id),
            report_kind=row.report_kind,
            status=row.status,
            opened_at=row.opened_at,
            due_at=row.due_at,
            overdue=row.status == "open" and row.due_at < now,
            reason=row.reason,
            report_file=row.report_file,
        )


@strawberry.type
class AmlCaseClosed:
    case: AmlCase
    report: str | None = strawberry.field(description="The report file's text, when reported")


AmlCaseResult = Annotated[AmlCaseClosed | ComplianceError, strawberry.union("AmlCaseResult")]


@strawberry.type(description="A suspension lifted by the compliance officer (audited).")
class SuspensionLifted:
    customer_id: strawberry.ID
    lifted: bool = strawberry.field(description="False when the customer was not suspended")


SuspensionLiftResult = Annotated[
    SuspensionLifted | ComplianceError, strawberry.union("SuspensionLiftResult")
]


@strawberry.type
class AmlAlert:
    id: strawberry.ID
    rule: str
    report_kind: str
    summary: str
    created_at: datetime
    customer_id: strawberry.ID
    payment_ids: list[strawberry.ID]
    case: AmlCase

    @classmethod
    def from_model(cls, row: AmlAlertModel, now: datetime) -> AmlAlert:
        return cls(
            id=encode_global_id("AmlAlert", row.id),
            rule=row.rule,
            report_kind=row.report_kind,
            summary=row.summary,
            created_at=row.created_at,
            customer_id=encode_global_id("User", row.customer_id),
            payment_ids=[encode_global_id("Payment", pid) for pid in row.payment_ids],
            case=AmlCase.from_model(row.case, now),
        )


@strawberry.type
class AmlAlertEdge:
    cursor: str
    node: AmlAlert


@strawberry.type
class AmlAlertConnection:
    edges: list[AmlAlertEdge]
    page_info: PageInfo
    _count: strawberry.Private[Count] = no_rows

    @strawberry.field(description="All alerts the connection spans (counted only when asked).")
    async def total_count(self) -> int:
        return await self._count()


async def aml_alert_connection(
    info: PuenteInfo,
    institution_id: int,
    first: int | None,
    after: str | None,
    last: int | None,
    before: str | None,
) -> AmlAlertConnection:
    """The institution's AML alerts, newest first (Relay paging)."""
    request = checked_request(info, first, after, last, before)
    if request is None:
        return AmlAlertConnection(edges=[], page_info=empty_page())
    query = AmlAlertModel.filter(institution_id=institution_id)
    page = await fetch_page(query.prefetch_related("case"), request, newest_first=True)
    now = info.context.runtime.now()
    return AmlAlertConnection(
        edges=[
            AmlAlertEdge(cursor=cursor(row.id), node=AmlAlert.from_model(row, now))
            for row in page.rows
        ],
        page_info=page_info(page.rows, page.has_next, page.has_previous),
        _count=query.count,
    )


def _error(code: str, message: str, fields: dict[str, str] | None = None) -> ComplianceError:
    return ComplianceError(
        code=code,
        message=message,
        fields=[
            FieldError(field=_INPUT_NAME.get(name, name), message=text)
            for name, text in sorted((fields or {}).items())
        ],
    )


def _pk(value: str, type_name: str) -> int:
    decoded = decode_global_id(value)
    return decoded[1] if decoded and decoded[0] == type_name else 0


def _product_pk(value: str) -> int:
    """Products have no GraphQL type yet: a global id or the plain number both work."""
    return _pk(value, "LoanProduct") or (int(value) if value.isdigit() and len(value) < 10 else 0)


def _document(upload: DocumentUpload) -> UploadedDocument:
    try:
        content = base64.b64decode(upload.base64, validate=True)
    except (binascii.Error, ValueError):
        content = b""  # refused by the service as "attach the file"
    return UploadedDocument(upload.content_type, content)


async def require_officer(info: PuenteInfo) -> UserModel:
    """Staff or admin of an institution (after MFA), else a refusal."""
    user = await info.context.user()
    if user is None:
        raise UserFacingError("UNAUTHENTICATED", "Inicia sesión.")
    if Role(user.role) not in (Role.STAFF, Role.ADMIN):
        raise UserFacingError("FORBIDDEN", "Solo el oficial de cumplimiento y el personal.")
    return user


def _log_in_first() -> ComplianceError:
    """The answer to a call without a session that may act (the union's error member)."""
    return _error("UNAUTHENTICATED", "Inicia sesión.")


@strawberry.type
class ComplianceMutations:
    @strawberry.mutation(
        description="A borrower applies for a loan (KYC onboarding).",
        extensions=allow(IsAuthenticated(answer=_log_in_first)),
    )
    async def submit_loan_application(
        self, info: PuenteInfo, input: LoanApplicationInput
    ) -> LoanApplicationResult:
        user = await info.context.user()  # IsAuthenticated let it through: cached, not None
        if user is None:
            return _log_in_first()
        form = {
            service: getattr(input, _snake(api))
            for api, service in _FIELDS.items()
            if service not in ("id_document", "proof_of_address", "product_id")
        }
        form["own_account"] = "si" if input.own_account else "no"
        for name in ("term_count", "monthly_income", "requested_amount"):
            form[name] = str(form[name])
        try:
            application = await submit_application(
                info.context.runtime,
                user,
                product_id=_product_pk(input.product_id),
                form=form,
                documents={
                    "id_document": _document(input.id_document),
                    "proof_of_address": _document(input.proof_of_address),
                },
            )
        except ApplicationInvalid as invalid:
            return _error("INVALID_APPLICATION", "Revisa los datos marcados.", invalid.errors)
        except OnboardingRefused as refused:
            return _error(refused.code, refused.message)
        return LoanApplicationSaved(application=LoanApplication.from_model(application))

    @strawberry.mutation(
        description="Staff: approve (originates the loan) or reject.",
        extensions=allow(IsAuthenticated(answer=_log_in_first)),
    )
    async def review_loan_application(
        self, info: PuenteInfo, application_id: strawberry.ID, approve: bool, note: str = ""
    ) -> LoanApplicationResult:
        user = await info.context.user()  # IsAuthenticated let it through: cached, not None
        if user is None:
            return _log_in_first()
        try:
            application = await review_application(
                info.context.runtime,
                user,
                _pk(application_id, "LoanApplication"),
                approve=approve,
                note=note,
            )
        except OnboardingRefused as refused:
            return _error(refused.code, refused.message)
        return LoanApplicationSaved(application=LoanApplication.from_model(application))

    @strawberry.mutation(
        description="Compliance: close a case as justified, with the reason.",
        extensions=allow(IsAuthenticated(answer=_log_in_first)),
    )
    async def dismiss_aml_case(
        self, info: PuenteInfo, case_id: strawberry.ID, reason: str
    ) -> AmlCaseResult:
        user = await info.context.user()  # IsAuthenticated let it through: cached, not None
        if user is None:
            return _log_in_first()
        runtime = info.context.runtime
        try:
            case = await dismiss_case(user, _pk(case_id, "AmlCase"), reason, at=runtime.now())
        except CaseError as refused:
            return _error(refused.code, refused.message)
        return AmlCaseClosed(case=AmlCase.from_model(case, runtime.now()), report=None)

    @strawberry.mutation(
        description="Compliance: report a case; returns the report file.",
        extensions=allow(IsAuthenticated(answer=_log_in_first)),
    )
    async def report_aml_case(
        self, info: PuenteInfo, case_id: strawberry.ID, reason: str
    ) -> AmlCaseResult:
        user = await info.context.user()  # IsAuthenticated let it through: cached, not None
        if user is None:
            return _log_in_first()
        runtime = info.context.runtime
        try:
            report = await file_case_report(runtime, user, _pk(case_id, "AmlCase"), reason)
        except CaseError as refused:
            return _error(refused.code, refused.message)
        case = await AmlCaseModel.get(id=_pk(case_id, "AmlCase"))
        return AmlCaseClosed(case=AmlCase.from_model(case, runtime.now()), report=report.text)

    @strawberry.mutation(
        description="Compliance: lift a customer's suspension (a false positive, or the "
        "authority says so), with the reason; audited.",
        extensions=allow(IsAuthenticated(answer=_log_in_first)),
    )
    async def lift_suspension(
        self, info: PuenteInfo, customer_id: strawberry.ID, reason: str
    ) -> SuspensionLiftResult:
        user = await info.context.user()  # IsAuthenticated let it through: cached, not None
        if user is None:
            return _log_in_first()
        runtime = info.context.runtime
        try:
            lifted = await lift_suspension(user, _pk(customer_id, "User"), reason, at=runtime.now())
        except CaseError as refused:
            return _error(refused.code, refused.message)
        return SuspensionLifted(customer_id=customer_id, lifted=lifted)


def _snake(name: str) -> str:
    return "".join(f"_{c.lower()}" if c.isupper() else c for c in name)
