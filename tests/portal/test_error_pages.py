"""People get error pages in Spanish in the portal's layout; machines keep plain answers."""

from __future__ import annotations

import pytest
from starlette.routing import Route
from tests.support.http import app_client

pytestmark = pytest.mark.anyio


async def test_an_unknown_url_is_a_spanish_page_in_the_portal_layout(db, runtime):
    async with app_client(runtime) as client:
        page = await client.get("/no-existe")
    assert page.status_code == 404
    assert page.headers["content-type"].startswith("text/html")
    assert '<html lang="es-MX">' in page.text and "Página no encontrada" in page.text
    assert 'class="skip-link"' in page.text and "Volver al inicio" in page.text
    assert "Not Found" not in page.text


async def test_a_method_the_page_does_not_take_is_a_spanish_page(db, runtime):
    async with app_client(runtime) as client:
        page = await client.delete("/simulador")
    assert page.status_code == 405 and "Acción no permitida" in page.text


async def test_a_crash_is_a_spanish_500_page_without_a_trace(db, runtime):
    async def broken(request):
        raise RuntimeError("secreto interno")

    routes = [Route("/falla", broken)]
    app = app_client(runtime, extra_routes=routes)
    app._transport.raise_app_exceptions = False  # answer as a server would, not re-raise
    async with app as client:
        page = await client.get("/falla")
    assert page.status_code == 500
    assert "Algo salió mal" in page.text and "secreto interno" not in page.text
    assert '<html lang="es-MX">' in page.text


async def test_machine_doors_keep_their_plain_answers(db, runtime):
    async with app_client(runtime) as client:
        webhook = await client.get("/webhooks/nadie")
        static = await client.get("/static/no-existe.css")
    assert webhook.status_code in (404, 405) and "<html" not in webhook.text
    assert static.status_code == 404 and "<html" not in static.text
