"""Portal doors onto compliance: the borrower's loan application (KYC) and its documents,
and the compliance desk (applications to review, cases with their deadlines).

Thin views: they read the form, call ``compliance.onboarding_service`` /
``compliance.cases`` / ``compliance.reports`` and render. Uploaded files are read into
memory only up to the policy's limit (a larger body is refused before it is parsed) and
never logged; a document is served only to its owner and staff of its institution, to
anyone else it does not exist (404).
"""

from __future__ import annotations

from typing import TYPE_CHECKING

from starlette.datastructures import UploadFile
from starlette.requests import Request
from starlette.responses import RedirectResponse, Response
from starlette.routing import BaseRoute, Route

from puente.accounts.models import User
from puente.compliance.cases import CaseError, dismiss_case
from puente.compliance.institution_policy import policy_for
from puente.compliance.models import AmlCase, KycDocument, LoanApplication
from puente.compliance.onboarding import FORM_FIELDS, ApplicationInvalid
from puente.compliance.onboarding_service import (
    DOCUMENT_FIELDS,
    OnboardingRefused,
    UploadedDocument,
    document_bytes,
    read_document,
    review_application,
    submit_application,
)
from puente.compliance.reports import file_case_report
from puente.loans.access import STAFF, is_staff
from puente.loans.models import LoanProduct
from puente.portal.security import CSRF_FIELD, csrf_binding, csrf_valid

if TYPE_CHECKING:
    from puente.portal.routes import Portal

__all__ = ["onboarding_routes"]

_FORM_SLACK = 64 * 1024  # the text fields and multipart framing around the two files


