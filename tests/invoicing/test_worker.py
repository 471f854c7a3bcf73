"""The fiscal worker is woken by payment transitions and never fails the payment path."""

from __future__ import annotations

import asyncio

import pytest

from puente.enums import PaymentStatus as S
from puente.invoicing.worker import FiscalWorker, wake_fiscal_workers
from puente.payments.compliance_hooks import compliance
from puente.payments.lifecycle_service import Transition

pytestmark = pytest.mark.anyio


class Broken:
    async def stamp(self, xml, *, reference):
        raise AssertionError("not reached: nothing to invoice")

    async def lookup(self, query):
        raise AssertionError("not reached: nothing to ask")


async def test_a_paid_transition_wakes_the_worker_and_a_failed_sweep_is_only_logged(
    db, runtime, monkeypatch
):
    worker = FiscalWorker(runtime, pac=Broken(), cep=Broken(), interval=3600)
    assert wake_fiscal_workers in compliance().transition_observers
    sweeps = []

    async def sweep(runtime_, pac, cep, payments=None):
        sweeps.append(len(sweeps))
        raise RuntimeError("PAC caído")  # the worker logs it and waits for the next wake

    monkeypatch.setattr("puente.invoicing.worker.run_fiscal_once", sweep)
    stop = asyncio.Event()
    task = asyncio.create_task(worker.run(stop))
    await asyncio.sleep(0.05)
    assert sweeps == [0]  # the first sweep at start
    wake_fiscal_workers(runtime, Transition(1, 1, S.PENDING, S.FAILED, applied=True))
    await asyncio.sleep(0.05)
    assert sweeps == [0]  # a failed payment wakes nobody
    wake_fiscal_workers(runtime, Transition(1, 1, S.PENDING, S.PAID, applied=True))
    await asyncio.sleep(0.05)
    assert sweeps == [0, 1]
    stop.set()
    worker.wake()
    await asyncio.wait_for(task, timeout=2)
