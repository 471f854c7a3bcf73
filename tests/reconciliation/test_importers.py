"""Statement readers: every format yields the same movement; bad files name where they break."""

from __future__ import annotations

import json
import tracemalloc
from datetime import date
from decimal import Decimal
from pathlib import Path

import pytest
from tests.reconciliation.samples import ACCOUNT, movement, write

from puente.reconciliation.enums import Direction
from puente.reconciliation.importers import (
    MalformedStatement,
    UnknownFormat,
    guess_format,
    read_statement,
)
from puente.reconciliation.importers.csv_presets import builtin_presets
from puente.reconciliation.samples import Movement

FORMATS = ["camt053:02", "camt053:08", "mt940", "csv:bbva", "stp"]


def read(path: Path, fmt: str, **kw: str):
    return list(
        read_statement(path, fmt.partition(":")[0] if fmt.startswith("camt") else fmt, **kw)
    )


@pytest.mark.parametrize("fmt", FORMATS)
def test_every_format_reads_amount_direction_dates_and_keys(tmp_path, fmt):
    path = write(
        tmp_path / "s", fmt, [movement("1500.00"), movement("800.50", direction=Direction.DEBIT)]
    )
    credit, debit = read(path, fmt, account=ACCOUNT)
    assert (credit.direction, credit.amount) == (Direction.CREDIT, Decimal("1500.00"))
    assert (debit.direction, debit.amount) == (Direction.DEBIT, Decimal("800.50"))
    # Value date and booking date stay apart (CSV exports carry only the operation date).
    if fmt != "csv:bbva":
        assert credit.value_date == date(2026, 11, 21)
    assert credit.booking_date == date(2026, 11, 20) or fmt == "stp" and credit.booking_date
    assert credit.clave_rastreo == "BB27726020704"
    assert credit.reference == "1234567"
    assert credit.account == ACCOUNT


def test_camt053_keeps_the_beneficiary_clabe_and_the_payer(tmp_path):
    (line,) = read(write(tmp_path / "s.xml", "camt053:08", [movement()]), "camt053")
    assert line.beneficiary_account == "646180157000000004"
    assert line.counterparty_account == "002010077777777771"
    assert line.counterparty_name == "ANA PRUEBA"
    assert line.statement_ref == "S1"


def test_truncated_xml_names_the_line(tmp_path):
    path = write(tmp_path / "s.xml", "camt053:02", [movement(), movement()])
    path.write_text(path.read_text()[:-60])
    with pytest.raises(MalformedStatement, match=r"línea \d+, columna \d+"):
        read(path, "camt053")


def test_an_xml_bomb_is_refused_without_expanding(tmp_path):
    entities = "".join(
        f'<!ENTITY l{i} "{"&l" + str(i - 1) + ";" * 1}{("&l" + str(i - 1) + ";") * 9}">'
        for i in range(1, 10)
    )
    bomb = (
        f'<?xml version="1.0"?><!DOCTYPE Document [<!ENTITY l0 "ja">{entities}]>'
        '<Document xmlns="urn:iso:std:iso:20022:tech:xsd:camt.053.001.02">&l9;</Document>'
    )
    path = tmp_path / "bomb.xml"
    path.write_text(bomb)
    with pytest.raises(MalformedStatement, match="DTD"):
        read(path, "camt053")


def test_an_external_entity_is_never_fetched(tmp_path):
    secret = tmp_path / "secret.txt"
    secret.write_text("CLAVE-SECRETA")
    path = tmp_path / "xxe.xml"
    path.write_text(
        f'<?xml version="1.0"?><!DOCTYPE d [<!ENTITY x SYSTEM "file://{secret}">]>'
        '<Document xmlns="urn:iso:std:iso:20022:tech:xsd:camt.053.001.02">&x;</Document>'
    )
    with pytest.raises(MalformedStatement) as refused:
        read(path, "camt053")
    assert "CLAVE-SECRETA" not in str(refused.value)


