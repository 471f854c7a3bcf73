"""Movements and files for reconciliation tests (written with the package's own writers)."""

from __future__ import annotations

import io
from datetime import date
from decimal import Decimal
from pathlib import Path

from puente.reconciliation.enums import Direction
from puente.reconciliation.samples import (
    Movement,
    write_bbva_csv,
    write_camt053,
    write_mt940,
    write_stp,
)

ACCOUNT = "012180001234567899"


def movement(amount: str = "1500.00", **changes: object) -> Movement:
    values: dict[str, object] = {
        "direction": Direction.CREDIT,
        "amount": Decimal(amount),
        "booking_date": date(2026, 11, 20),
        "value_date": date(2026, 11, 21),
        "clave_rastreo": "BB27726020704",
        "reference": "1234567",
        "concept": "PAGO PRESTAMO",
        "counterparty_name": "ANA PRUEBA",
        "counterparty_account": "002010077777777771",
        "beneficiary_account": "646180157000000004",
        "bank_reference": "AS1",
    }
    values.update(changes)
    return Movement(**values)  # type: ignore[arg-type]


def write(path: Path, fmt: str, movements: list[Movement], **kw: str) -> Path:
    out = io.StringIO()
    if fmt.startswith("camt053"):
        version = fmt.partition(":")[2] or "02"
        write_camt053(
            out, movements, account=ACCOUNT, statement_id=kw.get("sid", "S1"), version=version
        )
    elif fmt == "mt940":
        write_mt940(out, movements, account=ACCOUNT, statement_id=kw.get("sid", "S1"))
    elif fmt == "csv:bbva":
        write_bbva_csv(out, movements)
    elif fmt == "stp":
        write_stp(out, movements)
    encoding = "latin-1" if fmt in ("csv:bbva", "mt940") else "utf-8"
    path.write_text(out.getvalue(), encoding=encoding)
    return path
