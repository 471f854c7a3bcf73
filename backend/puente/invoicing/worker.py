"""The fiscal worker: CFDI for collected payments and CEP for received SPEI, off the payment path.

A payment transition only *wakes* the worker (``wake_fiscal_workers``, registered with the
payment path's transition observers); the worker then runs ``run_fiscal_once``, which is also what
``puente jobs fiscal`` runs from cron and what runs every ``interval`` seconds anyway. Both
steps are sweeps over the database, so a crash, a PAC outage or Banxico's delay only delays
the work: nothing is lost and nothing runs twice (rows are keyed and unique).
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import weakref
from dataclasses import dataclass

from puente.cep.banxico import BanxicoCep
from puente.cep.service import CepLookup, ProviderPayments, run_cep
from puente.compliance.monitoring_service import monitor_payment
from puente.config import Settings
from puente.enums import PaymentStatus as S
from puente.institutions.models import Institution
from puente.invoicing.pac import SW_TEST_HOST, Pac, SwSapienPac
from puente.invoicing.service import run_invoicing
from puente.payments.compliance_hooks import compliance
from puente.payments.gateways import GatewayDirectory
from puente.payments.lifecycle_service import Transition
from puente.payments.models import Payment
from puente.providers.values import ProviderPayment
from puente.runtime import Runtime

__all__ = [
    "FiscalReport",
    "FiscalWorker",
    "default_cep",
    "default_pac",
    "gateway_payments",
    "run_fiscal_once",
]

logger = logging.getLogger("puente.invoicing")
# What wakes the worker: money arrived (invoice it, validate its SPEI) or went back (refund).
WAKING = frozenset({S.PAID, S.PARTIALLY_REFUNDED, S.REFUNDED, S.CHARGED_BACK})


def default_pac(settings: Settings) -> SwSapienPac:
    """SW sapien at ``PUENTE_PAC_BASE_URL``; in the demo the simulator under /sandbox/pac."""
    base = settings.pac_base_url or (
        f"{settings.base_url}/sandbox/pac" if settings.sandbox else SW_TEST_HOST
    )
    token = settings.pac_token or settings.provider_env.get("pac", {}).get("token", "")
    return SwSapienPac(token, base_url=base)


def default_cep(settings: Settings) -> BanxicoCep:
    """Banxico's CEP at ``PUENTE_CEP_BASE_URL``; in the demo the simulator's Banxico paths."""
    if settings.cep_base_url:
        return BanxicoCep(settings.cep_base_url)
    return BanxicoCep(f"{settings.base_url}/sandbox/banxico/cep" if settings.sandbox else None)


@dataclass(frozen=True, slots=True)
class FiscalReport:
    invoices_settled: int
    ceps_validated: int


def gateway_payments(gateways: GatewayDirectory) -> ProviderPayments:
    """Ask the payment's gateway (the institution's connector) for its current view."""

    async def current(payment: Payment) -> ProviderPayment | None:
        if not payment.provider_reference:
            return None
        institution = await Institution.get(id=payment.institution_id)
        connector = await gateways.gateway(institution, str(payment.provider))
        return await connector.get_payment(payment.provider_reference)

    return current


async def run_fiscal_once(
    runtime: Runtime, pac: Pac, cep: CepLookup, payments: ProviderPayments | None = None
) -> FiscalReport:
    """One sweep: invoices, then CEPs; a validated CEP re-runs the AML rules on its payment.
    ``payments`` lets the CEP step ask a gateway what its notifications did not say."""
    invoices = await run_invoicing(runtime, pac)
    validated = await run_cep(runtime, cep, payments)
    for payment_id in validated:
        try:
            await monitor_payment(runtime, payment_id)
        except Exception:  # noqa: BLE001 - evidence is stored; monitoring failing is logged
            logger.exception("AML monitoring after CEP failed for payment %s", payment_id)
    return FiscalReport(invoices, len(validated))


_LIVE: weakref.WeakSet[FiscalWorker] = weakref.WeakSet()


def wake_fiscal_workers(runtime: Runtime, transition: Transition) -> None:
    """A payment transition committed: the workers look at it soon (never blocks it)."""
    if transition.applied and transition.after in WAKING:
        for worker in list(_LIVE):
            worker.wake()


class FiscalWorker:
    """Runs ``run_fiscal_once`` when woken and every ``interval`` seconds."""

    def __init__(
        self,
        runtime: Runtime,
        *,
        pac: Pac | None = None,
        cep: CepLookup | None = None,
        gateways: GatewayDirectory | None = None,
        interval: float = 60.0,
    ) -> None:
        self.runtime = runtime
        self.payments = gateway_payments(gateways) if gateways is not None else None
        self.pac = pac or default_pac(runtime.settings)
        self.cep = cep or default_cep(runtime.settings)
        self.interval = interval
        self._wake = asyncio.Event()
        _LIVE.add(self)
        hooks = compliance().transition_observers
        if wake_fiscal_workers not in hooks:
            hooks.append(wake_fiscal_workers)

    def wake(self) -> None:
        self._wake.set()

    async def run(self, stop: asyncio.Event) -> None:
        while not stop.is_set():
            try:
                await run_fiscal_once(self.runtime, self.pac, self.cep, self.payments)
            except Exception:  # noqa: BLE001 - the next sweep tries again
                logger.exception("fiscal sweep failed")
            self._wake.clear()
            with contextlib.suppress(TimeoutError):
                await asyncio.wait_for(self._wake.wait(), timeout=self.interval)
