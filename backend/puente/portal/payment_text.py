"""How the portal names payment states, methods and failures to a Mexican reader (es-MX)."""

from __future__ import annotations

from collections.abc import Mapping
from datetime import datetime

from jinja2 import Environment
from markupsafe import Markup

from puente.enums import PaymentMethodType as M
from puente.enums import PaymentStatus as S
from puente.portal.barcode import code128_svg
from puente.portal.formatting import fecha_hora
from puente.providers.errors import ProviderConfigError
from puente.providers.registry import provider_spec

__all__ = [
    "STATUS_FILTERS",
    "failure_text",
    "method_text",
    "prepayment_text",
    "provider_text",
    "register_payment_filters",
    "status_text",
    "status_tone",
]

STATUS = {
    S.CREATED: "Pendiente",
    S.PENDING: "Pendiente",
    S.REQUIRES_ACTION: "Pendiente",
    S.PAID: "Pagado",
    S.FAILED: "Rechazado",
    S.EXPIRED: "Vencido",
    S.CANCELED: "Cancelado",
    S.REFUNDED: "Reembolsado",
    S.PARTIALLY_REFUNDED: "Reembolso parcial",
    S.CHARGED_BACK: "Contracargo",
}
METHOD = {
    M.CARD: "Tarjeta de crédito o débito",
    M.SPEI: "Transferencia SPEI",
    M.CASH: "Efectivo en OXXO o tiendas",
    M.PAYPAL: "PayPal",
}
FAILURE = {  # by the normalised provider error code (providers/errors.py)
    "card_declined": "Tu banco rechazó la tarjeta. Intenta con otra tarjeta u otro método.",
    "insufficient_funds": "La tarjeta no tiene fondos suficientes.",
    "expired_card": "La tarjeta está vencida.",
    "invalid_request": "El proveedor no aceptó el pago. Intenta con otro método.",
    "provider_unavailable": "El proveedor no respondió. Lo intentaremos de nuevo.",
}
# History filter: what the borrower picks -> the statuses it covers.
STATUS_FILTERS: Mapping[str, tuple[S, ...]] = {
    "pendiente": (S.CREATED, S.PENDING, S.REQUIRES_ACTION),
    "pagado": (S.PAID,),
    "rechazado": (S.FAILED,),
    "vencido": (S.EXPIRED,),
    "cancelado": (S.CANCELED,),
    "reembolsado": (S.REFUNDED, S.PARTIALLY_REFUNDED),
    "contracargo": (S.CHARGED_BACK,),
}


def status_text(value: object) -> str:
    """``Pagado``, ``Pendiente`` …"""
    return STATUS.get(S(str(value)), str(value)) if str(value) in S._value2member_map_ else "—"


TONE = {  # the badge colour of each status (CSS .st-*): paid green, waiting amber, red
    S.PAID: "paid",
    S.CREATED: "pending",
    S.PENDING: "pending",
    S.REQUIRES_ACTION: "pending",
    S.FAILED: "failed",
    S.EXPIRED: "failed",
    S.CHARGED_BACK: "failed",
}


def status_tone(value: object) -> str:
    """``paid``, ``pending``, ``failed`` or ``neutral`` (canceled, refunded)."""
    text = str(value)
    return TONE.get(S(text), "neutral") if text in S._value2member_map_ else "neutral"


def method_text(value: object) -> str:
    return METHOD.get(M(str(value)), str(value)) if str(value) in M._value2member_map_ else "—"


def provider_text(value: object) -> str:
    """The provider's own name as its spec gives it (``Mercado Pago``)."""
    try:
        return provider_spec(str(value)).label
    except ProviderConfigError:
        return "—"


def failure_text(code: str | None) -> str:
    """Why a payment failed, without the provider's English wording."""
    return FAILURE.get(code or "", "No se pudo completar el pago.")


PREPAYMENT = {
    "ADVANCE": "Adelantar tus próximos pagos",
    "REDUCE_TERM": "Reducir el plazo",
    "REDUCE_INSTALLMENT": "Reducir el monto de tus pagos",
}


def prepayment_text(mode: str | None, chosen: bool) -> str:
    """What extra money did with a payment, and whether the payer chose it."""
    label = PREPAYMENT.get(mode or "", PREPAYMENT["ADVANCE"])
    return f"{label} ({'elegido por ti' if chosen else 'lo que indica tu crédito'})"


def register_payment_filters(env: Environment) -> None:
    """Add the payment filters to the portal's Jinja environment (idempotent)."""
    env.filters.update(
        estado_pago=status_text,
        tono_pago=status_tone,
        metodo_pago=method_text,
        proveedor=provider_text,
        motivo_rechazo=failure_text,
        codigo_barras=barcode_markup,
        fecha_iso=iso_fecha_hora,
    )


def iso_fecha_hora(value: object) -> str:
    """A stored ISO timestamp (next actions keep them as text) in Mexico City time."""
    try:
        return fecha_hora(datetime.fromisoformat(str(value)))
    except ValueError:
        return "—"


def barcode_markup(reference: str) -> Markup:
    """The reference as an inline Code 128 SVG (the encoder escapes what it embeds)."""
    return Markup(code128_svg(reference))
