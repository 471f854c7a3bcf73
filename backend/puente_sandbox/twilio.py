"""Twilio Programmable Messaging simulator: SMS and WhatsApp, with signed status callbacks.

Speaks Twilio's own paths and wire format (from its Message resource documentation):

    POST /2010-04-01/Accounts/{AccountSid}/Messages.json        form: To, From, Body, StatusCallback
    GET  /2010-04-01/Accounts/{AccountSid}/Messages/{Sid}.json   the message resource
    GET  /                                                       the messages, for humans

HTTP basic auth is the Account SID and the Auth Token (else 401, error 20003). A new message
answers 201 ``queued``; then, after the response, the StatusCallback URL receives ``sent``
and ``delivered`` — or ``undelivered`` with ErrorCode 30003 for a number ending in 0000 —
as form POSTs signed with X-Twilio-Signature: base64 HMAC-SHA1, keyed by the Auth Token,
of the callback URL followed by each parameter name and value in name order.
"""

from __future__ import annotations

import base64
import binascii
import hashlib
import hmac
import logging
import re
import secrets
from collections.abc import Mapping
from dataclasses import dataclass, field
from email.utils import formatdate
from html import escape
from typing import Any

import httpx
from starlette.applications import Starlette
from starlette.background import BackgroundTask
from starlette.requests import Request
from starlette.responses import JSONResponse, Response
from starlette.routing import Route

from puente_sandbox.credentials import sandbox_credentials
from puente_sandbox.pages import html_page

__all__ = ["DEFAULT_TWILIO_CREDENTIALS", "TwilioSimulator", "create_twilio_sandbox"]

logger = logging.getLogger("puente_sandbox")

DEFAULT_TWILIO_CREDENTIALS = sandbox_credentials("twilio")
API = "/2010-04-01/Accounts/{account_sid}"
E164 = re.compile(r"^(whatsapp:)?\+[1-9]\d{7,14}$")


def _error(status: int, code: int, message: str) -> JSONResponse:
    return JSONResponse(
        {
            "code": code,
            "message": message,
            "more_info": f"https://www.twilio.com/docs/errors/{code}",
            "status": status,
        },
        status_code=status,
    )


def sign_callback(auth_token: str, url: str, params: Mapping[str, str]) -> str:
    """Twilio's X-Twilio-Signature for a form POST to ``url``."""
    data = url + "".join(name + params[name] for name in sorted(params))
    return base64.b64encode(
        hmac.new(auth_token.encode(), data.encode(), hashlib.sha1).digest()
    ).decode()


@dataclass
class TwilioSimulator:
    account_sid: str
    auth_token: str
    transport: httpx.AsyncBaseTransport | None = None
    messages: dict[str, dict[str, Any]] = field(default_factory=dict)
    callbacks: list[tuple[str, str, int | None]] = field(default_factory=list)  # sid, status, code

    def authorised(self, request: Request) -> bool:
        header = request.headers.get("authorization", "")
        if not header.lower().startswith("basic "):
            return False
        try:
            user, _, password = base64.b64decode(header[6:]).decode().partition(":")
        except (binascii.Error, UnicodeDecodeError):
            return False
        return hmac.compare_digest(user, self.account_sid) and hmac.compare_digest(
            password, self.auth_token
        )

    async def create(self, request: Request) -> Response:
        if request.path_params["account_sid"] != self.account_sid or not self.authorised(request):
            return _error(401, 20003, "Authenticate")
        form = await request.form()
        to, sender, body = (str(form.get(k, "")) for k in ("To", "From", "Body"))
        if not to:
            return _error(400, 21604, "A 'To' phone number is required.")
        if not E164.match(to):
            return _error(400, 21211, f"Invalid 'To' Phone Number: {to}")
        if not sender:
            return _error(400, 21603, "A 'From' phone number is required.")
        if not body:
            return _error(400, 21602, "Message body is required.")
        sid = "SM" + secrets.token_hex(16)
        now = formatdate(usegmt=True)
        message = {
            "sid": sid,
            "account_sid": self.account_sid,
            "to": to,
            "from": sender,
            "body": body,
            "status": "queued",
            "num_segments": str(max(1, -(-len(body) // 153))),
            "direction": "outbound-api",
            "api_version": "2010-04-01",
            "date_created": now,
            "date_updated": now,
            "date_sent": None,
            "error_code": None,
            "error_message": None,
            "price": None,
            "price_unit": "USD",
            "messaging_service_sid": None,
            "uri": f"{API.format(account_sid=self.account_sid)}/Messages/{sid}.json",
        }
        self.messages[sid] = message
        callback = str(form.get("StatusCallback", "")) or None
        task = BackgroundTask(self.report, sid, callback) if callback else None
        return JSONResponse(message, status_code=201, background=task)

    async def fetch(self, request: Request) -> Response:
        if request.path_params["account_sid"] != self.account_sid or not self.authorised(request):
            return _error(401, 20003, "Authenticate")
        message = self.messages.get(request.path_params["sid"])
        if message is None:
            return _error(404, 20404, "The requested resource was not found")
        return JSONResponse(message)

    async def report(self, sid: str, url: str) -> None:
        """What the carrier did: sent, then delivered (or undelivered), each a signed POST."""
        message = self.messages[sid]
        fails = message["to"].endswith("0000")
        for status, code in (
            ("sent", None),
            ("undelivered" if fails else "delivered", 30003 if fails else None),
        ):
            message["status"] = status
            if code:
                message["error_code"] = code
            params = {
                "AccountSid": self.account_sid,
                "ApiVersion": "2010-04-01",
                "From": message["from"],
                "MessageSid": sid,
                "MessageStatus": status,
                "SmsSid": sid,
                "SmsStatus": status,
                "To": message["to"],
            }
            if code:
                params["ErrorCode"] = str(code)
            headers = {"X-Twilio-Signature": sign_callback(self.auth_token, url, params)}
            answer: int | None = None
            try:
                async with httpx.AsyncClient(transport=self.transport, timeout=10) as client:
                    answer = (await client.post(url, data=params, headers=headers)).status_code
            except httpx.HTTPError:
                logger.warning("twilio sandbox: status callback to %s failed", url)
            self.callbacks.append((sid, status, answer))

    async def index(self, request: Request) -> Response:
        rows = "".join(
            f"<tr><td><code>{escape(m['sid'])}</code></td><td>{escape(m['to'])}</td>"
            f"<td>{escape(m['status'])}</td><td>{escape(m['body'])}</td></tr>"
            for m in reversed(list(self.messages.values()))
        )
        body = (
            '<table border="1" cellpadding="4"><thead><tr><th>Sid</th><th>To</th><th>Status</th>'
            f"<th>Body</th></tr></thead><tbody>{rows}</tbody></table>"
        )
        return html_page("Twilio sandbox: messages", body)


def create_twilio_sandbox(
    credentials: Mapping[str, str] | None = None,
    transport: httpx.AsyncBaseTransport | None = None,
) -> Starlette:
    """The simulator as an ASGI app; ``app.state.simulator`` holds its messages."""
    values = {**DEFAULT_TWILIO_CREDENTIALS, **(credentials or {})}
    simulator = TwilioSimulator(values["account_sid"], values["auth_token"], transport)
    base = "/2010-04-01/Accounts/{account_sid}"
    app = Starlette(
        routes=[
            Route("/", simulator.index),
            Route(f"{base}/Messages.json", simulator.create, methods=["POST"]),
            Route(f"{base}/Messages/{{sid}}.json", simulator.fetch),
        ]
    )
    app.state.simulator = simulator
    return app
