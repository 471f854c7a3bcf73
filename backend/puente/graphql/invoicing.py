"""GraphQL door for staff on CFDI: cancel one at SAT (motivo 01–04) through the PAC.

The service (``invoicing/cancellation.py``) decides who may and records the audit line; this
door parses, asks it, and shapes the answer (``InvoiceCanceled`` or ``InvoicingError``). The
PAC is the runtime's (``pac_for``): the one the app's fiscal worker uses, or SW sapien at
``PUENTE_PAC_BASE_URL`` (the simulator in ``puente demo``).
"""

from __future__ import annotations

from typing import Annotated

import strawberry
from strawberry.types import Info

from puente.graphql.context import GraphQLContext
from puente.graphql.permissions import IsAuthenticated, allow
from puente.invoicing.cancellation import CancellationRefused, cancel_cfdi
from puente.invoicing.pac import Pac, SwSapienPac
from puente.invoicing.worker import default_pac
from puente.runtime import Runtime

__all__ = ["InvoiceCanceled", "InvoicingError", "InvoicingMutations", "pac_for"]

PuenteInfo = Info[GraphQLContext, None]
PAC_EXTRA = "invoicing.pac"  # runtime.extras: a PAC shared by the process (tests, the app)


@strawberry.type(description="A CFDI cancelled at SAT.")
class InvoiceCanceled:
    uuid: str
    motivo: str = strawberry.field(description="SAT's motivo (01–04).")
    substitute_uuid: str | None = strawberry.field(description="The replacing CFDI (01).")


@strawberry.type(description="Why the CFDI was not cancelled.")
class InvoicingError:
    code: str
    message: str


CancelInvoiceResult = Annotated[
    InvoiceCanceled | InvoicingError, strawberry.union("CancelInvoiceResult")
]


def pac_for(runtime: Runtime) -> tuple[Pac, bool]:
    """The PAC to use and whether the caller must close it (one it made for this call)."""
    shared = runtime.extras.get(PAC_EXTRA)
    if shared is not None:
        return shared, False  # type: ignore[return-value]
    return default_pac(runtime.settings), True


def _log_in_first() -> InvoicingError:
    return InvoicingError(code="UNAUTHENTICATED", message="Inicia sesión.")


@strawberry.type
class InvoicingMutations:
    @strawberry.mutation(
        description="Staff: cancel a CFDI at SAT with motivo 01–04 (01 names the folio "
        "fiscal that replaces it); audited.",
        extensions=allow(IsAuthenticated(answer=_log_in_first)),
    )
    async def cancel_invoice(
        self,
        info: PuenteInfo,
        uuid: str,
        motivo: str,
        substitute_uuid: str | None = None,
    ) -> CancelInvoiceResult:
        user = await info.context.user()  # IsAuthenticated let it through: cached, not None
        if user is None:
            return _log_in_first()
        runtime = info.context.runtime
        pac, owned = pac_for(runtime)
        try:
            invoice = await cancel_cfdi(runtime, pac, user, uuid, motivo, substitute_uuid)
        except CancellationRefused as refused:
            return InvoicingError(code=refused.code, message=refused.message)
        finally:
            if owned and isinstance(pac, SwSapienPac):
                await pac.aclose()
        return InvoiceCanceled(
            uuid=str(invoice.uuid),
            motivo=str(invoice.cancel_reason),
            substitute_uuid=invoice.substitute_uuid,
        )
