"""The payer's side of a SPEI the gateway simulators receive, and Banxico seeing it.

When a payer transfers to a gateway's CLABE (Stripe's virtual CLABE, an Openpay or Mercado
Pago SPEI reference), the transfer leaves a bank with a clave de rastreo. Each simulator
shows it in its own wire format at the paths Puente's spec names
(``puente.providers.spei_tracking``; UNCONFIRMED there, so change both together) and keeps
it in its store as ``spei_transfers``, which the Banxico CEP simulator reads like STP's abonos
(``sandbox app``: Banxico sees every SPEI).
"""

from __future__ import annotations

from collections.abc import Callable
from datetime import datetime
from decimal import Decimal
from typing import Any

from clabe import BANKS, compute_control_digit

from puente_sandbox.core import IdGenerator, SandboxStore
from puente_sandbox.formats import MEXICO_CITY

__all__ = ["SENDER_BANK", "gateway_speis", "payer_transfer"]

SENDER_BANK = "40012"  # BBVA México sends every sandbox payer's transfer
KIND = "spei_transfers"


def payer_transfer(
    store: SandboxStore,
    ids: IdGenerator,
    now: float,
    *,
    beneficiary_clabe: str,
    amount: Decimal,
    payer_name: str,
    concepto: str = "",
) -> dict[str, Any]:
    """A transfer from the payer's BBVA account to ``beneficiary_clabe``, kept for Banxico."""
    body = "012180" + ids.digits(11)
    moment = datetime.fromtimestamp(now, MEXICO_CITY)
    clave = f"MBAN01{moment:%y%m%d}{ids.digits(12)}"  # BBVA-like: ≤30 alphanumerics
    transfer = {
        "id": clave,
        "clave_rastreo": clave,
        "fecha": moment.date(),
        "hora": moment.strftime("%H%M%S"),
        "emisor": SENDER_BANK,
        "receptor": str(BANKS.get(beneficiary_clabe[:3], "90646")),
        "cuenta": beneficiary_clabe,
        "monto": Decimal(amount).quantize(Decimal("0.01")),
        "ordenante_nombre": payer_name or "ND",
        "ordenante_rfc": "ND",
        "ordenante_cuenta": body + compute_control_digit(body),
        "beneficiario_nombre": "",
        "concepto": concepto,
        "visible": True,
    }
    return store.put(KIND, transfer)


def gateway_speis(simulator: Any) -> Callable[[], list[dict[str, Any]]]:
    """The transfers a gateway simulator received, as Banxico's CEP simulator lists them."""

    def transfers() -> list[dict[str, Any]]:
        return [dict(t) for t in simulator.state.store.all(KIND)]

    return transfers
