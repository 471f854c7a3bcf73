"""In `puente demo`, ana's notices arrive in the mail catcher (/sandbox/correo) and by SMS
in the Twilio simulator: the daily job's reminder and estado de cuenta (PDF attached), then
the receipt of a card payment."""

from __future__ import annotations

import asyncio
import os
import re
import subprocess
import sys
from datetime import UTC, datetime, timedelta

import httpx

from puente.runtime import mexico_city_date

LOGIN = """mutation { login(email: "ana@demo.puente.mx", password: "ana-demo-2026") {
  ... on AuthTokens { accessToken } } }"""
LOANS = "{ viewer { loans { edges { node { id nextInstallment { total { amount } } } } } } }"
PAY = """mutation($i: CreatePaymentInput!) { createPayment(input: $i) { __typename
  ... on PaymentCreated { payment { id status receiptUrl } } } }"""


async def _mail_subjects(client: httpx.AsyncClient, wanted: str, seconds: float = 30) -> str:
    for _ in range(int(seconds * 5)):
        page = (await client.get("/sandbox/correo/")).text
        if wanted in page:
            return page
        await asyncio.sleep(0.2)
    raise AssertionError(f"no mail with {wanted!r} in:\n{page}")


def _run_daily(workdir, day) -> str:
    env = {k: v for k, v in os.environ.items() if not k.startswith("PUENTE_")}
    done = subprocess.run(
        [
            sys.executable,
            "-c",
            "import sys; from puente.cli import main; sys.exit(main(sys.argv[1:]))",
            "jobs",
            "daily",
            "--date",
            day.isoformat(),
        ],
        cwd=workdir,
        env=env,
        capture_output=True,
        text=True,
        timeout=120,
    )
    assert done.returncode == 0, done.stderr
    return done.stdout


def test_ana_receives_reminder_statement_and_receipt(demo):
    today = mexico_city_date(datetime.now(UTC))
    summary = _run_daily(demo.workdir, today + timedelta(days=3))
    assert "notices" in summary and "statements" in summary

    async def walk() -> None:
        async with httpx.AsyncClient(base_url=demo.url, timeout=20) as client:
            await _mail_subjects(client, "vence en 3 días")
            page = await _mail_subjects(client, "Tu estado de cuenta de")
            statement_id = re.search(r'href="/sandbox/correo/(\d+)">Tu estado de cuenta', page)
            message = await client.get(f"/sandbox/correo/{statement_id.group(1)}")
            pdf = await client.get(f"/sandbox/correo/{statement_id.group(1)}/adjuntos/0")
            assert "estado-de-cuenta-" in message.text and pdf.content.startswith(b"%PDF")

            token = (await client.post("/graphql", json={"query": LOGIN})).json()
            token = token["data"]["login"]["accessToken"]
            auth = {"authorization": f"Bearer {token}"}
            loans = (await client.post("/graphql", json={"query": LOANS}, headers=auth)).json()
            loan = loans["data"]["viewer"]["loans"]["edges"][0]["node"]
            payment = {
                "loanId": loan["id"],
                "amount": loan["nextInstallment"]["total"]["amount"],
                "method": "CARD",
                "provider": "STRIPE",
                "cardToken": "tok_visa",
                "idempotencyKey": "demo-mail-receipt",
            }
            paid = (
                await client.post(
                    "/graphql", json={"query": PAY, "variables": {"i": payment}}, headers=auth
                )
            ).json()
            created = paid["data"]["createPayment"]["payment"]
            assert created["status"] == "PAID" and created["receiptUrl"].endswith("comprobante.pdf")
            await _mail_subjects(client, "Recibimos tu pago")
            receipt = await client.get(created["receiptUrl"], headers=auth)
            assert receipt.status_code == 200 and receipt.content.startswith(b"%PDF")
            sms = (await client.get("/sandbox/twilio/")).text
            assert "+523312345678" in sms and "recibimos tu pago" in sms

    asyncio.run(walk())