def test_another_xml_document_is_not_a_camt053(tmp_path):
    path = tmp_path / "pain.xml"
    path.write_text('<Document xmlns="urn:iso:std:iso:20022:tech:xsd:pain.001.001.03"/>')
    with pytest.raises(MalformedStatement, match="camt.053"):
        read(path, "camt053")


def test_a_bad_amount_in_camt053_names_the_entry(tmp_path):
    path = write(tmp_path / "s.xml", "camt053:02", [movement(), movement("1.00")])
    text = path.read_text().replace('<Amt Ccy="MXN">1.00</Amt>', '<Amt Ccy="MXN">1,0x</Amt>')
    path.write_text(text)
    with pytest.raises(MalformedStatement, match=r"Ntry #2/Amt"):
        read(path, "camt053")


def test_a_wrong_mt940_tag_names_its_line(tmp_path):
    path = write(tmp_path / "s.sta", "mt940", [movement(), movement()])
    lines = path.read_text("latin-1").splitlines()
    lines[6] = ":99:JUNK"
    path.write_text("\n".join(lines), encoding="latin-1")
    with pytest.raises(MalformedStatement, match=r"línea 7: etiqueta MT940 desconocida :99:"):
        read(path, "mt940")


def test_an_unreadable_mt940_statement_line_names_its_line(tmp_path):
    path = write(tmp_path / "s.sta", "mt940", [movement(), movement(), movement()])
    lines = path.read_text("latin-1").splitlines()
    assert lines[8].startswith(":61:")
    lines[8] = ":61:26112X1120C1500,00NTRFNONREF"
    path.write_text("\n".join(lines), encoding="latin-1")
    with pytest.raises(MalformedStatement, match=r"línea 9"):
        read(path, "mt940")


def test_a_csv_row_with_a_bad_amount_names_its_line(tmp_path):
    path = write(tmp_path / "s.csv", "csv:bbva", [movement(), movement()])
    text = path.read_text("latin-1").replace('"1,500.00"', '"1,5OO.00"', 1)
    path.write_text(text, encoding="latin-1")
    with pytest.raises(MalformedStatement, match=r"línea 2.*importe inválido"):
        read(path, "csv:bbva")


def test_a_csv_row_with_a_bad_date_names_its_line(tmp_path):
    path = write(tmp_path / "s.csv", "csv:bbva", [movement(), movement()])
    lines = path.read_text("latin-1").splitlines()
    lines[2] = lines[2].replace("20/11/2026", "31/02/2026")
    path.write_text("\n".join(lines), encoding="latin-1")
    with pytest.raises(MalformedStatement, match=r"línea 3: fecha inválida"):
        read(path, "csv:bbva")


def test_an_unknown_preset_is_refused_naming_the_known_ones(tmp_path):
    with pytest.raises(UnknownFormat, match="bbva"):
        read(tmp_path / "x.csv", "csv:banco-inventado")
    assert {"bbva", "banorte", "santander", "banamex"} <= set(builtin_presets())


def test_a_user_adds_a_bank_by_writing_one_preset(tmp_path):
    preset = tmp_path / "mibanco.json"
    preset.write_text(
        json.dumps(
            {
                "name": "Mi Banco",
                "encoding": "utf-8",
                "delimiter": ";",
                "columns": {"booking_date": "Día", "concept": "Texto", "amount": "Monto"},
                "date_formats": ["%Y-%m-%d"],
            }
        )
    )
    data = tmp_path / "mibanco.csv"
    data.write_text("Día;Texto;Monto\n2026-11-20;SPEI REF 42;1200.00\n2026-11-21;COMISION;-10.00\n")
    credit, debit = read(data, f"csv:{preset}")
    assert (credit.direction, credit.amount, credit.reference) == (
        Direction.CREDIT,
        Decimal("1200.00"),
        "42",
    )
    assert (debit.direction, debit.amount) == (Direction.DEBIT, Decimal("10.00"))


