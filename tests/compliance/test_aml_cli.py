"""`puente aml`: malformed files are refused with the line, before anything is stored."""

from __future__ import annotations

from datetime import date
from decimal import Decimal

import pytest

from puente.cli import main
from puente.compliance.cli import parse_fix_file


def test_fix_file_is_read_exactly_and_refused_with_the_line():
    assert parse_fix_file("fecha,tipo_cambio\n2026-11-02,17.2345\n") == {
        date(2026, 11, 2): Decimal("17.2345")
    }
    for bad, line in (
        ("fecha,tipo_cambio\n2026-11-02,-1\n", 2),
        ("fecha,fix\n", 1),
        ("fecha,tipo_cambio\n2026-11-02,17\n02/11/2026,17\n", 3),
    ):
        with pytest.raises(ValueError, match=f"línea {line}"):
            parse_fix_file(bad)


def test_a_malformed_list_file_exits_2_and_names_the_line(tmp_path, capsys):
    path = tmp_path / "lista.csv"
    path.write_text("lista,id,nombre\nbloqueadas,UIF-1,ALGUIEN\notra,UIF-2,X\n", encoding="utf-8")
    assert main(["aml", "listas", str(path)]) == 2
    assert "línea 3" in capsys.readouterr().err
