"""The demo's mail catcher keeps what real SMTP delivers and shows HTML bodies safely."""

from __future__ import annotations

import httpx
import pytest

from puente.config import Settings
from puente.notifications.channels import Channel, EmailSender, OutgoingMessage

pytestmark = pytest.mark.anyio


async def test_a_mail_is_listed_and_its_html_is_shown_sandboxed(catcher):
    settings = Settings(smtp_host=catcher.host, smtp_port=catcher.port, smtp_starttls=False)
    hostile = '<p>Hola</p><script>alert("x")</script><img src="https://tracker.example/p.gif">'
    message = OutgoingMessage(
        notification_id=1,
        channel=Channel.EMAIL,
        recipient="ana@example.mx",
        subject="<b>Asunto</b> con acentos: ñ",
        text="Hola",
        html=hostile,
    )
    await EmailSender(settings).send(message)
    transport = httpx.ASGITransport(app=catcher.app())
    async with httpx.AsyncClient(transport=transport, base_url="http://test") as client:
        listing = await client.get("/")
        view = await client.get("/1")
        body = await client.get("/1/html")
        missing = await client.get("/2")
    assert (
        "&lt;b&gt;Asunto&lt;/b&gt; con acentos: ñ" in listing.text
        and "<b>Asunto" not in listing.text
    )
    assert '<iframe sandbox title="Cuerpo HTML" src="/1/html"' in view.text
    assert "<script>" not in view.text
    policy = body.headers["content-security-policy"]
    assert policy.startswith("sandbox;") and "default-src 'none'" in policy
    assert "script-src" not in policy and body.text.strip() == hostile
    assert missing.status_code == 404
