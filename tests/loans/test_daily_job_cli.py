"""`puente jobs daily`: the command wires the daily job to the configured database."""

from __future__ import annotations

import os
import shutil
import subprocess
import sys
from pathlib import Path


def run_cli(
    *args: str, database: Path, extra: dict[str, str] | None = None
) -> subprocess.CompletedProcess[str]:
    env = {**os.environ, "PUENTE_DATABASE_URL": f"sqlite://{database}", **(extra or {})}
    return subprocess.run(
        [sys.executable, "-m", "puente.cli", "jobs", "daily", *args],
        env=env,
        capture_output=True,
        text=True,
        timeout=60,
        check=False,
    )


def test_the_daily_job_runs_for_a_given_date_and_reports(sqlite_template, tmp_path):
    database = tmp_path / "jobs.sqlite3"
    shutil.copyfile(sqlite_template, database)
    done = run_cli("--date", "2026-07-20", database=database)
    assert done.returncode == 0, done.stderr
    assert done.stdout.startswith("2026-07-20: 0 loans, 0 installments billed")


def test_a_malformed_date_is_refused_with_a_clear_message(sqlite_template, tmp_path):
    database = tmp_path / "jobs.sqlite3"
    shutil.copyfile(sqlite_template, database)
    done = run_cli("--date", "20-07-2026", database=database)
    assert done.returncode == 2
    assert "--date must be YYYY-MM-DD" in done.stderr


def test_the_daily_job_runs_the_domiciliacion_charges_too(sqlite_template, tmp_path):
    import base64

    database = tmp_path / "jobs.sqlite3"
    shutil.copyfile(sqlite_template, database)
    without_secrets = run_cli("--date", "2026-07-20", database=database)
    assert "domiciliación not run" in without_secrets.stdout  # says why, never a traceback
    key = "k1:" + base64.urlsafe_b64encode(b"k" * 32).decode().rstrip("=")
    secrets = {"PUENTE_SECRET_KEY": "s" * 48, "PUENTE_ENCRYPTION_KEYS": key}
    done = run_cli("--date", "2026-07-20", database=database, extra=secrets)
    assert done.returncode == 0, done.stderr
    assert "2026-07-20: domiciliación: 0 planned, 0 charged" in done.stdout
