"""The STP account statement: abonos (money in) and órdenes (money out), with clave de rastreo.

STP statements are CSV with STP's own field names; the layout is a preset (presets/stp.json)
like any bank's, so a change at STP is a change of data. For money in, ``cuentaBeneficiario``
is the per-loan CLABE the payer sent to (``payments/spei_inbound.loan_clabe``).
"""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

from puente.reconciliation.importers.base import ParsedLine
from puente.reconciliation.importers.csv_presets import load_preset, read_csv

__all__ = ["read_stp"]


def read_stp(path: Path, *, account: str = "") -> Iterator[ParsedLine]:
    """Every abono and orden of an STP statement."""
    return read_csv(path, load_preset("stp"), account=account)
