"""ISO 20022 CAMT.053 (BankToCustomerStatement), versions 001.02 to 001.13, streamed.

The file is read with ``defusedxml``'s iterparse: a DTD is refused outright, so no external
entity is fetched and no entity-expansion bomb is expanded. Each ``Ntry`` is read when it
closes and dropped from the tree, so memory stays flat however long the statement is.

Mexican mapping (UNCONFIRMED in ../shared/reference/mexico.md §7.1, hence ``CamtOptions``):
the clave de rastreo comes from ``EndToEndId`` (else the bank's ``AcctSvcrRef``), the
referencia numérica from the structured creditor reference or the unstructured text.
"""

from __future__ import annotations

import re
from collections.abc import Iterator
from dataclasses import dataclass
from datetime import date
from pathlib import Path
from xml.etree.ElementTree import Element, ParseError

from defusedxml import DefusedXmlException
from defusedxml.ElementTree import iterparse

from puente.reconciliation.importers.base import (
    MalformedStatement,
    ParsedLine,
    parse_statement_amount,
    referencia_in,
)
from puente.reconciliation.importers.direction import Direction

__all__ = ["CamtOptions", "read_camt053"]

_NAMESPACE = re.compile(r"^urn:iso:std:iso:20022:tech:xsd:camt\.053\.001\.(\d{2})$")
# Entries the bank has not booked (pending, information only) are not movements yet.
_BOOKED = {"BOOK", ""}


@dataclass(frozen=True, slots=True)
class CamtOptions:
    """Where a bank puts the Mexican keys (banks differ; see the module docstring)."""

    rastreo_fields: tuple[str, ...] = ("EndToEndId", "AcctSvcrRef")


def _local(tag: str) -> str:
    return tag.rsplit("}", 1)[-1]


def _child(elem: Element | None, *path: str) -> Element | None:
    for name in path:
        if elem is None:
            return None
        elem = next((c for c in elem if _local(c.tag) == name), None)
    return elem


def _text(elem: Element | None, *path: str) -> str:
    found = _child(elem, *path)
    return (found.text or "").strip() if found is not None else ""


def _date(elem: Element | None, where: str) -> date | None:
    if elem is None:
        return None
    raw = _text(elem, "Dt") or _text(elem, "DtTm")[:10]
    if not raw:
        return None
    try:
        return date.fromisoformat(raw[:10])
    except ValueError:
        raise MalformedStatement(where, f"fecha inválida {raw!r}") from None


def _account_id(acct: Element | None) -> str:
    return _text(acct, "Id", "IBAN") or _text(acct, "Id", "Othr", "Id")


