"""The public simulador de crédito: figures as the person types, Spanish errors, no script."""

from __future__ import annotations

import pytest
from tests.support.http import app_client

pytestmark = pytest.mark.anyio

EXAMPLE_A = {  # mexico.md §1.4: 10,000 MXN, 12 monthly payments at 60 %, no fees, no IVA
    "monto": "10,000",
    "tasa": "60",
    "plazo": "12",
    "periodicidad": "MONTHLY",
    "metodo": "FRENCH",
    "iva": "0",
    "comision": "0",
}


async def test_the_simulator_page_is_public_and_updates_through_htmx(db, runtime):
    async with app_client(runtime) as client:
        page = await client.get("/simulador")
    assert page.status_code == 200
    html = page.text
    assert "Simulador de crédito" in html
    assert 'hx-get="/simulador/resultado"' in html
    assert 'hx-trigger="input changed delay:300ms, change, submit"' in html
    assert "<script>" not in html and " on" + "input=" not in html  # CSP: no inline script
    for name in ("monto", "tasa", "plazo", "periodicidad", "metodo", "iva", "comision"):
        assert f'name="{name}"' in html
    assert 'data-testid="installment">$' in html and " MXN<" in html  # default figures


async def test_the_partial_shows_installment_total_cost_and_cat(db, runtime):
    async with app_client(runtime) as client:
        partial = await client.get("/simulador/resultado", params=EXAMPLE_A)
        with_fee = await client.get("/simulador/resultado", params={**EXAMPLE_A, "comision": "3"})
    assert partial.status_code == 200
    assert "<html" not in partial.text  # a fragment, swapped into the page
    assert 'data-testid="installment">$1,128.25 MXN<' in partial.text
    assert 'data-testid="cat">79.6%' in partial.text
    assert 'data-testid="cost">$3,539.08 MXN<' in partial.text  # paid in all − 10,000
    assert 'data-testid="cat">91.1%' in with_fee.text  # example B: 3 % fee withheld


async def test_the_full_page_computes_without_javascript_too(db, runtime):
    async with app_client(runtime) as client:
        page = await client.get("/simulador", params=EXAMPLE_A)
    assert 'value="10,000"' in page.text
    assert 'data-testid="installment">$1,128.25 MXN<' in page.text


@pytest.mark.parametrize(
    ("field", "value", "message"),
    [
        ("monto", "abc", "Escribe el monto en pesos"),
        ("monto", "0", "Escribe el monto en pesos"),
        ("monto", "10.001", "Escribe el monto en pesos"),
        ("tasa", "treinta", "Escribe la tasa anual en porcentaje"),
        ("tasa", "5000", "Escribe la tasa anual en porcentaje"),
        ("plazo", "0", "Escribe el plazo como un número entero"),
        ("plazo", "1.5", "Escribe el plazo como un número entero"),
        ("periodicidad", "DIARIA", "Elige la periodicidad"),
        ("iva", "200", "Escribe el IVA en porcentaje"),
        ("comision", "100", "Escribe la comisión por apertura"),
    ],
)
async def test_bad_input_shows_a_clear_spanish_message_not_an_error(
    db, runtime, field, value, message
):
    async with app_client(runtime) as client:
        partial = await client.get("/simulador/resultado", params={**EXAMPLE_A, field: value})
        page = await client.get("/simulador", params={**EXAMPLE_A, field: value})
    assert partial.status_code == 200 and page.status_code == 200
    assert f'id="simulador-error" data-field="{field}">{message}' in partial.text
    assert message in page.text
    assert 'data-testid="installment"' not in partial.text


@pytest.mark.parametrize(
    "changes",
    [
        # 204 installments of 0.00 / 519 interest-only rows and a balloon before (issue 8).
        {"monto": "100,000", "tasa": "200", "plazo": "520", "periodicidad": "WEEKLY"},
        {"monto": "10,000", "tasa": "200", "plazo": "520", "periodicidad": "WEEKLY"},
        {"monto": "1.00", "plazo": "600", "metodo": "GERMAN"},
    ],
)
async def test_a_degenerate_schedule_is_explained_not_shown(db, runtime, changes):
    async with app_client(runtime) as client:
        partial = await client.get("/simulador/resultado", params={**EXAMPLE_A, **changes})
    assert partial.status_code == 200
    assert 'id="simulador-error" data-field="plazo">Con ese monto y esa tasa' in partial.text
    assert 'data-testid="installment"' not in partial.text


async def test_a_vanishing_rate_simulates_without_interest(db, runtime):
    params = {**EXAMPLE_A, "tasa": "0.000000000000000000000000001"}
    async with app_client(runtime) as client:
        partial = await client.get("/simulador/resultado", params=params)
    assert 'data-testid="installment">$833.33 MXN<' in partial.text


async def test_the_inputs_stay_in_the_url_and_the_result_ends_with_a_call_to_apply(db, runtime):
    from urllib.parse import parse_qs, urlsplit

    async with app_client(runtime) as client:
        partial = await client.get(
            "/simulador/resultado", params=EXAMPLE_A, headers={"HX-Request": "true"}
        )
        page = await client.get("/simulador")
    pushed = urlsplit(partial.headers["hx-push-url"])
    assert pushed.path == "/simulador"
    assert {k: v[0] for k, v in parse_qs(pushed.query).items()} == EXAMPLE_A  # shareable
    assert 'data-testid="share-link" href="/simulador?' in partial.text
    assert 'data-testid="apply-cta"' in partial.text
    assert "Tasa de interés anual (%" in page.text  # the unit in the label


async def test_a_field_in_error_is_marked_invalid_for_screen_readers(db, runtime):
    async with app_client(runtime) as client:
        page = await client.get("/simulador", params={**EXAMPLE_A, "tasa": "mucho"})
    field = page.text.split('name="tasa"')[1].split(">")[0]
    assert 'aria-invalid="true"' in field and 'aria-describedby="simulador-error"' in field
    assert 'id="simulador-error"' in page.text
