"""Digital onboarding (KYC) of a persona física: apply, screen, grade, review (service).

borrower ─► submit_application: every field and document checked (all problems at once,
            nothing stored when any is wrong) ─► screened against the lists ─► risk grade
            ─► stored encrypted, audited
staff ─► review_application: approve (a high-risk file needs an admin, a suspended
         customer none) ─► the loan is originated as an application that ``approveLoan``
         pays out │ reject with a note
owner or staff of the institution ─► read_document (anyone else: not found)
"""

from __future__ import annotations

import base64
import hashlib
import json
from collections.abc import Mapping
from dataclasses import asdict, dataclass
from enum import StrEnum
from typing import Final

from tortoise.transactions import in_transaction

from puente.accounts.models import User
from puente.audit.service import record_audit
from puente.compliance.cases import suspension_refusal
from puente.compliance.documents import DocumentKind, DocumentProblem, checked_document
from puente.compliance.institution_policy import policy_for
from puente.compliance.links import (
    ADDRESS_INDEX_CONTEXT,
    PHONE_INDEX_CONTEXT,
    address_key,
    phone_key,
)
from puente.compliance.models import KycDocument, LoanApplication
from puente.compliance.onboarding import Applicant, ApplicationInvalid, validate_application
from puente.compliance.risk import RiskGrade, RiskInputs, grade_risk
from puente.compliance.screening import ListKind, Screened
from puente.compliance.screening_service import (
    APPLICATION_CONTEXT,
    current_watchlist,
    screen_person,
)
from puente.enums import Role
from puente.loans.models import Loan, LoanProduct
from puente.loans.origination import originate_loan
from puente.money import from_centavos, to_centavos
from puente.runtime import Runtime
from puente.security.crypto import blind_index

__all__ = [
    "DOCUMENT_CONTEXT",
    "DOCUMENT_FIELDS",
    "ApplicationStatus",
    "OnboardingRefused",
    "UploadedDocument",
    "declared_clabe_matches",
    "document_bytes",
    "read_document",
    "review_application",
    "submit_application",
]

DOCUMENT_CONTEXT: Final = "kyc_documents.content"
CLABE_INDEX_CONTEXT: Final = "loan_applications.clabe"
CURP_INDEX_CONTEXT: Final = "loan_applications.curp"
RFC_INDEX_CONTEXT: Final = "loan_applications.rfc"
# Form field → the document it must carry.
DOCUMENT_FIELDS: Final = {
    "id_document": DocumentKind.IDENTIFICATION,
    "proof_of_address": DocumentKind.PROOF_OF_ADDRESS,
}


class ApplicationStatus(StrEnum):
    SUBMITTED = "submitted"
    APPROVED = "approved"
    REJECTED = "rejected"


class OnboardingRefused(Exception):
    """An onboarding step refused as a whole; ``code`` and Spanish ``message`` are safe."""

    def __init__(self, code: str, message: str) -> None:
        super().__init__(message)
        self.code = code
        self.message = message


@dataclass(frozen=True, slots=True)
class UploadedDocument:
    content_type: str
    content: bytes = b""

    def __repr__(self) -> str:  # never the bytes: documents stay out of logs
        return f"UploadedDocument({self.content_type!r}, {len(self.content)} bytes)"


def _check_documents(
    documents: Mapping[str, UploadedDocument], max_bytes: int, errors: dict[str, str]
) -> list[tuple[DocumentKind, str, bytes]]:
    checked = []
    for name, kind in DOCUMENT_FIELDS.items():
        upload = documents.get(name) or UploadedDocument("")
        try:
            doc = checked_document(name, kind, upload.content_type, upload.content, max_bytes)
        except DocumentProblem as problem:
            errors[name] = problem.message
            continue
        checked.append((doc.kind, doc.content_type, doc.content))
    return checked


def _personal_data(applicant: Applicant) -> str:
    data = asdict(applicant)
    return json.dumps(data, default=str, sort_keys=True)


