"""The public simulador de crédito: reading the form and saying what is wrong, in Spanish.

The figures come from ``loans.simulation.simulate_loan``, the same function behind the
GraphQL ``simulateLoan``; this module only turns form text (pesos, percentages) into its
arguments and engine refusals into messages a borrower understands.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from datetime import date
from decimal import Decimal, InvalidOperation
from urllib.parse import urlencode

from puente.loans.engine import CatError, LoanTermsError
from puente.loans.engine.terms import MAX_TERM_COUNT
from puente.loans.simulation import Simulation, simulate_loan
from puente.money import InvalidAmount, parse_amount

__all__ = [
    "DEFAULTS",
    "METHODS",
    "PERIODICITIES",
    "SimulatorResult",
    "run_simulator",
]

PERIODICITIES = {
    "WEEKLY": "Semanal",
    "BIWEEKLY": "Catorcenal",
    "SEMIMONTHLY": "Quincenal",
    "MONTHLY": "Mensual",
}
METHODS = {"FRENCH": "Pagos fijos", "GERMAN": "Pagos decrecientes"}
DEFAULTS = {
    "monto": "30,000.00",
    "tasa": "36",
    "plazo": "12",
    "periodicidad": "MONTHLY",
    "metodo": "FRENCH",
    "iva": "16",
    "comision": "0",
}
FIELDS = tuple(DEFAULTS)
MAX_FIELD = 32

# What to tell the person for each input the engine refuses.
MESSAGES = {
    "monto": "Escribe el monto en pesos, mayor que cero y con hasta dos decimales "
    "(por ejemplo 30,000.00); el máximo es $100,000,000.00 MXN.",
    "tasa": "Escribe la tasa anual en porcentaje, entre 0 y 1,000 (por ejemplo 36 o 36.5).",
    "plazo": "Escribe el plazo como un número entero de pagos, de 1 a 600.",
    "periodicidad": "Elige la periodicidad de la lista.",
    "metodo": "Elige el método de la lista.",
    "iva": "Escribe el IVA en porcentaje, entre 0 y 100 (por ejemplo 16).",
    "comision": "Escribe la comisión por apertura en porcentaje, de 0 a menos de 100, "
    "sin que deje el crédito en cero.",
}
# The engine refuses terms that would give a degenerate schedule (schedule.check_sound).
UNSOUND = (
    "Con ese monto y esa tasa, ese plazo deja pagos que no abonan a capital o un último pago "
    "desproporcionado. Elige un plazo más corto o un monto mayor."
)
ENGINE_FIELDS = {
    "principal": "monto",
    "annual_rate": "tasa",
    "term_count": "plazo",
    "periodicity": "periodicidad",
    "method": "metodo",
    "vat_rate": "iva",
    "opening_fee_rate": "comision",
    "openingFeeRate": "comision",
}


class _FormError(ValueError):
    def __init__(self, field: str) -> None:
        super().__init__(field)
        self.field = field


@dataclass(frozen=True)
class SimulatorResult:
    """The form as typed (to render it back), and either figures or one error."""

    values: Mapping[str, str]
    simulation: Simulation | None = None
    error_field: str | None = None
    unsound: bool = False  # the terms are valid one by one, but give no sound schedule

    @property
    def error(self) -> str | None:
        if self.unsound:
            return UNSOUND
        return MESSAGES.get(self.error_field or "")

    @property
    def share_url(self) -> str:
        """This simulation as a link (``/simulador?monto=…``): the inputs live in the URL."""
        return "/simulador?" + urlencode({name: self.values[name] for name in FIELDS})

    @property
    def period_label(self) -> str:
        return PERIODICITIES.get(self.values.get("periodicidad", ""), "").lower()

    @property
    def cost(self) -> Decimal:
        """Costo total del crédito: everything paid beyond the cash received."""
        if self.simulation is None:
            return Decimal("0")
        schedule = self.simulation.schedule
        return schedule.total_paid - schedule.disbursed_amount


def _percent(values: Mapping[str, str], field: str) -> Decimal:
    text = values[field].replace("%", "").strip()
    try:
        number = Decimal(text)
    except InvalidOperation:
        raise _FormError(field) from None
    if not number.is_finite():
        raise _FormError(field)
    return number / 100


def _whole(values: Mapping[str, str], field: str) -> int:
    text = values[field].strip()
    if not (text.isascii() and text.isdigit()):  # "²".isdigit(), but int("²") fails
        raise _FormError(field)
    return int(text)


def run_simulator(params: Mapping[str, str], today: date) -> SimulatorResult:
    """Simulate what the form says; never raises for bad input."""
    values = {name: str(params.get(name, DEFAULTS[name]))[:MAX_FIELD] for name in FIELDS}
    try:
        try:
            principal = parse_amount(values["monto"])
        except InvalidAmount:
            raise _FormError("monto") from None
        if values["periodicidad"] not in PERIODICITIES:
            raise _FormError("periodicidad")
        if values["metodo"] not in METHODS:
            raise _FormError("metodo")
        simulation = simulate_loan(
            principal=principal,
            annual_rate=_percent(values, "tasa"),
            term_count=_whole(values, "plazo"),
            periodicity=values["periodicidad"],
            method=values["metodo"],
            vat_rate=_percent(values, "iva"),
            opening_fee_rate=_percent(values, "comision"),
            start_date=today,
        )
    except _FormError as exc:
        return SimulatorResult(values, error_field=exc.field)
    except LoanTermsError as exc:
        field = ENGINE_FIELDS.get(exc.field, "monto")
        unsound = field == "plazo" and 1 <= _whole(values, "plazo") <= MAX_TERM_COUNT
        return SimulatorResult(values, error_field=field, unsound=unsound)
    except (CatError, InvalidAmount, ArithmeticError):
        return SimulatorResult(values, error_field="tasa")
    return SimulatorResult(values, simulation=simulation)
