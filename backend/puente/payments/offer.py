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
from puente.loans.engine import OverpaymentMode
from puente.loans.state import LoanView
from puente.money import InvalidAmount, parse_amount

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
