"""The `puente` command: migrate, audit verify and export-schema from the environment."""

from __future__ import annotations

import asyncio
import sqlite3
from pathlib import Path

from puente.audit.service import record_audit
from puente.cli import main as cli_main
from puente.db import open_database


def test_migrate_then_audit_verify_reports_an_intact_then_a_tampered_log(
    tmp_path: Path, monkeypatch, capsys
):
    url = f"sqlite://{tmp_path / 'cli.sqlite3'}"
    monkeypatch.setenv("PUENTE_DATABASE_URL", url)
    assert cli_main(["migrate"]) == 0
    assert cli_main(["migrate"]) == 0  # idempotent

    async def write() -> None:
        async with open_database(url):
            for n in range(3):
                await record_audit("cli.test", data={"n": n})

    asyncio.run(write())
    assert cli_main(["audit", "verify"]) == 0
    assert "3 entries verified" in capsys.readouterr().out

    with sqlite3.connect(tmp_path / "cli.sqlite3") as conn:
        conn.execute("UPDATE audit_events SET action = 'forged' WHERE seq = 2")
    assert cli_main(["audit", "verify"]) == 1
    assert "BROKEN at seq 2" in capsys.readouterr().err


def test_export_schema_prints_the_sdl(capsys):
    assert cli_main(["export-schema"]) == 0
    out = capsys.readouterr().out
    assert "simulateLoan(input: LoanSimulationInput!): LoanSimulation!" in out
    assert out == (Path(__file__).resolve().parents[1] / "schema.graphql").read_text()