def test_banamex_starts_after_its_preamble_and_reads_the_referencia(tmp_path):
    path = tmp_path / "banamex.csv"
    path.write_text(
        "Estado de cuenta\nCliente,ANA\nDetalle de Movimientos - Depósitos y Retiros\n"
        "Fecha,Descripción,Depósitos,Retiros,Saldo\n"
        '20-11-26,"SPEI Referencia Numérica: 765 Autorización: 9","2,000.00",,"5,000.00"\n'
        '21-11-26,COMISION,,"15.00","4,985.00"\n',
        encoding="latin-1",
    )
    credit, debit = read(path, "csv:banamex")
    assert (credit.amount, credit.reference, credit.booking_date) == (
        Decimal("2000.00"),
        "765",
        date(2026, 11, 20),
    )
    assert debit.direction is Direction.DEBIT


def test_santander_reads_the_sign_column_and_quoted_dates(tmp_path):
    path = tmp_path / "santander.csv"
    path.write_text(
        "Cuenta,Fecha,Hora,Sucursal,Descripcion,Cargo/Abono,Importe,Saldo,Referencia,Concepto,"
        "Clabe Beneficiario,Nombre Beneficiario,Clave de Rastreo\n"
        "65501234567,'20112026,10:00,0001,SPEI,+,1200.00,3000.00,1234567,PAGO,,,SANT123456\n"
        "65501234567,'21112026,11:00,0001,SPEI,-,200.00,2800.00,,ENVIO,012180001234567899,LUIS,SANT9999\n",
        encoding="latin-1",
    )
    credit, debit = read(path, "csv:santander")
    assert credit.clave_rastreo == "SANT123456" and credit.reference == "1234567"
    assert debit.direction is Direction.DEBIT and debit.counterparty_name == "LUIS"


def test_banorte_keeps_operation_and_value_dates_apart(tmp_path):
    path = tmp_path / "banorte.csv"
    path.write_text(
        "CUENTA,FECHA DE OPERACIÓN,FECHA,REFERENCIA,DESCRIPCIÓN,COD. TRANSAC,SUCURSAL,DEPÓSITOS,"
        "RETIROS,SALDO,MOVIMIENTO,DESCRIPCIÓN DETALLADA,CHEQUE\n"
        '0123,20/11/2026,21/11/2026,1234567,SPEI,5,1,"1,000.00",,,M1,'
        '"SPEI RECIBIDO CVE RAST: BNET0001 CONCEPTO: PAGO",\n',
        encoding="latin-1",
    )
    (line,) = read(path, "csv:banorte")
    assert (line.booking_date, line.value_date) == (date(2026, 11, 20), date(2026, 11, 21))
    assert line.clave_rastreo == "BNET0001" and line.reference == "1234567"


def test_the_format_is_guessed_for_xml_and_mt940(tmp_path):
    assert guess_format(write(tmp_path / "a", "camt053:02", [movement()])) == "camt053"
    assert guess_format(write(tmp_path / "b", "mt940", [movement()])) == "mt940"
    with pytest.raises(UnknownFormat):
        guess_format(write(tmp_path / "c", "csv:bbva", [movement()]))


@pytest.mark.parametrize("fmt", ["camt053:02", "mt940"])
def test_reading_streams_memory_does_not_grow_with_the_file(tmp_path, fmt):
    def peak(count: int) -> int:
        movements: list[Movement] = [
            movement(f"{100 + i}.00", clave_rastreo=f"R{i:08d}") for i in range(count)
        ]
        path = write(tmp_path / f"s{count}", fmt, movements)
        del movements
        tracemalloc.start()
        lines = 0
        for _ in read_statement(path, fmt.partition(":")[0]):
            lines += 1
        _, top = tracemalloc.get_traced_memory()
        tracemalloc.stop()
        assert lines == count
        return top

    # Five times the lines, not five times the memory (the parser's cyclic garbage sets the
    # floor: what is freed per batch, not what the file holds).
    small, large = peak(1_000), peak(5_000)
    assert large < small * 2, (small, large)
