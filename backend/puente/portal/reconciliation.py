"""The reconciliation desk (``/conciliacion``): staff upload a statement or a payroll
remittance, watch the import run, and work the exceptions queue.

Thin views over ``reconciliation`` (``jobs.ImportJobs`` runs the import in the background
and the page polls its progress with htmx; ``remittance.apply_remittance`` splits a payroll
deposit; ``exceptions.resolve_exception`` resolves, audited). Staff and admins only, MFA
enrolled (``PortalGate.signed_in(roles=STAFF)``); every form carries the CSRF token.
"""

from __future__ import annotations

import re
import shutil
import tempfile
from pathlib import Path
from typing import TYPE_CHECKING

from starlette.datastructures import UploadFile
from starlette.requests import Request
from starlette.responses import RedirectResponse, Response
from starlette.routing import BaseRoute, Route

from puente.accounts.models import User
from puente.institutions.models import Institution
from puente.loans.access import STAFF
from puente.payments.gateways import GatewayDirectory
from puente.portal.security import CSRF_FIELD, csrf_binding, csrf_valid
from puente.reconciliation.enums import ExceptionReason, Resolution
from puente.reconciliation.exceptions import (
    ResolutionRefused,
    exception_amount,
    open_exceptions,
    resolve_exception,
)
from puente.reconciliation.importers import MalformedStatement, UnknownFormat
from puente.reconciliation.importers.csv_presets import builtin_presets
from puente.reconciliation.jobs import ImportJobs
from puente.reconciliation.reads import recent_statements, suggestions_for
from puente.reconciliation.remittance import RemittanceRefused, apply_remittance
from puente.reconciliation.service import stp_cuenta_of

if TYPE_CHECKING:
    from puente.portal.routes import Portal

__all__ = ["FORMATS", "reconciliation_routes"]

# What the upload form offers (value: label); "remesa" is a payroll remittance file.
FORMATS = {
    "camt053": "CAMT.053 (ISO 20022, XML)",
    "mt940": "MT940 (SWIFT)",
    "stp": "Estado de cuenta STP",
    **{f"csv:{name}": f"CSV {name.upper()}" for name in builtin_presets() if name != "stp"},
    "remesa": "Remesa de nómina (descuento vía nómina)",
}
RESOLUTIONS = {
    Resolution.MATCHED_BY_HAND: "Es el pago número…",
    Resolution.APPLIED_TO_LOAN: "Aplicar al préstamo número…",
    Resolution.RETURNED: "Se devolvió la transferencia",
    Resolution.NOT_A_LOAN_PAYMENT: "No es pago de un préstamo",
}
REASONS = {
    ExceptionReason.UNMATCHED: "nada en los libros lo explica",
    ExceptionReason.AMOUNT_MISMATCH: "la referencia coincide, el monto no",
    ExceptionReason.LOW_CONFIDENCE: "sugerencia por confirmar",
    ExceptionReason.NOT_PAYABLE: "el préstamo ya no recibe pagos",
    ExceptionReason.UNKNOWN_EMPLOYEE: "empleado de la remesa sin préstamo conocido",
    ExceptionReason.REMITTANCE_MISMATCH: "la remesa no suma lo depositado",
}
MAX_UPLOAD_BYTES = 512 * 1024 * 1024  # a million-line CAMT.053 is ~400 MB
_SAFE_NAME = re.compile(r"[^A-Za-z0-9._-]+")


def _int(value: object) -> int | None:
    return int(value) if isinstance(value, str) and value.strip().isdigit() else None


