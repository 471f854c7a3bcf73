"""A lender with a CSD (SAT's public test CSD) and a PAC simulator reached in-process."""

from __future__ import annotations

from pathlib import Path

import httpx
from tests.support import factories

from puente.invoicing.pac import SwSapienPac
from puente.invoicing.service import store_csd
from puente_sandbox.pac import DEFAULT_PAC_CREDENTIALS, create_pac_sandbox

CSD_DIR = Path(__file__).resolve().parents[2] / "docs" / "samples" / "csd"
CSD_PASSWORD = "12345678a"


def csd_files() -> tuple[bytes, bytes]:
    return (CSD_DIR / "EKU9003173C9.cer").read_bytes(), (CSD_DIR / "EKU9003173C9.key").read_bytes()


def pac_sandbox():
    """The simulator app and a connector whose transport reaches it without a network."""
    app = create_pac_sandbox(DEFAULT_PAC_CREDENTIALS, None)
    pac = SwSapienPac(
        DEFAULT_PAC_CREDENTIALS["token"],
        base_url="http://pac.test",
        transport=httpx.ASGITransport(app=app),
    )
    return app.state.simulator, pac


async def invoicing_lender(runtime, **settings):
    inst = await factories.institution()
    inst.rfc = "EKU9003173C9"
    inst.settings = {
        **(inst.settings or {}),
        "cfdi": {"regimen_fiscal": "601", "codigo_postal": "42501", "rvoe": "ES4-728", **settings},
    }
    await inst.save()
    cer, key = csd_files()
    await store_csd(runtime, inst, cer, key, CSD_PASSWORD)
    return inst
