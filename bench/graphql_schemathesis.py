"""Schemathesis over /graphql: ≥ 1,000 generated operations, none may answer 5xx.

Run: ``.venv/bin/python bench/graphql_schemathesis.py [--cases 1000]`` (needs the
``schemathesis`` dev extra). It builds the app in-process on a migrated SQLite file with
introspection on (schemathesis reads the schema through it), lets schemathesis generate
queries and mutations from the schema, and prints how many cases ran and how many failed.
Not in the default suite: ~1,000 cases take about a minute on a shared 2-core machine.
"""

from __future__ import annotations

import argparse
import asyncio
import base64
import secrets
import sys
import tempfile
import time
from pathlib import Path

import schemathesis
from hypothesis import HealthCheck, Phase, given, settings
from hypothesis import strategies as st
from schemathesis.graphql import from_asgi, nodes

from puente.app import create_app
from puente.config import Settings, parse_encryption_keys
from puente.db import migrate
from puente.runtime import Runtime
from puente.security.passwords import FAST_TEST_POLICY


def register_scalars() -> None:
    """Puente's custom scalars: valid values and junk, as strings (how they travel)."""
    junk = st.text(max_size=30)
    decimals = st.decimals(allow_nan=False, allow_infinity=False, places=2).map(str)
    dates = st.dates().map(str)
    moments = st.datetimes().map(lambda d: d.isoformat() + "Z")
    schemathesis.graphql.scalar("Decimal", st.one_of(decimals, junk).map(nodes.String))
    schemathesis.graphql.scalar("Date", st.one_of(dates, junk).map(nodes.String))
    schemathesis.graphql.scalar("DateTime", st.one_of(moments, junk).map(nodes.String))


def build_app(database: Path):
    asyncio.run(migrate(f"sqlite://{database}"))
    key = base64.urlsafe_b64encode(secrets.token_bytes(32)).decode().rstrip("=")
    settings = Settings(
        database_url=f"sqlite://{database}",
        secret_key=secrets.token_urlsafe(48),
        encryption_keys=parse_encryption_keys(f"b1:{key}"),
        graphql_introspection=True,
        cookie_secure=False,
    )
    runtime = Runtime.from_settings(settings, password_policy=FAST_TEST_POLICY)
    return create_app(runtime, run_workers=False)


def _check_operation(operation, examples: int, failures: list[str], counter: list[int]) -> None:
    @given(case=operation.as_strategy())
    @settings(
        max_examples=examples,
        deadline=None,
        database=None,
        phases=[Phase.generate],
        suppress_health_check=list(HealthCheck),
    )
    def check(case) -> None:
        counter[0] += 1
        response = case.call()
        if response.status_code >= 500:
            failures.append(f"{operation.label}: {response.status_code} {case.body!r}"[:300])

    check()


def run(cases: int) -> int:
    register_scalars()
    with tempfile.TemporaryDirectory() as folder:
        app = build_app(Path(folder) / "bench.sqlite3")
        schema = from_asgi("/graphql", app)
        operations = [op for op in schema.get_all_operations() if op.ok()]
        per_operation = -(-cases // max(1, len(operations)))  # ceil: at least `cases` in all
        counter = [0]
        failures: list[str] = []
        started = time.perf_counter()
        # Operations with a small input space (no arguments) run out of distinct examples
        # early; further rounds draw new ones until at least ``cases`` have run.
        for _round in range(10):
            for result in operations:
                _check_operation(result.ok(), per_operation, failures, counter)
            if counter[0] >= cases:
                break
        ran = counter[0]
        seconds = time.perf_counter() - started
    print(f"schemathesis /graphql: {ran} cases over {len(operations)} operations in {seconds:.1f}s")
    print(f"5xx answers: {len(failures)}")
    for failure in failures[:10]:
        print("  ", failure)
    return 1 if failures or ran < cases else 0


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--cases", type=int, default=1000)
    args = parser.parse_args(argv)
    return run(args.cases)


if __name__ == "__main__":
    sys.exit(main())
