"""What a borrower may pay and how: amounts from the loan view, methods from the institution.

Pure: values in, values out. Which provider offers each method is an institution setting,
``Institution.settings["payment_providers"]``, e.g. ``{"card": ["stripe", "openpay"]}``;
methods it does not name keep the default below, an empty list hides a method.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from decimal import Decimal

from puente.enums import PaymentMethodType as M
from puente.enums import ProviderName as P
from puente.loans.state import InstallmentStatus, LoanView
from puente.money import ZERO

__all__ = [
    "DEFAULT_PROVIDERS",
    "PaymentOption",
    "installment_totals",
    "payment_options",
]

DEFAULT_PROVIDERS: Mapping[M, tuple[P, ...]] = {
    M.CARD: (P.STRIPE,),
    M.SPEI: (P.STRIPE,),
    M.CASH: (P.CONEKTA,),
    M.PAYPAL: (P.PAYPAL,),
}
SETTING = "payment_providers"
MAX_INSTALLMENTS_AHEAD = 12  # "pay several": up to a year of installments in one go


@dataclass(frozen=True, slots=True)
class PaymentOption:
    """One way to pay: a method through one provider (``card:stripe``)."""

    method: M
    provider: P

    @property
    def key(self) -> str:
        return f"{self.method.value}:{self.provider.value}"


def payment_options(settings: Mapping[str, object] | None) -> tuple[PaymentOption, ...]:
    """The institution's methods and providers, in a stable order; unknown names are skipped."""
    configured = (settings or {}).get(SETTING)
    chosen = dict(configured) if isinstance(configured, Mapping) else {}
    options: list[PaymentOption] = []
    for method in M:
        names: Sequence[object] = chosen.get(method.value, DEFAULT_PROVIDERS.get(method, ()))
        if isinstance(names, str):
            names = [names]
        for name in names:
            if name in P._value2member_map_:
                option = PaymentOption(method, P(str(name)))
                if option not in options:
                    options.append(option)
    return tuple(options)


def installment_totals(view: LoanView) -> list[tuple[int, Decimal]]:
    """``(n, amount)`` to cover the next ``n`` open installments, oldest first (prelación
    pays the oldest first, so the next ``n`` are what ``amount`` settles)."""
    settled = (InstallmentStatus.PAID, InstallmentStatus.WRITTEN_OFF)
    totals: list[tuple[int, Decimal]] = []
    running = ZERO
    for installment in view.installments:
        if installment.status in settled or installment.outstanding <= 0:
            continue
        running += installment.outstanding
        totals.append((len(totals) + 1, running))
        if len(totals) == MAX_INSTALLMENTS_AHEAD:
            break
    return totals
