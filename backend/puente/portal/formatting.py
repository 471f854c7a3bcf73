"""How the portal shows money and dates to Mexican readers (es-MX)."""

from __future__ import annotations

from datetime import date, datetime
from decimal import Decimal

from puente.money import format_mxn, from_centavos
from puente.runtime import MEXICO_CITY

__all__ = [
    "MESES",
    "fecha",
    "fecha_hora",
    "importe",
    "importe_centavos",
    "mes",
    "mxn",
    "mxn_centavos",
]

MESES = (
    "enero",
    "febrero",
    "marzo",
    "abril",
    "mayo",
    "junio",
    "julio",
    "agosto",
    "septiembre",
    "octubre",
    "noviembre",
    "diciembre",
)


def mxn(value: Decimal | None) -> str:
    """``$1,234.56 MXN``."""
    return format_mxn(value if value is not None else Decimal("0"))


def mxn_centavos(value: int) -> str:
    """Stored integer centavos shown as ``$1,234.56 MXN``."""
    return format_mxn(from_centavos(value))


def importe(value: Decimal | None) -> str:
    """The bare amount a bank app's "importe" field accepts: ``1000.00`` (no sign, no
    thousands separator, no currency). For copy buttons; display uses :func:`mxn`."""
    amount = value if value is not None else Decimal("0")
    return f"{amount.quantize(Decimal('0.01')):f}"


def importe_centavos(value: int) -> str:
    """Stored integer centavos as the bare amount: ``1000.00``."""
    return importe(from_centavos(value))


def mes(value: date | None) -> str:
    """The month's name: ``noviembre`` (a colegiatura is named by its month)."""
    return MESES[value.month - 1] if value is not None else "—"


def fecha(value: date | None) -> str:
    """``15 de diciembre de 2026``."""
    if value is None:
        return "—"
    return f"{value.day} de {MESES[value.month - 1]} de {value.year}"


def fecha_hora(value: datetime | None) -> str:
    """Local Mexico City time: ``15 de diciembre de 2026, 18:05``."""
    if value is None:
        return "—"
    local = value.astimezone(MEXICO_CITY)
    return f"{fecha(local.date())}, {local:%H:%M}"
