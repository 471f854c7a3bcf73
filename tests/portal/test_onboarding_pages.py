"""Portal onboarding: the application form, its documents (owner and staff only), and the
compliance desk."""

from __future__ import annotations

import re

import pyotp
import pytest
from tests.compliance.support import FORM, PDF, PNG
from tests.support import factories
from tests.support.http import app_client

from puente.compliance.models import KycDocument, LoanApplication

pytestmark = pytest.mark.anyio
PASSWORD = "contrasena-segura-1"


def csrf_of(html: str) -> str:
    match = re.search(r'name="csrf_token" value="([^"]+)"', html)
    assert match, "page has no CSRF field"
    return match.group(1)


async def login(client, email: str, otp: str | None = None) -> None:
    page = await client.get("/login")
    data = {"csrf_token": csrf_of(page.text), "email": email, "password": PASSWORD}
    if otp:
        data["otp"] = otp
    response = await client.post("/login", data=data)
    assert response.status_code == 303, response.text


async def post_application(client, product_id: int, **changes):
    page = await client.get("/solicitud")
    assert page.status_code == 200 and "Solicitar un crédito" in page.text
    data = {**FORM, "product_id": str(product_id), "csrf_token": csrf_of(page.text), **changes}
    files = {
        "id_document": ("ine.pdf", PDF, "application/pdf"),
        "proof_of_address": ("recibo.png", PNG, "image/png"),
    }
    return await client.post("/solicitud", data=data, files=files)


async def world(runtime):
    inst = await factories.institution()
    await factories.user(runtime, inst, email="juana@example.mx")
    await factories.user(runtime, inst, email="luis@example.mx")
    _, secret = await factories.enrolled_staff(runtime, inst)
    product = await factories.product(inst)
    return product, secret


async def test_bad_input_is_shown_per_field_in_spanish_and_nothing_is_stored(db, runtime):
    product, _ = await world(runtime)
    async with app_client(runtime) as client:
        await login(client, "juana@example.mx")
        response = await post_application(client, product.id, curp="PEMJ900515MJCRRN08")
    assert response.status_code == 422
    assert "El dígito verificador de la CURP no coincide" in response.text
    assert 'value="Juana"' in response.text  # what was typed stays in the form
    assert await LoanApplication.all().count() == 0 and await KycDocument.all().count() == 0


async def test_documents_are_served_to_their_owner_and_staff_only(db, runtime, clock):
    product, secret = await world(runtime)
    async with app_client(runtime) as juana:
        await login(juana, "juana@example.mx")
        created = await post_application(juana, product.id)
        assert created.status_code == 303
        page = await juana.get(created.headers["location"])
        links = re.findall(r'href="(/solicitud/\d+/documentos/\d+)"', page.text)
        mine = await juana.get(links[0])
    async with app_client(runtime) as luis:
        await login(luis, "luis@example.mx")
        theirs = [await luis.get(link) for link in links]
        their_page = await luis.get(created.headers["location"])
    async with app_client(runtime) as staff:
        await login(staff, "caja@example.mx", pyotp.TOTP(secret).at(clock.now))
        as_staff = await staff.get(links[0])
        desk = await staff.get("/cumplimiento")
    async with app_client(runtime) as anonymous:
        nobody = await anonymous.get(links[0])
    assert len(links) == 2 and mine.status_code == 200 and mine.content in (PDF, PNG)
    assert mine.headers["x-content-type-options"] == "nosniff"
    assert [r.status_code for r in theirs] == [404, 404] and their_page.status_code == 404
    assert as_staff.status_code == 200 and as_staff.content == mine.content
    assert nobody.status_code == 303 and nobody.headers["location"] == "/login"
    assert desk.status_code == 200 and "Juana Pérez Martínez" in desk.text


async def test_a_borrower_does_not_see_the_compliance_desk(db, runtime):
    await world(runtime)
    async with app_client(runtime) as client:
        await login(client, "juana@example.mx")
        desk = await client.get("/cumplimiento")
    assert desk.status_code == 404
