"""Tiny HTML pages for sandbox humans: pending references with a button to "pay" them.

Plain HTML and form POSTs only: no script, no styles beyond the browser's, every value escaped.
"""

from __future__ import annotations

from collections.abc import Iterable
from html import escape

from starlette.responses import HTMLResponse

from puente.money import format_mxn
from puente_sandbox.core import PendingReference

__all__ = ["html_page", "instructions_page", "pay_form", "references_table"]

_METHOD_LABEL = {"spei": "SPEI transfer", "cash": "Cash (OXXO)"}


def html_page(title: str, body: str, status_code: int = 200) -> HTMLResponse:
    """A complete, minimal HTML document."""
    document = (
        '<!doctype html>\n<html lang="en"><head><meta charset="utf-8">'
        f"<title>{escape(title)}</title></head>\n<body>\n<h1>{escape(title)}</h1>\n{body}\n"
        "<p><small>Puente sandbox: simulated provider, no real money moves.</small></p>\n"
        "</body></html>\n"
    )
    return HTMLResponse(document, status_code=status_code)


def pay_form(action: str, next_url: str, label: str = "Simulate payment") -> str:
    """A form that POSTs to a simulator's ``/_references/{id}/pay`` and comes back."""
    return (
        f'<form method="post" action="{escape(action)}">'
        f'<input type="hidden" name="next" value="{escape(next_url)}">'
        f'<button type="submit">{escape(label)}</button></form>'
    )


def references_table(rows: Iterable[tuple[str, PendingReference]], next_url: str) -> str:
    """A table of pending references; ``rows`` pairs each with its simulator's URL prefix."""
    lines = [
        '<table border="1" cellpadding="4"><thead><tr><th>Provider</th><th>Method</th>'
        "<th>Id</th><th>Amount due</th><th>Reference</th><th>CLABE</th><th>Expires</th>"
        "<th></th></tr></thead><tbody>"
    ]
    count = 0
    for prefix, ref in rows:
        count += 1
        action = f"{prefix}/_references/{ref.id}/pay"
        expires = ref.expires_at.strftime("%Y-%m-%d %H:%M UTC") if ref.expires_at else ""
        method = _METHOD_LABEL.get(ref.method, ref.method)
        lines.append(
            "<tr>"
            f"<td>{escape(ref.provider)}</td><td>{escape(method)}</td>"
            f"<td><code>{escape(ref.id)}</code></td><td>{escape(format_mxn(ref.amount))}</td>"
            f"<td><code>{escape(ref.reference or '')}</code></td>"
            f"<td><code>{escape(ref.clabe or '')}</code></td><td>{escape(expires)}</td>"
            f"<td>{pay_form(action, next_url)}</td></tr>"
        )
    if not count:
        lines.append('<tr><td colspan="8">No pending references.</td></tr>')
    lines.append("</tbody></table>")
    return "\n".join(lines)


def instructions_page(
    title: str, rows: list[tuple[str, str]], pay_action: str, next_url: str, payable: bool
) -> HTMLResponse:
    """The payer's page for one reference (voucher or transfer details) with a pay button."""
    table = "".join(
        f"<tr><th>{escape(label)}</th><td><code>{escape(value)}</code></td></tr>"
        for label, value in rows
    )
    body = f"<table>{table}</table>"
    if payable:
        body += pay_form(pay_action, next_url, "Simulate the payer paying")
    return html_page(title, body)