async def submit_application(
    runtime: Runtime,
    user: User,
    *,
    product_id: int,
    form: Mapping[str, object],
    documents: Mapping[str, UploadedDocument],
) -> LoanApplication:
    """Validate, screen, grade and store a borrower's application (all or nothing)."""
    if Role(user.role) is not Role.BORROWER:
        raise OnboardingRefused("FORBIDDEN", "Solo un acreditado puede solicitar un crédito.")
    policy = await policy_for(user.institution_id)
    errors: dict[str, str] = {}
    product = await LoanProduct.filter(id=product_id, institution_id=user.institution_id).first()
    if product is None:
        errors["product_id"] = "Elige un producto de crédito."
    try:
        applicant: Applicant | None = validate_application(
            form, today=runtime.today(), policy=policy
        )
    except ApplicationInvalid as invalid:
        errors.update(invalid.errors)
        applicant = None
    checked = _check_documents(documents, policy.document_max_bytes, errors)
    if errors or applicant is None or product is None:
        raise ApplicationInvalid(errors)
    if await LoanApplication.filter(
        user_id=user.id, status=ApplicationStatus.SUBMITTED.value
    ).exists():
        raise OnboardingRefused(
            "APPLICATION_PENDING", "Ya tienes una solicitud en revisión; espera su resultado."
        )
    person = Screened(applicant.full_name, applicant.curp, applicant.rfc, applicant.birth_date)
    watchlist = await current_watchlist()
    hits = watchlist.screen(person, policy.name_match_threshold)
    kinds = {hit.entry.kind for hit in hits}
    assessed = grade_risk(
        RiskInputs(
            nationality=applicant.nationality,
            birth_date=applicant.birth_date,
            birth_state=applicant.birth_state,
            occupation=applicant.occupation,
            monthly_income=applicant.monthly_income,
            requested_amount=applicant.requested_amount,
            acting_for_third_party=not applicant.own_account,
            pep=ListKind.PEP in kinds,
            sanctioned=bool(kinds & {ListKind.SANCTIONS, ListKind.BLOCKED}),
        ),
        policy.risk,
        runtime.today(),
    )
    cipher, key = runtime.cipher, runtime.index_key
    async with in_transaction() as tx:
        application = await LoanApplication.create(
            institution_id=user.institution_id,
            user_id=user.id,
            product_id=product.id,
            full_name=applicant.full_name[:200],
            data_enc=cipher.encrypt(_personal_data(applicant), context=APPLICATION_CONTEXT),
            curp_index=blind_index(applicant.curp, context=CURP_INDEX_CONTEXT, index_key=key),
            rfc_index=blind_index(applicant.rfc, context=RFC_INDEX_CONTEXT, index_key=key),
            clabe_index=blind_index(applicant.clabe, context=CLABE_INDEX_CONTEXT, index_key=key),
            phone_index=blind_index(
                phone_key(applicant.phone), context=PHONE_INDEX_CONTEXT, index_key=key
            ),
            address_index=blind_index(
                address_key(
                    applicant.street,
                    applicant.exterior_number,
                    applicant.interior_number,
                    applicant.postal_code,
                ),
                context=ADDRESS_INDEX_CONTEXT,
                index_key=key,
            ),
            clabe_last4=applicant.clabe[-4:],
            requested_centavos=to_centavos(applicant.requested_amount),
            term_count=applicant.term_count,
            monthly_income_centavos=to_centavos(applicant.monthly_income),
            own_account=applicant.own_account,
            risk_grade=assessed.grade.value,
            risk_points=assessed.points,
            risk_reasons=list(assessed.reasons),
            screening=[
                {"list": h.entry.kind.value, "entry_id": h.entry.entry_id, "score": h.score}
                for h in hits
            ],
            using_db=tx,
        )
        for kind, content_type, content in checked:
            await KycDocument.create(
                application_id=application.id,
                kind=kind.value,
                content_type=content_type,
                size_bytes=len(content),
                sha256=hashlib.sha256(content).hexdigest(),
                content_enc=cipher.encrypt(
                    base64.b64encode(content).decode("ascii"), context=DOCUMENT_CONTEXT
                ),
                using_db=tx,
            )
        await record_audit(
            "kyc.application_submitted",
            actor_id=user.id,
            institution_id=user.institution_id,
            subject_type="loan_application",
            subject_id=application.id,
            data={
                "risk": assessed.grade.value,
                "reasons": list(assessed.reasons),
                "hits": [h.entry.kind.value for h in hits],
                "rfc_warnings": len(applicant.rfc_warnings),
            },
            conn=tx,
        )
    # Alerts, the 24-hour case and the suspension are recorded once the application exists.
    await screen_person(
        watchlist=watchlist,
        institution_id=user.institution_id,
        customer_id=user.id,
        person=person,
        at=runtime.now(),
        reason="alta",
    )
    return application


