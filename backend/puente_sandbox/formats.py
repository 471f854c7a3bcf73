"""How the providers write amounts, dates and request bodies, written from their documentation.

The simulators parse and print with this module only, never with the connectors' helpers in
``puente.providers`` (a shared mistake would pass every test). Sources: the providers'
API references summarised in ``/work/shared/reference/providers.md``; STP's cadena order from
its "Firmas electrónicas" page as cuenca-mx/stpmex-python builds it.
"""

from __future__ import annotations

import json
import re
from collections.abc import Iterable, Mapping
from datetime import UTC, datetime
from decimal import Decimal
from typing import Any
from zoneinfo import ZoneInfo

__all__ = [
    "MEXICO_CITY",
    "STP_ORDEN_FIELDS",
    "FormError",
    "bracket_form",
    "decimal_json",
    "exact_json_number",
    "iso_datetime",
    "stp_cadena",
    "stp_cadena_orden",
    "stp_fecha_operacion",
    "stp_monto",
]

# Openpay and Mercado Pago write local time with this offset; SPEI's day is this day.
MEXICO_CITY = ZoneInfo("America/Mexico_City")


def decimal_json(content: bytes | str) -> Any:
    """JSON whose fractional numbers are ``Decimal`` (Openpay, Mercado Pago, STP send pesos)."""
    return json.loads(content, parse_float=Decimal)


def exact_json_number(amount: Decimal) -> int | float:
    """Pesos as the JSON number a peso-denominated API writes (``150``, ``150.5``, ``0.01``).

    Only amounts whose shortest float repr is the same decimal are accepted: a simulator that
    cannot write an amount exactly must say so, not round it.
    """
    value = Decimal(amount)
    if value == value.to_integral_value():
        return int(value)
    number = float(value)
    if Decimal(repr(number)) != value:
        raise ValueError(f"{value} has no exact JSON number")
    return number


def iso_datetime(value: Any, *, naive_zone: ZoneInfo | None = None) -> datetime | None:
    """An ISO-8601 timestamp as UTC (``Z``, ``-06:00`` or ``-0600``); empty or junk is None.

    One without an offset is in ``naive_zone`` (Openpay: Mexico City), else UTC.
    """
    if not isinstance(value, str) or not value:
        return None
    text = re.sub(r"([+-]\d{2})(\d{2})$", r"\1:\2", value.strip().replace("Z", "+00:00"))
    try:
        when = datetime.fromisoformat(text)
    except ValueError:
        return None
    if when.tzinfo is None:
        when = when.replace(tzinfo=naive_zone or UTC)
    return when.astimezone(UTC)


def stp_fecha_operacion(unix_seconds: float) -> int:
    """STP's ``fechaOperacion``: the Mexico City date as ``YYYYMMDD``."""
    return int(datetime.fromtimestamp(unix_seconds, UTC).astimezone(MEXICO_CITY).strftime("%Y%m%d"))


def stp_monto(amount: Decimal) -> float:
    """``monto`` as STP's JSON carries it: a number with the centavos (``150.0``, ``99.5``)."""
    return float(exact_json_number(amount))


class FormError(ValueError):
    """A form key Stripe would refuse (``a[b]=1`` and ``a[b][c]=2`` together, junk names)."""


_FORM_KEY = re.compile(r"^([^\[\]]+)((?:\[[^\[\]]*\])*)$")


def bracket_form(pairs: Iterable[tuple[str, str]]) -> dict[str, Any]:
    """Stripe's form encoding read back: ``a[b][c]=1`` nests, ``a[]``/``a[0]`` make lists."""
    root: dict[str, Any] = {}
    for key, value in pairs:
        match = _FORM_KEY.match(key)
        if match is None:
            raise FormError(f"Invalid parameter name: {key}")
        path = [match.group(1), *re.findall(r"\[([^\[\]]*)\]", match.group(2))]
        node = root
        for part in path[:-1]:
            child = node.setdefault(part or str(_next_index(node)), {})
            if not isinstance(child, dict):
                raise FormError(f"Invalid parameter: {key} mixes value and hash")
            node = child
        leaf = path[-1] or str(_next_index(node))
        if isinstance(node.get(leaf), dict):
            raise FormError(f"Invalid parameter: {key} mixes value and hash")
        node[leaf] = value
    # The top level names parameters, even ones that look like numbers.
    return {name: _lists(value) for name, value in root.items()}


def _next_index(node: Mapping[str, Any]) -> int:
    return sum(1 for name in node if name.isdigit())


def _lists(node: Any) -> Any:
    """Objects keyed only by indices become lists in index order, at every depth."""
    if not isinstance(node, dict):
        return node
    items = {name: _lists(value) for name, value in node.items()}
    if items and all(name.isdigit() for name in items):
        return [items[name] for name in sorted(items, key=int)]
    return items


# The 34 fields of STP's registra cadena, in the order STP rebuilds it.
STP_ORDEN_FIELDS: tuple[str, ...] = (
    "institucionContraparte", "empresa", "fechaOperacion", "folioOrigen", "claveRastreo",
    "institucionOperante", "monto", "tipoPago", "tipoCuentaOrdenante", "nombreOrdenante",
    "cuentaOrdenante", "rfcCurpOrdenante", "tipoCuentaBeneficiario", "nombreBeneficiario",
    "cuentaBeneficiario", "rfcCurpBeneficiario", "emailBeneficiario", "tipoCuentaBeneficiario2",
    "nombreBeneficiario2", "cuentaBeneficiario2", "rfcCurpBeneficiario2", "conceptoPago",
    "conceptoPago2", "claveCatUsuario1", "claveCatUsuario2", "clavePago", "referenciaCobranza",
    "referenciaNumerica", "tipoOperacion", "topologia", "usuario", "medioEntrega", "prioridad",
    "iva",
)  # fmt: skip


def stp_cadena(values: Iterable[Any]) -> bytes:
    """``||v1|v2|…||`` as UTF-8: what STP's ``firma`` signs."""
    return ("||" + "|".join("" if v is None else str(v) for v in values) + "||").encode("utf-8")


def stp_cadena_orden(orden: Mapping[str, Any]) -> bytes:
    """The registra cadena: missing fields empty, ``monto``/``iva`` with two decimals."""
    values = []
    for name in STP_ORDEN_FIELDS:
        value = orden.get(name)
        if name in ("monto", "iva") and value not in (None, ""):
            value = f"{Decimal(str(value)):.2f}"
        values.append(value)
    return stp_cadena(values)