class ReconciliationPages:
    def __init__(self, portal: Portal, gateways: GatewayDirectory) -> None:
        self.portal = portal
        self.runtime = portal.runtime
        self.gateways = gateways
        self.jobs = ImportJobs.of(portal.runtime)

    def _refused(self, request: Request, message: str, status: int = 409) -> Response:
        return self.portal.render(
            request,
            "pages/error.html",
            {"title": "No se pudo completar", "message": message},
            status_code=status,
        )

    async def desk(self, request: Request, user: User) -> Response:
        exceptions = await open_exceptions(user.institution_id)
        suggested = await suggestions_for([exc.line_id for exc in exceptions])
        return self.portal.render(
            request,
            "pages/conciliacion.html",
            {
                "user": user,
                "formats": FORMATS,
                "resolutions": RESOLUTIONS,
                "reasons": {reason.value: label for reason, label in REASONS.items()},
                "statements": await recent_statements(user.institution_id),
                "queue": [
                    (exc, exception_amount(exc, exc.line), suggested.get(exc.line_id))
                    for exc in exceptions
                ],
                "message": request.query_params.get("hecho"),
            },
        )

    async def upload(self, request: Request, user: User) -> Response:
        if int(request.headers.get("content-length") or 0) > MAX_UPLOAD_BYTES:
            return self._refused(request, "El archivo es demasiado grande (máximo 512 MB).", 413)
        async with request.form(max_files=1, max_fields=5, max_part_size=1024) as form:
            token = form.get(CSRF_FIELD)
            submitted = token if isinstance(token, str) else None
            if not csrf_valid(request, submitted, self.portal.csrf_key, csrf_binding(request)):
                return self.portal.forbidden(request)
            fmt = form.get("formato")
            deposit = _int(form.get("deposito"))
            upload = form.get("archivo")
            if not isinstance(upload, UploadFile) or not upload.filename:
                return self._refused(request, "Elija el archivo a importar.", 422)
            if not isinstance(fmt, str) or fmt not in FORMATS:
                return self._refused(request, "Elija el formato del archivo.", 422)
            folder = Path(tempfile.mkdtemp(prefix="puente-conciliacion-"))  # the job removes it
            path = folder / (_SAFE_NAME.sub("_", Path(upload.filename).name)[:120] or "archivo")
            with path.open("wb") as out:
                while chunk := await upload.read(1 << 20):
                    out.write(chunk)
        if fmt == "remesa":
            return await self._remittance(request, user, path, deposit)
        institution = await Institution.get(id=user.institution_id)
        job = self.jobs.start(
            user.institution_id,
            path,
            fmt,
            actor_id=user.id,
            stp_cuenta=await stp_cuenta_of(self.gateways, institution),
        )
        return RedirectResponse(f"/conciliacion/importaciones/{job.id}", status_code=303)

    async def _remittance(
        self, request: Request, user: User, path: Path, deposit: int | None
    ) -> Response:
        try:
            summary = await apply_remittance(
                self.runtime,
                user.institution_id,
                path,
                at=self.runtime.now(),
                line_id=deposit,
                actor_id=user.id,
            )
        except MalformedStatement as exc:
            return self._refused(request, f"Archivo mal formado, nada aplicado: {exc}", 422)
        except (RemittanceRefused, UnknownFormat) as exc:
            return self._refused(request, str(exc))
        finally:
            shutil.rmtree(path.parent, ignore_errors=True)
        return self.portal.render(
            request, "pages/conciliacion_remesa.html", {"user": user, "summary": summary}
        )

    async def job_page(self, request: Request, user: User) -> Response:
        job = self.jobs.get(user.institution_id, request.path_params["job_id"])
        if job is None:
            return self._refused(
                request, "Esa importación ya no está en curso; vea los estados de cuenta.", 404
            )
        partial = request.headers.get("hx-request") == "true"
        name = "conciliacion_progreso_parcial" if partial else "conciliacion_progreso"
        return self.portal.render(
            request,
            f"pages/{name}.html",
            {"user": user, "job": job},
            status_code=286 if partial and job.done else 200,  # htmx: 286 stops polling
        )

    async def resolve(self, request: Request, user: User) -> Response:
        form = await self.portal.form(request)
        if form is None:
            return self.portal.forbidden(request)
        try:
            resolution = Resolution(str(form.get("decision") or ""))
        except ValueError:
            return self._refused(request, "Elija qué es el movimiento.", 422)
        note = form.get("nota")
        try:
            await resolve_exception(
                self.runtime,
                request.path_params["exception_id"],
                resolution,
                actor_id=user.id,
                institution_id=user.institution_id,
                note=note if isinstance(note, str) else "",
                at=self.runtime.now(),
                payment_id=_int(form.get("pago")),
                loan_id=_int(form.get("prestamo")),
            )
        except ResolutionRefused as refused:
            return self._refused(request, str(refused))
        return RedirectResponse("/conciliacion?hecho=excepcion", status_code=303)


def reconciliation_routes(portal: Portal, gateways: GatewayDirectory | None) -> list[BaseRoute]:
    """The reconciliation desk, for ``portal_routes`` (staff and admins only)."""
    pages = ReconciliationPages(portal, gateways or GatewayDirectory(portal.runtime))
    signed_in = portal.gate.signed_in
    return [
        Route("/conciliacion", signed_in(pages.desk, roles=STAFF), methods=["GET"]),
        Route("/conciliacion/importar", signed_in(pages.upload, roles=STAFF), methods=["POST"]),
        Route(
            "/conciliacion/importaciones/{job_id:str}",
            signed_in(pages.job_page, roles=STAFF),
            methods=["GET"],
        ),
        Route(
            "/conciliacion/excepciones/{exception_id:int}",
            signed_in(pages.resolve, roles=STAFF),
            methods=["POST"],
        ),
    ]
