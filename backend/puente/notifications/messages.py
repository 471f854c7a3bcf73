"""Rendering a notice: one Spanish template per kind, one block per part (pure, no database).

``frontend/templates/notificaciones/<kind>.txt`` holds the blocks ``subject``, ``text``,
``html`` and ``sms``; the HTML block is rendered with autoescaping, the others as text.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import date, datetime
from decimal import Decimal
from functools import cache
from typing import Any

from jinja2 import Environment, FileSystemLoader, StrictUndefined, Template

from puente.frontend import FRONTEND_DIR
from puente.money import format_mxn
from puente.runtime import MEXICO_CITY

__all__ = ["KINDS", "RenderedNotice", "render_notice"]

# Every kind a notice may be, each with its template file.
KINDS = frozenset(
    {
        "payment_instructions",
        "receipt",
        "payment_declined",
        "reminder",
        "overdue",
        "mandate_confirmation",
        "mandate_revoked",
        "statement",
        "password_reset",
    }
)

MONTHS = (
    "enero febrero marzo abril mayo junio julio agosto septiembre octubre noviembre diciembre"
).split()


@dataclass(frozen=True, slots=True)
class RenderedNotice:
    subject: str
    text: str
    html: str
    sms: str


def _mxn(value: object) -> str:
    if isinstance(value, float):
        raise TypeError("money is never a float")  # templates refuse floats too
    return format_mxn(value if isinstance(value, Decimal) else Decimal(str(value)))


def _fecha(value: object) -> str:
    if isinstance(value, datetime):
        local = value.astimezone(MEXICO_CITY)
        return f"{local.day} de {MONTHS[local.month - 1]} de {local.year}, {local:%H:%M}"
    if isinstance(value, date):
        return f"{value.day} de {MONTHS[value.month - 1]} de {value.year}"
    return str(value)


@cache
def _environments() -> tuple[Environment, Environment]:
    loader = FileSystemLoader(str(FRONTEND_DIR / "templates" / "notificaciones"))
    made = []
    for escape in (False, True):
        env = Environment(
            loader=loader, autoescape=escape, undefined=StrictUndefined, keep_trailing_newline=False
        )
        env.filters["mxn"] = _mxn
        env.filters["fecha"] = _fecha
        made.append(env)
    return made[0], made[1]


def _block(template: Template, name: str, context: dict[str, Any]) -> str:
    return "".join(template.blocks[name](template.new_context(context))).strip()


def render_notice(kind: str, context: dict[str, Any]) -> RenderedNotice:
    """The subject, plain text, HTML and SMS text of a notice of ``kind``."""
    if kind not in KINDS:
        raise ValueError(f"unknown notice kind {kind!r}")
    text_env, html_env = _environments()
    text, html = text_env.get_template(f"{kind}.txt"), html_env.get_template(f"{kind}.txt")
    return RenderedNotice(
        subject=_block(text, "subject", context),
        text=_block(text, "text", context),
        html=_block(html, "html", context),
        sms=_block(text, "sms", context),
    )