def _entry(
    ntry: Element, position: int, account: str, statement_ref: str, options: CamtOptions
) -> ParsedLine | None:
    where = f"elemento Ntry #{position}"
    status = _text(ntry, "Sts", "Cd") or _text(ntry, "Sts")
    if status not in _BOOKED:
        return None
    amt = _child(ntry, "Amt")
    if amt is None:
        raise MalformedStatement(where, "falta Amt")
    amount = parse_statement_amount(amt.text or "", f"{where}/Amt")
    if amount <= 0:
        raise MalformedStatement(f"{where}/Amt", "el importe debe ser positivo")
    indicator = _text(ntry, "CdtDbtInd")
    if indicator not in ("CRDT", "DBIT"):
        raise MalformedStatement(f"{where}/CdtDbtInd", f"se esperaba CRDT o DBIT: {indicator!r}")
    direction = Direction.CREDIT if indicator == "CRDT" else Direction.DEBIT
    if _text(ntry, "RvslInd").lower() == "true":
        # A reversal undoes a movement the other way: money back in for a debit, out for a credit.
        direction = Direction.DEBIT if direction is Direction.CREDIT else Direction.CREDIT
    # An element with no children is falsy: compare with None, never ``or``.
    tx = _child(ntry, "NtryDtls", "TxDtls")
    refs = _child(tx, "Refs")
    remittance = _child(tx, "RmtInf")
    unstructured = " ".join(
        (c.text or "").strip()
        for c in (remittance if remittance is not None else ())
        if _local(c.tag) == "Ustrd"
    )
    concept = " ".join(filter(None, [unstructured, _text(ntry, "AddtlNtryInf")]))
    structured = _text(tx, "RmtInf", "Strd", "CdtrRefInf", "Ref")
    reference = structured if structured.isdigit() and len(structured) <= 7 else ""
    party, party_acct, own_acct = (
        ("Dbtr", "DbtrAcct", "CdtrAcct")
        if direction is Direction.CREDIT
        else ("Cdtr", "CdtrAcct", "DbtrAcct")
    )
    parties = _child(tx, "RltdPties")
    name = _text(parties, party, "Nm") or _text(parties, party, "Pty", "Nm")
    bank_reference = _text(ntry, "AcctSvcrRef") or _text(refs, "AcctSvcrRef")
    rastreo = ""
    for field in options.rastreo_fields:
        value = bank_reference if field == "AcctSvcrRef" else _text(refs, field)
        if value and value != "NOTPROVIDED":
            rastreo = value
            break
    return ParsedLine(
        position=position,
        account=account,
        direction=direction,
        amount=amount,
        currency=amt.get("Ccy", "MXN"),
        booking_date=_date(_child(ntry, "BookgDt"), f"{where}/BookgDt"),
        value_date=_date(_child(ntry, "ValDt"), f"{where}/ValDt"),
        clave_rastreo=rastreo[:40],
        reference=reference or referencia_in(concept),
        bank_reference=bank_reference[:80],
        end_to_end_id=_text(refs, "EndToEndId")[:80],
        counterparty_name=name[:140],
        counterparty_account=_account_id(_child(parties, party_acct))[:40],
        beneficiary_account=_account_id(_child(parties, own_acct))[:40],
        concept=concept[:300],
        statement_ref=statement_ref,
    )


def read_camt053(
    path: Path, *, account: str = "", options: CamtOptions | None = None
) -> Iterator[ParsedLine]:
    """Every booked entry of every statement in the file, in file order."""
    options = options or CamtOptions()
    stack: list[Element] = []
    statement_ref, statement_account, entries = "", "", 0
    try:
        for event, elem in iterparse(str(path), events=("start", "end"), forbid_dtd=True):
            name = _local(elem.tag)
            if event == "start":
                if not stack:
                    namespace = elem.tag[1:].split("}", 1)[0] if elem.tag.startswith("{") else ""
                    if name != "Document" or not _NAMESPACE.match(namespace):
                        raise MalformedStatement(
                            f"elemento raíz <{name}>", "no es un documento camt.053.001.xx"
                        )
                stack.append(elem)
                continue
            stack.pop()
            parent = stack[-1] if stack else None
            parent_name = _local(parent.tag) if parent is not None else ""
            if name == "Id" and parent_name == "Stmt":
                statement_ref = (elem.text or "").strip()
            elif name == "Acct" and parent_name == "Stmt":
                statement_account = _account_id(elem)
            elif name == "Ntry" and parent_name == "Stmt":
                entries += 1
                line = _entry(elem, entries, account or statement_account, statement_ref, options)
                assert parent is not None
                parent.remove(elem)  # keep memory flat: the entry is read, drop it
                if line is not None:
                    yield line
            elif name == "Stmt" and parent is not None:
                parent.remove(elem)
                statement_ref, statement_account = "", ""
    except ParseError as exc:
        line_no, column = getattr(exc, "position", (0, 0))
        raise MalformedStatement(
            f"línea {line_no}, columna {column}", f"XML mal formado ({exc.msg})"
        ) from None
    except DefusedXmlException as exc:
        raise MalformedStatement(
            "declaración DTD", f"XML con DTD o entidades rechazado por seguridad ({exc})"
        ) from None
