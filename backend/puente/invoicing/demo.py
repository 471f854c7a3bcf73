"""Invoicing demo data for `puente demo`: SAT's public test CSD for the lender and the school,
their fiscal settings, and the IEDU data of the demo student's tuition plan.

The CSD is SAT's test certificate for RFC EKU9003173C9 (ESCUELA KEMPER URGATE, password
``12345678a``), as the satcfdi project ships it: CFDI signed with it are valid documents that
no real PAC would stamp; the demo's PAC is the simulator under /sandbox/pac.
"""

from __future__ import annotations

from pathlib import Path

from puente.institutions.models import Institution
from puente.invoicing.service import store_csd
from puente.loans.models import Loan
from puente.runtime import Runtime

__all__ = ["DEMO_CSD_DIR", "DEMO_CSD_RFC", "load_invoicing_demo"]

DEMO_CSD_DIR = Path(__file__).resolve().parents[3] / "docs" / "samples" / "csd"
DEMO_CSD_RFC = "EKU9003173C9"
DEMO_CSD_PASSWORD = "12345678a"
# Fiscal data of the test RFC: the emisor's name must be the certificate's.
_CFDI = {"nombre": "ESCUELA KEMPER URGATE", "regimen_fiscal": "601", "codigo_postal": "42501"}


async def load_invoicing_demo(runtime: Runtime, lender: Institution, school: Institution) -> None:
    """Both demo institutions issue CFDI; Sofía's colegiaturas carry the IEDU complement."""
    if not (DEMO_CSD_DIR / f"{DEMO_CSD_RFC}.cer").exists():
        return  # an install without the repository's docs/: the demo issues no CFDI
    cer = (DEMO_CSD_DIR / f"{DEMO_CSD_RFC}.cer").read_bytes()
    key = (DEMO_CSD_DIR / f"{DEMO_CSD_RFC}.key").read_bytes()
    for institution, extra in (
        (lender, {"serie": "FD"}),
        (school, {"serie": "COL", "rvoe": "ES4-728"}),
    ):
        institution.settings = {**(institution.settings or {}), "cfdi": {**_CFDI, **extra}}
        await institution.save(update_fields=["settings"])
        await store_csd(runtime, institution, cer, key, DEMO_CSD_PASSWORD)
    for loan in await Loan.filter(institution_id=school.id):
        loan.settings = {
            **(loan.settings or {}),
            "iedu": {
                "alumno": "SOFIA HERNANDEZ",
                "curp": "HESS150312MJCRTFA3",
                "nivel": "Primaria",
            },
        }
        await loan.save(update_fields=["settings"])
