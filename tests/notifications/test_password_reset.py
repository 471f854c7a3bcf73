"""Password reset: an emailed single-use link that expires; the token is stored hashed."""

from __future__ import annotations

import re
from datetime import timedelta

import pytest
from tests.notifications.test_notices import wait_for_mail
from tests.support import factories
from tests.support.http import app_client, graphql
from tests.support.portal_pay import csrf_of

from puente.accounts.models import PasswordResetToken
from puente.accounts.service import AuthFailure, AuthService, AuthTokens
from puente.notifications import drain_deliveries

pytestmark = pytest.mark.anyio
NEW = "otra-contrasena-larga-2"


async def link_from_mail(catcher) -> str:
    await drain_deliveries()
    await wait_for_mail(catcher, 1)
    (mail,) = catcher.messages()
    assert mail.subject == "Restablece tu contraseña"
    return re.search(r"http://\S+/recuperar/(\S+)", mail.part("plain") or "").group(1)


async def test_the_portal_resets_a_password_once_with_the_emailed_link(db, mail_runtime, catcher):
    inst = await factories.institution()
    await factories.user(mail_runtime, inst)
    async with app_client(mail_runtime, run_workers=False) as browser:
        page = await browser.get("/recuperar")
        unknown = await browser.post(
            "/recuperar", data={"csrf_token": csrf_of(page.text), "email": "nadie@example.mx"}
        )
        known = await browser.post(
            "/recuperar", data={"csrf_token": csrf_of(page.text), "email": "ana@example.mx"}
        )
        token = await link_from_mail(catcher)
        form = await browser.get(f"/recuperar/{token}")
        data = {"csrf_token": csrf_of(form.text), "nueva": NEW, "confirmacion": NEW}
        done = await browser.post(f"/recuperar/{token}", data=data)
        again = await browser.post(f"/recuperar/{token}", data=data)
    assert unknown.status_code == known.status_code == 200
    assert (
        "Si el correo está registrado" in unknown.text
        and "Si el correo está registrado" in known.text
    )
    assert (await PasswordResetToken.get()).token_hash != token  # only its hash is stored
    assert done.status_code == 303 and done.headers["location"] == "/login?restablecida=1"
    assert again.status_code == 400 and "ya se usó" in again.text
    auth = AuthService(mail_runtime)
    assert isinstance(await auth.login("ana@example.mx", NEW), AuthTokens)
    assert isinstance(await auth.login("ana@example.mx", "contrasena-segura-1"), AuthFailure)


async def test_graphql_reset_refuses_an_expired_link_and_a_weak_password(
    db, mail_runtime, catcher, clock
):
    inst = await factories.institution()
    await factories.user(mail_runtime, inst)
    ask = 'mutation { requestPasswordReset(email: "ana@example.mx") }'
    reset = """mutation($t: String!, $p: String!) { resetPassword(token: $t, newPassword: $p) {
        __typename ... on AuthError { code message } } }"""
    async with app_client(mail_runtime, run_workers=False) as client:
        assert (await graphql(client, ask))["data"] == {"requestPasswordReset": True}
        token = await link_from_mail(catcher)
        weak = await graphql(client, reset, {"t": token, "p": "corta"})
        clock.now += timedelta(seconds=mail_runtime.settings.password_reset_ttl_seconds + 1)
        late = await graphql(client, reset, {"t": token, "p": NEW})
    assert weak["data"]["resetPassword"]["code"] == "WEAK_PASSWORD"
    assert late["data"]["resetPassword"]["code"] == "INVALID_RESET_LINK"
    assert isinstance(
        await AuthService(mail_runtime).login("ana@example.mx", "contrasena-segura-1"), AuthTokens
    )
