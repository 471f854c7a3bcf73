"""The demo's statements import cleanly, match what they should and keep their exceptions."""

from __future__ import annotations

from datetime import UTC, date, datetime

import pytest
from tests.support import factories
from tests.support.gateways import sandboxes

from puente.demo import load_demo_data
from puente.enums import PaymentStatus as S
from puente.institutions.models import Institution
from puente.payments.gateways import store_credentials
from puente.payments.models import Payment
from puente.reconciliation.demo_files import (
    announce_demo_transfers,
    demo_statements,
    write_statements,
)
from puente.reconciliation.exceptions import open_exceptions
from puente.reconciliation.remittance import apply_remittance
from puente.reconciliation.service import import_and_reconcile
from puente_sandbox.stp_keys import DEFAULT_STP_CREDENTIALS

pytestmark = [pytest.mark.anyio, pytest.mark.usefixtures("monitoring_drained")]

FORMATS = {
    "stp-demo.csv": "stp",
    "camt053-demo.xml": "camt053",
    "mt940-demo.sta": "mt940",
    "bbva-demo.csv": "csv:bbva",
}
REMITTANCE = "nomina-demo.csv"


async def test_demo_statements_import_with_matches_and_deliberate_exceptions(db, runtime, tmp_path):
    inst = await factories.institution()
    ana = await factories.user(runtime, inst)
    await factories.active_loan(inst, ana, start=date(2026, 11, 2))
    cuenta = DEFAULT_STP_CREDENTIALS["cuenta"]
    today = date(2026, 11, 27)
    await store_credentials(runtime, inst.id, "stp", DEFAULT_STP_CREDENTIALS)
    box = sandboxes(runtime, {"stp": DEFAULT_STP_CREDENTIALS})
    announced = await announce_demo_transfers(runtime, box.gateways, inst.id, today=today)
    assert [p.status for p in announced] == [S.REQUIRES_ACTION] * 3
    # Announcing again the same day returns the same payments.
    again = await announce_demo_transfers(runtime, box.gateways, inst.id, today=today)
    assert [p.id for p in again] == [p.id for p in announced]
    paths = write_statements(
        tmp_path, await demo_statements(inst.id, today=today, stp_cuenta=cuenta)
    )
    summaries = {
        path.name: await import_and_reconcile(
            runtime,
            inst.id,
            path,
            FORMATS[path.name],
            at=datetime(2026, 11, 27, 18, tzinfo=UTC),
            stp_cuenta=cuenta,
        )
        for path in paths
        if path.name != REMITTANCE
    }
    stp = summaries["stp-demo.csv"]
    assert (stp.lines, stp.matched, stp.exceptions) == (2, 1, 1)  # the loan's CLABE; nobody's
    # The first announced transfer matched by its referencia; the unexplained cash deposit,
    # and the payroll deposit until its remittance comes.
    camt = summaries["camt053-demo.xml"]
    assert (camt.matched, camt.exceptions) == (1, 2)
    mt940 = summaries["mt940-demo.sta"]
    # The overlap is imported once; the second announced transfer matched; the wrong amount.
    assert (mt940.lines, mt940.duplicates, mt940.matched, mt940.exceptions) == (3, 1, 1, 1)
    bbva = summaries["bbva-demo.csv"]
    assert (bbva.lines, bbva.matched) == (3, 1)  # the third, by the referencia it writes
    assert {p.status for p in await Payment.filter(id__in=[p.id for p in announced])} == {S.PAID}

    split = await apply_remittance(
        runtime, inst.id, tmp_path / REMITTANCE, at=datetime(2026, 11, 27, 18, tzinfo=UTC)
    )
    assert (split.status, split.applied, split.unknown) == ("applied", 1, 1)


async def test_in_the_demo_each_bank_file_and_the_remittance_match_something(db, runtime, tmp_path):
    """The issue's "done when", on the demo's own data: the STP statement, the CAMT.053, the
    MT940 and the BBVA export each match a line, the remittance splits its deposit, and the
    deliberate exceptions wait for staff."""
    assert await load_demo_data(runtime) is True
    inst = await Institution.get(slug="financiera-demo")
    cuenta = DEFAULT_STP_CREDENTIALS["cuenta"]
    today = date(2026, 11, 27)
    await store_credentials(runtime, inst.id, "stp", DEFAULT_STP_CREDENTIALS)
    box = sandboxes(runtime, {"stp": DEFAULT_STP_CREDENTIALS})
    assert len(await announce_demo_transfers(runtime, box.gateways, inst.id, today=today)) == 3
    paths = write_statements(
        tmp_path, await demo_statements(inst.id, today=today, stp_cuenta=cuenta)
    )
    at = datetime(2026, 11, 27, 18, tzinfo=UTC)
    for path in paths:
        if path.name == REMITTANCE:
            continue
        summary = await import_and_reconcile(
            runtime, inst.id, path, FORMATS[path.name], at=at, stp_cuenta=cuenta
        )
        assert summary.matched >= 1, (path.name, summary)
    split = await apply_remittance(runtime, inst.id, tmp_path / REMITTANCE, at=at)
    assert (split.status, split.applied) == ("applied", 1)
    assert len(await open_exceptions(inst.id)) >= 5