class OnboardingPages:
    def __init__(self, portal: Portal) -> None:
        self.portal = portal
        self.runtime = portal.runtime

    def _not_found(self, request: Request) -> Response:
        return self.portal.render(
            request,
            "pages/error.html",
            {"title": "No encontrado", "message": "Esa página no existe."},
            status_code=404,
        )

    async def _form_page(
        self, request: Request, user: User, values: dict, errors: dict, status: int = 200
    ) -> Response:
        products = await LoanProduct.filter(institution_id=user.institution_id).order_by("id")
        return self.portal.render(
            request,
            "pages/solicitud.html",
            {"user": user, "values": values, "errors": errors, "products": products},
            status_code=status,
        )

    async def application_form(self, request: Request, user: User) -> Response:
        return await self._form_page(request, user, {}, {})

    async def apply(self, request: Request, user: User) -> Response:
        policy = await policy_for(user.institution_id)
        limit = 2 * policy.document_max_bytes + _FORM_SLACK
        if int(request.headers.get("content-length") or 0) > limit:
            return await self._form_page(
                request, user, {}, {"id_document": "Los archivos son demasiado grandes."}, 413
            )
        # The context closes the spooled uploads whatever happens.
        async with request.form(max_files=2, max_fields=40, max_part_size=2048) as form:
            token = form.get(CSRF_FIELD)
            submitted = token if isinstance(token, str) else None
            if not csrf_valid(request, submitted, self.portal.csrf_key, csrf_binding(request)):
                return self.portal.forbidden(request)
            values = {k: v for k in FORM_FIELDS if isinstance(v := form.get(k), str)}
            documents = {}
            for name in DOCUMENT_FIELDS:
                upload = form.get(name)
                if isinstance(upload, UploadFile):
                    content = await upload.read(policy.document_max_bytes + 1)
                    documents[name] = UploadedDocument(upload.content_type or "", content)
            product = form.get("product_id")
        try:
            application = await submit_application(
                self.runtime,
                user,
                product_id=int(product) if isinstance(product, str) and product.isdigit() else 0,
                form=values,
                documents=documents,
            )
        except ApplicationInvalid as invalid:
            return await self._form_page(request, user, values, invalid.errors, 422)
        except OnboardingRefused as refused:
            return await self._form_page(request, user, values, {"form": refused.message}, 409)
        return RedirectResponse(f"/solicitud/{application.id}", status_code=303)

    async def _visible_application(self, user: User, application_id: int) -> LoanApplication | None:
        application = await LoanApplication.filter(id=application_id).first()
        if application is None:
            return None
        mine = application.user_id == user.id
        staff = is_staff(user) and user.institution_id == application.institution_id
        return application if mine or staff else None

    async def application_page(self, request: Request, user: User) -> Response:
        application = await self._visible_application(user, request.path_params["application_id"])
        if application is None:
            return self._not_found(request)
        documents = await KycDocument.filter(application_id=application.id).order_by("id")
        return self.portal.render(
            request,
            "pages/solicitud_estado.html",
            {
                "user": user,
                "application": application,
                "documents": documents,
                "staff": is_staff(user),
            },
        )

    async def document(self, request: Request, user: User) -> Response:
        document = await read_document(user, self.runtime, request.path_params["document_id"])
        if document is None or document.application_id != request.path_params["application_id"]:
            return self._not_found(request)
        return Response(
            document_bytes(self.runtime, document),
            media_type=document.content_type,
            headers={
                "content-disposition": f'attachment; filename="{document.kind}-{document.id}"',
                "cache-control": "no-store",
                "x-content-type-options": "nosniff",
            },
        )

    async def desk(self, request: Request, user: User) -> Response:
        applications = await LoanApplication.filter(
            institution_id=user.institution_id, status="submitted"
        ).order_by("id")
        cases = (
            await AmlCase.filter(institution_id=user.institution_id, status="open")
            .order_by("due_at")
            .prefetch_related("alerts")
        )
        return self.portal.render(
            request,
            "pages/cumplimiento.html",
            {
                "user": user,
                "applications": applications,
                "cases": cases,
                "now": self.runtime.now(),
                "message": request.query_params.get("hecho"),
            },
        )

    async def review(self, request: Request, user: User) -> Response:
        form = await self.portal.form(request)
        if form is None:
            return self.portal.forbidden(request)
        note = form.get("nota")
        try:
            await review_application(
                self.runtime,
                user,
                request.path_params["application_id"],
                approve=form.get("decision") == "aprobar",
                note=note if isinstance(note, str) else "",
            )
        except OnboardingRefused as refused:
            return self._desk_error(request, refused.message)
        return RedirectResponse("/cumplimiento?hecho=solicitud", status_code=303)

    async def close_case(self, request: Request, user: User) -> Response:
        form = await self.portal.form(request)
        if form is None:
            return self.portal.forbidden(request)
        reason = form.get("motivo")
        reason = reason if isinstance(reason, str) else ""
        case_id = request.path_params["case_id"]
        try:
            if form.get("decision") == "reportar":
                report = await file_case_report(self.runtime, user, case_id, reason)
                return Response(
                    report.text,
                    media_type="text/plain; charset=utf-8",
                    headers={"content-disposition": f'attachment; filename="{report.filename}"'},
                )
            await dismiss_case(user, case_id, reason, at=self.runtime.now())
        except CaseError as refused:
            return self._desk_error(request, refused.message)
        return RedirectResponse("/cumplimiento?hecho=caso", status_code=303)

    def _desk_error(self, request: Request, message: str) -> Response:
        return self.portal.render(
            request,
            "pages/error.html",
            {"title": "No se pudo completar", "message": message},
            status_code=409,
        )


def onboarding_routes(portal: Portal) -> list[BaseRoute]:
    """The onboarding and compliance pages, for ``portal_routes`` (all behind the gate; the
    compliance desk for staff and admins only)."""
    pages = OnboardingPages(portal)
    signed_in = portal.gate.signed_in
    staff = STAFF
    return [
        Route("/solicitud", signed_in(pages.application_form), methods=["GET"]),
        Route("/solicitud", signed_in(pages.apply), methods=["POST"]),
        Route(
            "/solicitud/{application_id:int}",
            signed_in(pages.application_page),
            methods=["GET"],
        ),
        Route(
            "/solicitud/{application_id:int}/documentos/{document_id:int}",
            signed_in(pages.document),
            methods=["GET"],
        ),
        Route("/cumplimiento", signed_in(pages.desk, roles=staff), methods=["GET"]),
        Route(
            "/cumplimiento/solicitudes/{application_id:int}",
            signed_in(pages.review, roles=staff),
            methods=["POST"],
        ),
        Route(
            "/cumplimiento/casos/{case_id:int}",
            signed_in(pages.close_case, roles=staff),
            methods=["POST"],
        ),
    ]
