"""A mail catcher for ``puente demo``: an SMTP server (aiosmtpd) and ``/correo`` to read it.

Everything the app sends by email lands here instead of in someone's inbox. The list and
each message are plain pages; a message's HTML body is served on its own URL under a CSP
``sandbox`` (no script, no external loads, an opaque origin) and shown in a sandboxed iframe.
"""

from __future__ import annotations

import socket
import threading
from dataclasses import dataclass
from datetime import UTC, datetime
from email import message_from_bytes, policy
from email.message import EmailMessage
from html import escape
from typing import Any

from aiosmtpd.controller import Controller
from starlette.applications import Starlette
from starlette.requests import Request
from starlette.responses import HTMLResponse, Response
from starlette.routing import Route

from puente_sandbox.pages import html_page

__all__ = ["CaughtMail", "MailCatcher"]


@dataclass(frozen=True, slots=True)
class CaughtMail:
    id: int
    received_at: datetime
    sender: str
    recipients: tuple[str, ...]
    message: EmailMessage

    @property
    def subject(self) -> str:
        return str(self.message.get("Subject", ""))

    def part(self, subtype: str) -> str | None:
        body = self.message.get_body(preferencelist=(subtype,))
        return body.get_content() if body is not None else None  # type: ignore[union-attr]

    def attachments(self) -> list[tuple[str, str, bytes]]:
        return [
            (a.get_filename() or "adjunto", a.get_content_type(), a.get_payload(decode=True))
            for a in self.message.iter_attachments()
        ]


class _Handler:
    def __init__(self, catcher: MailCatcher) -> None:
        self.catcher = catcher

    async def handle_DATA(self, server: Any, session: Any, envelope: Any) -> str:  # noqa: N802
        message = message_from_bytes(
            envelope.original_content or envelope.content, policy=policy.default
        )
        self.catcher.keep(envelope.mail_from, tuple(envelope.rcpt_tos), message)  # type: ignore[arg-type]
        return "250 Message accepted for delivery"


def _free_port(host: str) -> int:
    with socket.socket() as probe:
        probe.bind((host, 0))
        return int(probe.getsockname()[1])


class MailCatcher:
    """SMTP on ``host:port`` (a free port unless given), messages kept in memory."""

    def __init__(self, host: str = "127.0.0.1", port: int | None = None) -> None:
        self.host = host
        self.port = port or _free_port(host)
        self._mail: list[CaughtMail] = []
        self._lock = threading.Lock()
        self._controller = Controller(_Handler(self), hostname=host, port=self.port)

    def start(self) -> MailCatcher:
        self._controller.start()
        self.running = True
        return self

    def stop(self) -> None:
        if getattr(self, "running", False):
            self.running = False
            self._controller.stop()

    def keep(self, sender: str, recipients: tuple[str, ...], message: EmailMessage) -> None:
        with self._lock:
            self._mail.append(
                CaughtMail(len(self._mail) + 1, datetime.now(UTC), sender, recipients, message)
            )

    def messages(self) -> list[CaughtMail]:
        with self._lock:
            return list(self._mail)

    def get(self, mail_id: int) -> CaughtMail | None:
        with self._lock:
            return self._mail[mail_id - 1] if 0 < mail_id <= len(self._mail) else None

    def app(self) -> Starlette:
        """``/`` the list, ``/{id}`` a message, ``/{id}/html`` its body, ``/{id}/adjuntos/{n}``."""
        return Starlette(
            routes=[
                Route("/", self._list),
                Route("/{mail_id:int}", self._view),
                Route("/{mail_id:int}/html", self._html),
                Route("/{mail_id:int}/adjuntos/{index:int}", self._attachment),
            ]
        )

    async def _list(self, request: Request) -> Response:
        base = request.scope.get("root_path", "")
        rows = "".join(
            f"<tr><td>{mail.received_at:%Y-%m-%d %H:%M:%S}</td>"
            f"<td>{escape(', '.join(mail.recipients))}</td>"
            f'<td><a href="{escape(base)}/{mail.id}">'
            f"{escape(mail.subject or '(sin asunto)')}</a></td>"
            f"<td>{len(mail.attachments())}</td></tr>"
            for mail in reversed(self.messages())
        )
        body = (
            f"<p>SMTP en <code>{escape(self.host)}:{self.port}</code>. El más reciente primero.</p>"
            '<table border="1" cellpadding="4"><thead><tr><th>Recibido (UTC)</th><th>Para</th>'
            f"<th>Asunto</th><th>Adjuntos</th></tr></thead><tbody>{rows}</tbody></table>"
        )
        return html_page("Correo enviado por Puente", body)

    async def _view(self, request: Request) -> Response:
        mail = self.get(request.path_params["mail_id"])
        if mail is None:
            return html_page("Correo no encontrado", "", status_code=404)
        base = f"{request.scope.get('root_path', '')}/{mail.id}"
        files = "".join(
            f'<li><a href="{escape(base)}/adjuntos/{n}">{escape(name)}</a> ({escape(kind)})</li>'
            for n, (name, kind, _) in enumerate(mail.attachments())
        )
        html_part = mail.part("html")
        body = (
            f"<p><b>De:</b> {escape(str(mail.message.get('From', '')))}<br>"
            f"<b>Para:</b> {escape(', '.join(mail.recipients))}<br>"
            f"<b>Asunto:</b> {escape(mail.subject)}</p>"
            + (f"<h2>Adjuntos</h2><ul>{files}</ul>" if files else "")
            + (
                f'<h2>HTML</h2><iframe sandbox title="Cuerpo HTML" src="{escape(base)}/html" '
                'width="100%" height="420"></iframe>'
                if html_part
                else ""
            )
            + f"<h2>Texto</h2><pre>{escape(mail.part('plain') or '')}</pre>"
        )
        response = html_page(mail.subject or "(sin asunto)", body)
        response.headers["content-security-policy"] = (
            "default-src 'none'; frame-src 'self'; frame-ancestors 'none'"
        )
        return response

    async def _html(self, request: Request) -> Response:
        mail = self.get(request.path_params["mail_id"])
        html_part = mail.part("html") if mail else None
        if html_part is None:
            return Response("no encontrado", status_code=404, media_type="text/plain")
        # The body is the app's HTML, but it is shown as mail clients do: no script, no
        # network, an origin of its own (CSP sandbox), framed only by the message page.
        return HTMLResponse(
            html_part,
            headers={
                "content-security-policy": (
                    "sandbox; default-src 'none'; style-src 'unsafe-inline'; img-src data:; "
                    "frame-ancestors 'self'"
                ),
                "x-frame-options": "SAMEORIGIN",
            },
        )

    async def _attachment(self, request: Request) -> Response:
        mail = self.get(request.path_params["mail_id"])
        files = mail.attachments() if mail else []
        index = request.path_params["index"]
        if not 0 <= index < len(files):
            return Response("no encontrado", status_code=404, media_type="text/plain")
        name, kind, content = files[index]
        safe = "".join(ch for ch in name if ch.isalnum() or ch in "._-") or "adjunto"
        return Response(
            content,
            media_type=kind,
            headers={"content-disposition": f'attachment; filename="{safe}"'},
        )
