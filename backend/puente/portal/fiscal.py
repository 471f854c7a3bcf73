"""Portal doors onto a payment's fiscal documents: the CFDI (XML, PDF) and the SPEI's CEP.

Behind ``PortalGate.downloadable``: the portal cookie or the ``Authorization: Bearer`` an app
sends to ``/graphql`` (``Payment.invoice.xmlUrl`` links here). A document whose payment the
user may not see does not exist for them (404), like one that does not exist at all.
"""

from __future__ import annotations

import asyncio
from typing import TYPE_CHECKING

from lxml import etree
from satcfdi import render
from satcfdi.cfdi import CFDI
from starlette.requests import Request
from starlette.responses import Response
from starlette.routing import BaseRoute, Route

from puente.accounts.models import User
from puente.cep.models import CepCheck
from puente.cep.service import cep_xml
from puente.invoicing.models import Invoice
from puente.invoicing.service import invoice_xml
from puente.portal.payment_pages import visible_loan, visible_payment

if TYPE_CHECKING:
    from puente.portal.routes import Portal

__all__ = ["fiscal_routes"]


def _not_found() -> Response:
    return Response("no encontrado", status_code=404, media_type="text/plain")


class FiscalDocuments:
    def __init__(self, portal: Portal) -> None:
        self.runtime = portal.runtime

    async def _invoice_xml(self, user: User, uuid: str) -> tuple[Invoice, bytes] | None:
        if len(uuid) != 36:
            return None
        invoice = await Invoice.filter(uuid=uuid.upper()).first()
        if invoice is None:
            return None
        if invoice.payment_id is None:  # an installment invoiced before payment (PPD)
            if invoice.loan_id is None or await visible_loan(user, invoice.loan_id) is None:
                return None
        elif await visible_payment(user, invoice.payment_id) is None:
            return None
        xml = invoice_xml(self.runtime, invoice)
        return (invoice, xml) if xml else None

    async def invoice_xml(self, request: Request, user: User) -> Response:
        found = await self._invoice_xml(user, request.path_params["uuid"])
        if found is None:
            return _not_found()
        invoice, xml = found
        return Response(
            xml,
            media_type="application/xml",
            headers={"Content-Disposition": f'attachment; filename="{invoice.uuid}.xml"'},
        )

    async def invoice_pdf(self, request: Request, user: User) -> Response:
        found = await self._invoice_xml(user, request.path_params["uuid"])
        if found is None:
            return _not_found()
        invoice, xml = found
        # SAT's printed representation, rendered by satcfdi (weasyprint): seconds of CPU,
        # so off the event loop.
        pdf = await asyncio.to_thread(render.pdf_bytes, CFDI.from_xml(etree.fromstring(xml)))
        return Response(
            pdf,
            media_type="application/pdf",
            headers={"Content-Disposition": f'inline; filename="{invoice.uuid}.pdf"'},
        )

    async def cep(self, request: Request, user: User) -> Response:
        payment = await visible_payment(user, request.path_params["payment_id"])
        check = await CepCheck.filter(payment_id=payment.id).first() if payment else None
        xml = cep_xml(self.runtime, check) if check else None
        if xml is None:
            return _not_found()
        return Response(xml, media_type="application/xml")


def fiscal_routes(portal: Portal) -> list[BaseRoute]:
    """The fiscal document URLs, for ``portal_routes``."""
    documents = FiscalDocuments(portal)
    downloadable = portal.gate.downloadable
    return [
        Route("/facturas/{uuid}.xml", downloadable(documents.invoice_xml), methods=["GET"]),
        Route("/facturas/{uuid}.pdf", downloadable(documents.invoice_pdf), methods=["GET"]),
        Route("/pagos/{payment_id:int}/cep.xml", downloadable(documents.cep), methods=["GET"]),
    ]
