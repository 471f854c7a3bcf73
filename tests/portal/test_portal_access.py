"""One gate in front of the portal's views: every page but the public ones goes through it."""

from __future__ import annotations

import re

import httpx
import pytest
from starlette.applications import Starlette
from starlette.requests import Request
from starlette.responses import PlainTextResponse, Response
from starlette.routing import Route
from tests.support import factories
from tests.support.http import app_client
from tests.support.portal_pay import login

from puente.accounts.models import User
from puente.accounts.service import AuthService
from puente.enums import Role
from puente.portal.access import PUBLIC_PAGES, PortalGate
from puente.portal.routes import portal_routes

pytestmark = pytest.mark.anyio


def _portal_routes(runtime) -> list[tuple[str, str, object]]:
    return [
        (method, route.path, route.endpoint)
        for route in portal_routes(runtime)
        if isinstance(route, Route)
        for method in sorted((route.methods or set()) - {"HEAD"})
    ]


def test_every_portal_page_but_the_public_ones_is_behind_the_gate(runtime):
    routes = _portal_routes(runtime)
    guarded = {(m, p) for m, p, endpoint in routes if getattr(endpoint, "portal_access", None)}
    public = {(m, p) for m, p, _ in routes} - guarded
    assert public == PUBLIC_PAGES
    sessions = {p for _, p, e in routes if getattr(e, "portal_access", None) == "session"}
    assert sessions == {"/seguridad/mfa"}


async def test_a_visitor_without_a_session_is_sent_to_log_in_from_every_page(db, runtime):
    inst = await factories.institution()
    ana = await factories.user(runtime, inst)
    loan = await factories.active_loan(inst, ana, start=runtime.today())

    def concrete(path: str) -> str:
        path = path.replace("{loan_id:int}", str(loan.id)).replace("{uuid}", "0" * 36)
        return re.sub(r"\{\w+:int\}", "1", path)

    gated = [
        (method, concrete(path), access)
        for method, path, endpoint in _portal_routes(runtime)
        if (access := getattr(endpoint, "portal_access", None))
    ]
    paths = {(method, path) for method, path, _ in gated}
    documents = {(method, path) for method, path, access in gated if access == "downloadable"}
    async with app_client(runtime) as client:
        answers = {
            (method, path): await client.request(method, path, data={"csrf_token": "x"})
            for method, path in sorted(paths)
        }
    for stream in (("GET", f"/prestamos/{loan.id}/eventos"), ("GET", "/consola/eventos")):
        assert answers.pop(stream).status_code == 403  # EventSource cannot follow a redirect
    # A document URL (an app fetches it) does not redirect: it is 404 for anyone else.
    assert documents and {answers.pop(key).status_code for key in documents} == {404}
    assert {key: (r.status_code, r.headers.get("location")) for key, r in answers.items()} == {
        key: (303, "/login") for key in answers
    }


async def test_roles_narrow_a_page_to_the_people_it_is_for(db, runtime):
    """``signed_in(roles=…)``: staff pass, a borrower signed in finds nothing there."""
    inst = await factories.institution()
    await factories.user(runtime, inst)
    _, secret = await factories.enrolled_staff(runtime, inst, email="admin@example.mx")
    gate = PortalGate(AuthService(runtime))

    async def staff_page(request: Request, user: User) -> Response:
        return PlainTextResponse(f"hola {user.email}")

    async def sign_in(request: Request) -> Response:
        # The portal's login, without its form: the cookie of a fresh session.
        import pyotp

        email = request.query_params["email"]
        otp = pyotp.TOTP(secret).at(runtime.now()) if email.startswith("admin") else None
        tokens = await gate.auth.login(email, "contrasena-segura-1", otp)
        response = PlainTextResponse("ok")
        response.set_cookie("puente_session", tokens.refresh_token)
        return response

    app = Starlette(
        routes=[
            Route("/entrar", sign_in),
            Route("/caja", gate.signed_in(staff_page, roles={Role.STAFF, Role.ADMIN})),
        ]
    )
    answers = {}
    for email in ("ana@example.mx", "admin@example.mx"):
        transport = httpx.ASGITransport(app=app)
        async with httpx.AsyncClient(transport=transport, base_url="http://testserver") as client:
            await client.get("/entrar", params={"email": email})
            answers[email] = await client.get("/caja")
    assert answers["ana@example.mx"].status_code == 404
    assert answers["admin@example.mx"].text == "hola admin@example.mx"


async def test_a_signed_in_borrower_still_opens_the_pages(db, runtime):
    inst = await factories.institution()
    ana = await factories.user(runtime, inst)
    loan = await factories.active_loan(inst, ana, start=runtime.today())
    async with app_client(runtime) as client:
        await login(client)
        pages = ["/", f"/prestamos/{loan.id}", f"/prestamos/{loan.id}/pagar", "/pagos"]
        answers = {page: (await client.get(page)).status_code for page in pages}
    assert answers == dict.fromkeys(pages, 200)


async def test_a_document_url_takes_the_cookie_or_a_bearer_token_and_is_404_for_anyone_else(
    db, runtime
):
    """``downloadable``: what GraphQL links (receipts, statements) opens for an app's token."""
    inst = await factories.institution()
    await factories.user(runtime, inst)
    gate = PortalGate(AuthService(runtime))

    async def document(request: Request, user: User) -> Response:
        return PlainTextResponse(f"documento de {user.email}")

    async def sign_in(request: Request) -> Response:
        tokens = await gate.auth.login("ana@example.mx", "contrasena-segura-1", None)
        response = PlainTextResponse(tokens.access_token)
        response.set_cookie("puente_session", tokens.refresh_token)
        return response

    app = Starlette(routes=[Route("/entrar", sign_in), Route("/doc", gate.downloadable(document))])
    transport = httpx.ASGITransport(app=app)
    async with httpx.AsyncClient(transport=transport, base_url="http://testserver") as browser:
        access_token = (await browser.get("/entrar")).text
        by_cookie = await browser.get("/doc")
    async with httpx.AsyncClient(transport=transport, base_url="http://testserver") as app_:
        by_bearer = await app_.get("/doc", headers={"Authorization": f"Bearer {access_token}"})
        forged = await app_.get("/doc", headers={"Authorization": "Bearer no-es-un-token"})
        anonymous = await app_.get("/doc")
    assert by_cookie.text == by_bearer.text == "documento de ana@example.mx"
    assert (forged.status_code, anonymous.status_code) == (404, 404)