def _is_officer(actor: User, institution_id: int) -> bool:
    return Role(actor.role) in (Role.STAFF, Role.ADMIN) and actor.institution_id == institution_id


async def review_application(
    runtime: Runtime, actor: User, application_id: int, *, approve: bool, note: str = ""
) -> LoanApplication:
    """Staff decide. Approval originates the loan (status application) for ``approveLoan``."""
    application = await LoanApplication.filter(id=application_id).first()
    if application is None or not _is_officer(actor, application.institution_id):
        raise OnboardingRefused("APPLICATION_NOT_FOUND", "La solicitud no existe.")
    if application.status != ApplicationStatus.SUBMITTED.value:
        raise OnboardingRefused("APPLICATION_REVIEWED", "La solicitud ya fue resuelta.")
    note = " ".join(note.split())[:500]
    if not approve:
        return await _decide(actor, application, ApplicationStatus.REJECTED, note, runtime)
    refusal = await suspension_refusal(application.user_id)
    if refusal is not None:
        raise OnboardingRefused(refusal.code, refusal.message)
    # Enhanced due diligence (95 Bis): a high-risk customer needs a senior approval.
    if application.risk_grade == RiskGrade.HIGH.value and Role(actor.role) is not Role.ADMIN:
        raise OnboardingRefused(
            "HIGH_RISK_NEEDS_ADMIN", "Un expediente de riesgo alto lo aprueba un administrador."
        )
    return await _decide(actor, application, ApplicationStatus.APPROVED, note, runtime)


async def _decide(
    actor: User,
    application: LoanApplication,
    status: ApplicationStatus,
    note: str,
    runtime: Runtime,
) -> LoanApplication:
    # The conditional update is the claim: of two concurrent reviews, one wins.
    claimed = await LoanApplication.filter(
        id=application.id, status=ApplicationStatus.SUBMITTED.value
    ).update(
        status=status.value, reviewed_by_id=actor.id, reviewed_at=runtime.now(), review_note=note
    )
    if not claimed:
        raise OnboardingRefused("APPLICATION_REVIEWED", "La solicitud ya fue resuelta.")
    loan: Loan | None = None
    if status is ApplicationStatus.APPROVED:
        try:
            loan = await originate_loan(
                product=await LoanProduct.get(id=application.product_id),
                borrower_id=application.user_id,
                principal=from_centavos(application.requested_centavos),
                term_count=application.term_count,
                start_date=runtime.today(),
                actor_id=actor.id,
            )
        except Exception:
            await LoanApplication.filter(id=application.id).update(
                status=ApplicationStatus.SUBMITTED.value, reviewed_by_id=None, reviewed_at=None
            )
            raise
        await LoanApplication.filter(id=application.id).update(loan_id=loan.id)
    await record_audit(
        f"kyc.application_{status.value}",
        actor_id=actor.id,
        institution_id=application.institution_id,
        subject_type="loan_application",
        subject_id=application.id,
        data={"loan": loan.id if loan else None, "note": note},
    )
    return await LoanApplication.get(id=application.id)


async def read_document(viewer: User, runtime: Runtime, document_id: int) -> KycDocument | None:
    """The document for its owner or staff of its institution; None for anyone else."""
    document = await KycDocument.filter(id=document_id).prefetch_related("application").first()
    if document is None:
        return None
    application = document.application
    if viewer.id != application.user_id and not _is_officer(viewer, application.institution_id):
        return None
    if viewer.id != application.user_id:
        await record_audit(
            "kyc.document_viewed",
            actor_id=viewer.id,
            institution_id=application.institution_id,
            subject_type="kyc_document",
            subject_id=document.id,
        )
    return document


def document_bytes(runtime: Runtime, document: KycDocument) -> bytes:
    """A document's content, decrypted (only after ``read_document`` allowed it)."""
    return base64.b64decode(runtime.cipher.decrypt(document.content_enc, context=DOCUMENT_CONTEXT))


async def declared_clabe_matches(runtime: Runtime, loan_id: int, clabe: str) -> bool | None:
    """Whether ``clabe`` is the one declared in the loan's application (None: no application)."""
    application = await LoanApplication.filter(loan_id=loan_id).first()
    if application is None:
        return None
    index = blind_index(clabe, context=CLABE_INDEX_CONTEXT, index_key=runtime.index_key)
    return index == application.clabe_index
