"""SMS through Twilio's Messaging API (its simulator), and its signed status callbacks."""

from __future__ import annotations

import httpx
import pytest
from tests.support import factories

from puente.accounts.users import create_borrower_profile
from puente.app import create_app
from puente.notifications.models import (
    Channel,
    DeliveryStatus,
    Notification,
    NotificationPreference,
)
from puente.notifications.service import deliver, store_notice
from puente_sandbox.twilio import DEFAULT_TWILIO_CREDENTIALS, create_twilio_sandbox, sign_callback

pytestmark = pytest.mark.anyio
CALLBACK = "http://testserver/webhooks/twilio/estado?n=1"


def twilio_settings(runtime, **changes):
    creds = DEFAULT_TWILIO_CREDENTIALS
    values = {
        "base_url": "http://testserver",
        "twilio_account_sid": creds["account_sid"],
        "twilio_auth_token": creds["auth_token"],
        "twilio_from": creds["from"],
        "twilio_api_url": "http://twilio.test",
    }
    return runtime.settings.with_overrides(**(values | changes))


async def sms_borrower(runtime, phone: str):
    inst = await factories.institution()
    ana = await factories.user(runtime, inst)
    await create_borrower_profile(runtime, ana, phone=phone)
    await NotificationPreference.create(user_id=ana.id, email=False, sms=True)
    return ana


async def send_sms(runtime, phone: str, **settings_changes: str):
    """One overdue notice by SMS through the simulator, whose reports reach the app."""
    runtime.settings = twilio_settings(runtime, **settings_changes)
    ana = await sms_borrower(runtime, phone)
    app = create_app(runtime, manage_database=False, run_workers=False)
    twilio = create_twilio_sandbox(transport=httpx.ASGITransport(app=app))
    context = {
        "credito": "Préstamo #1",
        "credito_id": 1,
        "numero": 1,
        "vence": runtime.today(),
        "monto": "100.00",
    }
    (row,) = await store_notice(
        runtime.settings, kind="overdue", user_id=ana.id, context=context, dedupe_key="sms-1"
    )
    status = await deliver(
        runtime.settings, row.id, runtime.now(), transport=httpx.ASGITransport(app=twilio)
    )
    return status, await Notification.get(id=row.id), twilio.state.simulator, app


async def test_an_sms_is_sent_and_its_signed_delivery_report_recorded(db, runtime):
    status, row, simulator, _ = await send_sms(runtime, "3312345678")
    assert status is DeliveryStatus.SENT and row.channel is Channel.SMS
    (message,) = simulator.messages.values()
    assert message["to"] == "+523312345678" and message["sid"] == row.provider_id
    assert "venció" in message["body"]
    assert [(s, code) for _, s, code in simulator.callbacks] == [("sent", 204), ("delivered", 204)]
    assert row.status is DeliveryStatus.DELIVERED and row.delivered_at is not None


async def test_an_undelivered_sms_is_recorded_with_twilio_s_code(db, runtime):
    _, row, _, _ = await send_sms(runtime, "3310000000")
    assert row.status is DeliveryStatus.UNDELIVERED and row.last_error == "Twilio 30003"


async def test_a_forged_status_callback_changes_nothing(db, runtime):
    _, row, simulator, app = await send_sms(runtime, "3310000000")
    params = {
        "AccountSid": DEFAULT_TWILIO_CREDENTIALS["account_sid"],
        "MessageSid": row.provider_id,
        "MessageStatus": "delivered",
    }
    forged = sign_callback("otra-clave", CALLBACK, params)
    async with httpx.AsyncClient(
        transport=httpx.ASGITransport(app=app), base_url="http://testserver"
    ) as client:
        bad = await client.post(
            "/webhooks/twilio/estado?n=1", data=params, headers={"X-Twilio-Signature": forged}
        )
        unsigned = await client.post("/webhooks/twilio/estado?n=1", data=params)
    assert (bad.status_code, unsigned.status_code) == (403, 403)
    assert (await Notification.get(id=row.id)).status is DeliveryStatus.UNDELIVERED


async def test_wrong_credentials_fail_the_sms_for_good(db, runtime):
    status, row, simulator, _ = await send_sms(
        runtime, "3312345678", twilio_auth_token="no-es-el-token"
    )
    assert status is DeliveryStatus.FAILED and row.last_error == "Twilio 401 (20003)"
    assert simulator.messages == {}
