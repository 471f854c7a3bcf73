"""Realistic statement files written from movements: for the demo, the benchmark and tests.

Each writer streams to a text handle, so the benchmark can write a 1M-line file without
holding it; the layouts are the ones the importers read (and banks export).
"""

from __future__ import annotations

import csv
from collections.abc import Iterable
from dataclasses import dataclass
from datetime import date
from decimal import Decimal
from typing import TextIO
from xml.sax.saxutils import escape

from puente.reconciliation.enums import Direction

__all__ = [
    "Movement",
    "RemittanceLine",
    "write_bbva_csv",
    "write_camt053",
    "write_mt940",
    "write_remittance",
    "write_stp",
]


@dataclass(frozen=True, slots=True)
class Movement:
    """One movement to write: what a bank would report."""

    direction: Direction
    amount: Decimal
    booking_date: date
    value_date: date
    clave_rastreo: str = ""
    reference: str = ""
    concept: str = ""
    counterparty_name: str = ""
    counterparty_account: str = ""
    beneficiary_account: str = ""
    bank_reference: str = ""


@dataclass(frozen=True, slots=True)
class RemittanceLine:
    """One borrower's share in a payroll remittance (``remittance_layouts/nomina.json``)."""

    amount: Decimal
    employee_id: str = ""
    curp: str = ""
    rfc: str = ""
    name: str = ""


_CAMT_NS = {
    "02": "urn:iso:std:iso:20022:tech:xsd:camt.053.001.02",
    "08": "urn:iso:std:iso:20022:tech:xsd:camt.053.001.08",
}


def write_camt053(
    out: TextIO,
    movements: Iterable[Movement],
    *,
    account: str,
    statement_id: str,
    version: str = "02",
) -> None:
    """A CAMT.053 document (001.02 or 001.08) with one statement."""
    status = "<Sts>BOOK</Sts>" if version == "02" else "<Sts><Cd>BOOK</Cd></Sts>"
    out.write(
        f'<?xml version="1.0" encoding="UTF-8"?>\n<Document xmlns="{_CAMT_NS[version]}">'
        f"<BkToCstmrStmt><GrpHdr><MsgId>{escape(statement_id)}</MsgId>"
        f"<CreDtTm>2026-11-30T23:00:00</CreDtTm></GrpHdr>\n<Stmt><Id>{escape(statement_id)}</Id>"
        f"<Acct><Id><Othr><Id>{escape(account)}</Id></Othr></Id><Ccy>MXN</Ccy></Acct>\n"
    )
    for m in movements:
        ind = "CRDT" if m.direction is Direction.CREDIT else "DBIT"
        party, own = ("Dbtr", "Cdtr") if m.direction is Direction.CREDIT else ("Cdtr", "Dbtr")
        reference = (
            f"<Strd><CdtrRefInf><Ref>{escape(m.reference)}</Ref></CdtrRefInf></Strd>"
            if m.reference
            else ""
        )
        out.write(
            f'<Ntry><Amt Ccy="MXN">{m.amount}</Amt><CdtDbtInd>{ind}</CdtDbtInd>{status}'
            f"<BookgDt><Dt>{m.booking_date.isoformat()}</Dt></BookgDt>"
            f"<ValDt><Dt>{m.value_date.isoformat()}</Dt></ValDt>"
            f"<AcctSvcrRef>{escape(m.bank_reference)}</AcctSvcrRef>"
            f"<NtryDtls><TxDtls><Refs><EndToEndId>{escape(m.clave_rastreo or 'NOTPROVIDED')}"
            f"</EndToEndId></Refs><RltdPties><{party}><Nm>{escape(m.counterparty_name)}</Nm>"
            f"</{party}><{party}Acct><Id><Othr><Id>{escape(m.counterparty_account)}</Id></Othr>"
            f"</Id></{party}Acct><{own}Acct><Id><Othr><Id>{escape(m.beneficiary_account)}</Id>"
            f"</Othr></Id></{own}Acct></RltdPties><RmtInf><Ustrd>{escape(m.concept)}</Ustrd>"
            f"{reference}</RmtInf></TxDtls></NtryDtls></Ntry>\n"
        )
    out.write("</Stmt></BkToCstmrStmt></Document>\n")


def _mt_amount(amount: Decimal) -> str:
    return f"{amount:.2f}".replace(".", ",")


def write_mt940(
    out: TextIO, movements: Iterable[Movement], *, account: str, statement_id: str
) -> None:
    """An MT940 statement (opening balance 0; the closing balance is left out on purpose:
    the importer reads movements, not balances)."""
    out.write(f":20:{statement_id[:16]}\n:25:{account}\n:28C:00001/001\n:60F:C261101MXN0,00\n")
    for m in movements:
        mark = "C" if m.direction is Direction.CREDIT else "D"
        ref = (m.reference or "NONREF")[:16]
        bank_ref = f"//{m.bank_reference or m.clave_rastreo}"[:25]
        out.write(
            f":61:{m.value_date:%y%m%d}{m.booking_date:%m%d}{mark}{_mt_amount(m.amount)}"
            f"NTRF{ref}{bank_ref}\n"
        )
        rastreo = f" CVE RAST: {m.clave_rastreo}" if m.clave_rastreo else ""
        out.write(f":86:{m.concept[:40]}{rastreo}\n")


def write_bbva_csv(out: TextIO, movements: Iterable[Movement]) -> None:
    """A BBVA México CSV export (FECHA, DESCRIPCIÓN, CARGO, ABONO, SALDO)."""
    out.write("FECHA,DESCRIPCIÓN,CARGO,ABONO,SALDO\n")
    for m in movements:
        description = m.concept.replace('"', "'")
        if m.reference:
            description += f" / REF {m.reference}"
        if m.clave_rastreo:
            description += f" CVE RAST: {m.clave_rastreo}"
        amount = f'"{m.amount:,.2f}"'
        cargo, abono = (
            ("", amount) if m.direction is Direction.CREDIT else (f'"-{m.amount:,.2f}"', "")
        )
        out.write(f'{m.booking_date:%d/%m/%Y},"{description}",{cargo},{abono},\n')


def write_stp(out: TextIO, movements: Iterable[Movement]) -> None:
    """An STP account statement (abonos and órdenes, with clave de rastreo)."""
    out.write(
        "tipo,fechaOperacion,fechaLiquidacion,claveRastreo,monto,referenciaNumerica,"
        "conceptoPago,nombreContraparte,cuentaContraparte,cuentaBeneficiario\n"
    )
    for m in movements:
        kind = "abono" if m.direction is Direction.CREDIT else "orden"
        concept = m.concept.replace(",", " ")
        out.write(
            f"{kind},{m.booking_date.isoformat()},{m.value_date.isoformat()},{m.clave_rastreo},"
            f"{m.amount:.2f},{m.reference},{concept},{m.counterparty_name.replace(',', ' ')},"
            f"{m.counterparty_account},{m.beneficiary_account}\n"
        )


def write_remittance(
    out: TextIO, rows: Iterable[RemittanceLine], *, employer: str, reference: str
) -> None:
    """An employer's payroll remittance in Puente's ``nomina`` layout."""
    writer = csv.writer(out, lineterminator="\n")
    writer.writerow(
        ["RFC_PATRON", "REFERENCIA", "NUM_EMPLEADO", "CURP", "RFC", "NOMBRE", "IMPORTE"]
    )
    for row in rows:
        writer.writerow(
            [employer, reference, row.employee_id, row.curp, row.rfc, row.name, f"{row.amount:.2f}"]
        )
