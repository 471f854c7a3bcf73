"""What a borrower may pay and how: amounts from the loan view, methods from the institution.

Which provider offers each method is an institution setting,
``Institution.settings["payment_providers"]``, e.g. ``{"card": ["stripe", "openpay"]}``;
methods it does not name keep the default below, an empty list hides a method. A name is
offered for a method only when a registered provider's spec says it offers that method
(``ProviderSpec.methods``): a provider installed by entry point is offered like a built-in.
Values in, values out: the specs are data (the registry's, unless the caller passes them).
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass
from decimal import Decimal

from puente.enums import PaymentMethodType as M
from puente.enums import ProviderName as P
from puente.loans.engine import OverpaymentMode
from puente.loans.state import LoanView
from puente.money import InvalidAmount, parse_amount
from puente.providers.registry import provider_specs
from puente.providers.spec import ProviderSpec
from puente.providers.values import PaymentMethod as SpecMethod

__all__ = [
    "DEFAULT_PROVIDERS",
    "PREPAYMENT_CHOICES",
    "AmountChoice",
    "PaymentOption",
    "chosen_amount",
    "chosen_prepayment_mode",
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
MAX_AMOUNT_TEXT = 32
# What money beyond what is due may do, as the pay form explains it (mexico.md §2.5).
PREPAYMENT_CHOICES: tuple[tuple[OverpaymentMode, str, str], ...] = (
    (
        OverpaymentMode.ADVANCE,
        "Adelantar mis próximos pagos",
        "Lo que sobre se guarda como saldo a favor y se usa en tus siguientes pagos.",
    ),
    (
        OverpaymentMode.REDUCE_TERM,
        "Reducir el plazo",
        "Lo que sobre va a capital: pagas lo mismo cada vez, pero terminas antes.",
    ),
    (
        OverpaymentMode.REDUCE_INSTALLMENT,
        "Reducir el monto de mis pagos",
        "Lo que sobre va a capital: terminas en la misma fecha con pagos más bajos.",
    ),
)


@dataclass(frozen=True, slots=True)
class PaymentOption:
    """One way to pay: a method through one provider (``card:stripe``); ``provider`` is a
    registered provider's name (a ``ProviderName`` for the built-ins)."""

    method: M
    provider: str
    # Cash: the most one voucher may be for, from the provider's spec (checkout.cash_limit
    # enforces it; the pay page shows it). None for other methods or a spec that names none.
    limit: Decimal | None = None

    @property
    def key(self) -> str:
        return f"{self.method.value}:{self.provider}"


def payment_options(
    settings: Mapping[str, object] | None, specs: Iterable[ProviderSpec] | None = None
) -> tuple[PaymentOption, ...]:
    """The institution's methods and providers, in a stable order; a name no registered
    provider has, or whose spec does not offer that method, is skipped."""
    by_name = {spec.name: spec for spec in (provider_specs() if specs is None else specs)}
    configured = (settings or {}).get(SETTING)
    chosen = dict(configured) if isinstance(configured, Mapping) else {}
    options: list[PaymentOption] = []
    for method in M:
        names: Sequence[object] = chosen.get(method.value, DEFAULT_PROVIDERS.get(method, ()))
        if isinstance(names, str):
            names = [names]
        for name in names:
            spec = by_name.get(name) if isinstance(name, str) else None
            if spec is None or SpecMethod(method.value) not in spec.methods:
                continue
            limit = spec.cash_limit if method is M.CASH else None
            option = PaymentOption(method, spec.name, limit)
            if option not in options:
                options.append(option)
    return tuple(options)


def installment_totals(view: LoanView, maximum: Decimal | None = None) -> list[tuple[int, Decimal]]:
    """``(n, amount)`` to cover the next ``n`` open installments (``LoanView.amounts_to_cover``:
    advances held already count); a count the advances cover whole is not offered. None
    above ``maximum`` (the most that may be paid today, ``loans.payable``): beyond the
    payoff the borrower is offered the payoff itself."""
    totals: list[tuple[int, Decimal]] = []
    for count, amount in view.amounts_to_cover():
        if count > MAX_INSTALLMENTS_AHEAD or (maximum is not None and amount > maximum):
            break
        if amount > 0:
            totals.append((count, amount))
    return totals


@dataclass(frozen=True, slots=True)
class AmountChoice:
    """What the payer picked on the pay form: the next installment (``proximo``), the next
    ``count`` of them (``varios``), the payoff today (``liquidar``) or an amount they typed
    (``otro``)."""

    kind: str = "proximo"
    count: str = ""
    other: str = ""


def chosen_amount(
    choice: AmountChoice,
    totals: Sequence[tuple[int, Decimal]],
    payoff: Decimal | None = None,
) -> Decimal | str:
    """The amount the payer picked, or what to tell them (in Spanish) when it is not one."""
    if choice.kind == "liquidar":
        return payoff if payoff else "Este crédito no tiene saldo por liquidar."
    if choice.kind == "otro":
        text = choice.other.replace("MXN", "").strip()[:MAX_AMOUNT_TEXT]
        try:
            return parse_amount(text)
        except InvalidAmount:
            return "Escribe un monto válido, por ejemplo 1,250.00."
    if not totals:
        return "Este crédito no tiene pagos pendientes; escribe otro monto."
    if choice.kind == "varios":
        offered = dict(totals)
        count = choice.count
        if not (count.isascii() and count.isdigit()) or int(count) not in offered:
            return "Elige cuántos pagos quieres cubrir."
        return offered[int(count)]
    return totals[0][1]


def chosen_prepayment_mode(value: str) -> tuple[OverpaymentMode | None, str | None]:
    """The payer's choice for money beyond what is due (None: not given, the loan's standing
    choice applies) and, when it is not one, what to tell them (Spanish)."""
    if not value:
        return None, None
    if value in OverpaymentMode._value2member_map_:
        return OverpaymentMode(value), None
    return None, "Elige qué hacer con el dinero extra."
