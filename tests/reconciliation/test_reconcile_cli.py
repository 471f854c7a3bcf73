"""`puente reconcile import`: the contract's summary, JSON, and malformed files."""

from __future__ import annotations

import asyncio
import base64
import json
import os
import secrets
import shutil
import subprocess
import sys
from pathlib import Path

import pytest
from tests.reconciliation.samples import movement, write

from puente.db import open_database
from puente.institutions.models import Institution
from puente.reconciliation.models import StatementLine


def database(sqlite_template: Path, tmp_path: Path) -> Path:
    path = tmp_path / "cli.sqlite3"
    shutil.copyfile(sqlite_template, path)

    async def seed() -> None:
        async with open_database(f"sqlite://{path}"):
            await Institution.create(slug="financiera", name="Financiera", kind="lender")

    asyncio.run(seed())
    return path


def lines_in(path: Path) -> int:
    async def count() -> int:
        async with open_database(f"sqlite://{path}"):
            return await StatementLine.all().count()

    return asyncio.run(count())


def reconcile(db: Path, *args: str) -> subprocess.CompletedProcess[str]:
    env = {
        **os.environ,
        "PUENTE_DATABASE_URL": f"sqlite://{db}",
        "PUENTE_SECRET_KEY": secrets.token_urlsafe(48),
        "PUENTE_ENCRYPTION_KEYS": "t1:"
        + base64.urlsafe_b64encode(secrets.token_bytes(32)).decode(),
        "PUENTE_REDIS_URL": "",
    }
    return subprocess.run(
        [sys.executable, "-m", "puente.cli", "reconcile", *args],
        env=env,
        capture_output=True,
        text=True,
        timeout=120,
        check=False,
        cwd=db.parent,
    )


def test_import_json_prints_only_the_contract_object(sqlite_template, tmp_path):
    db = database(sqlite_template, tmp_path)
    statement = write(
        tmp_path / "s.xml",
        "camt053:02",
        [movement("100.00", bank_reference="A1"), movement("200.00", bank_reference="A2")],
    )
    first = reconcile(db, "import", str(statement), "--json")
    assert first.returncode == 0, first.stderr
    assert json.loads(first.stdout) == {
        "lines": 2,
        "new": 2,
        "duplicates": 0,
        "matched": 0,
        "suggested": 0,
        "exceptions": 2,
    }
    again = json.loads(reconcile(db, "import", str(statement), "--json").stdout)
    assert (again["new"], again["duplicates"]) == (0, 2)


def test_import_prints_a_summary_table(sqlite_template, tmp_path):
    db = database(sqlite_template, tmp_path)
    statement = write(tmp_path / "s.sta", "mt940", [movement("100.00")])
    done = reconcile(db, "import", str(statement), "--format", "mt940")
    assert done.returncode == 0, done.stderr
    assert "nuevas" in done.stdout and "excepciones" in done.stdout


def test_a_malformed_file_exits_non_zero_says_where_and_imports_nothing(sqlite_template, tmp_path):
    db = database(sqlite_template, tmp_path)
    statement = write(tmp_path / "s.csv", "csv:bbva", [movement("1.00"), movement("2.00")])
    text = statement.read_text("latin-1").replace('"2.00"', '"2.0O"')
    statement.write_text(text, encoding="latin-1")
    done = reconcile(db, "import", str(statement), "--format", "csv:bbva", "--json")
    assert done.returncode == 1
    assert done.stdout == ""
    assert "línea 3" in done.stderr and "nada importado" in done.stderr
    assert lines_in(db) == 0


@pytest.mark.parametrize("fmt", ["csv:inventado", "xml"])
def test_an_unknown_format_or_preset_is_refused(sqlite_template, tmp_path, fmt):
    db = database(sqlite_template, tmp_path)
    statement = write(tmp_path / "s.csv", "csv:bbva", [movement()])
    done = reconcile(db, "import", str(statement), "--format", fmt)
    assert done.returncode == 2
    assert "desconocido" in done.stderr


def test_a_remittance_splits_its_deposit_and_a_second_run_is_refused(sqlite_template, tmp_path):
    import io
    from decimal import Decimal

    from puente.reconciliation.samples import RemittanceLine, write_remittance

    db = database(sqlite_template, tmp_path)
    deposit = movement("300.00", concept="NOMINA REMESA NOM-1", reference="", bank_reference="N1")
    statement = write(tmp_path / "s.xml", "camt053:02", [deposit])
    assert reconcile(db, "import", str(statement), "--json").returncode == 0
    out = io.StringIO()
    rows = [RemittanceLine(Decimal("300.00"), employee_id="E-404", name="NADIE")]
    write_remittance(out, rows, employer="ACM010101AB1", reference="NOM-1")
    remittance = tmp_path / "nomina.csv"
    remittance.write_text(out.getvalue(), encoding="utf-8")
    done = reconcile(db, "remittance", str(remittance), "--json")
    assert done.returncode == 0, done.stderr
    summary = json.loads(done.stdout)
    assert (summary["status"], summary["applied"], summary["unknown"]) == ("applied", 0, 1)
    again = reconcile(db, "remittance", str(remittance))
    assert again.returncode == 1 and "ya se aplicó" in again.stderr
    broken = tmp_path / "rota.csv"
    broken.write_text(out.getvalue().replace("300.00", "tres"), encoding="utf-8")
    bad = reconcile(db, "remittance", str(broken))
    assert bad.returncode == 1 and "línea 2" in bad.stderr and "nada aplicado" in bad.stderr
