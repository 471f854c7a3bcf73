"""CAT (Costo Anual Total) per Banxico Circular 21/2009 as amended by Circular 9/2015.

The CAT is the effective annual rate i solving Σ A_j/(1+i)^t_j = Σ B_k/(1+i)^s_k, with t = k/m
years for installment k and m = periods per year. IVA is excluded from every flow; the opening
fee is included.

Numerics: flows are exact ``Decimal`` amounts converted to ``float`` once, and the root is found
in binary floating point. That is deliberate: the CAT is published to 0.1 percentage point, a
double carries ~16 significant digits and the solver stops when the discount factor moves less
than 1e-12 (mexico.md §1.5 asks 1e-10), so the float error is ~1e-8 pp, far below the
rounding step; the same Newton loop in Decimal measured ~3.5x slower (32 µs vs 9 µs for a
12-payment loan), which matters for the 5,000 quotes/s target (bench/loan_engine.py). The root
is then turned into a ``Decimal`` and rounded with an explicit rounding mode.
"""

from __future__ import annotations

from collections.abc import Iterable
from decimal import ROUND_HALF_UP, Decimal
from typing import NamedTuple

from puente.loans.engine.schedule import Schedule

__all__ = [
    "CashFlow",
    "CatError",
    "annual_rate_from_flows",
    "cat_for_schedule",
    "cat_from_flows",
]

_ONE_DECIMAL = Decimal("0.1")
_TOLERANCE = 1e-12  # on the discount factor v = 1/(1+x); ~1e-12 on the periodic rate
_MAX_NEWTON = 100
# Circular 9/2015: with several roots take the positive one closest to zero. The fallback scan
# walks per-period rates upward from 0 on this grid (0.1 % ... ~120,000 %) and bisects the
# first sign change, so the root closest to zero is the one found.
_SCAN_RATES = [0.0] + [0.001 * 1.25**j for j in range(63)]


class CatError(ValueError):
    """The flows have no CAT: no rate makes disbursements and payments equal."""


class CashFlow(NamedTuple):
    """An amount at period ``period`` (t = period / m years from the contract date)."""

    period: int
    amount: Decimal


def cat_for_schedule(schedule: Schedule, *, rounding: str = ROUND_HALF_UP) -> Decimal:
    """The CAT of a schedule, in percent with one decimal (e.g. Decimal("79.6"))."""
    # Circular 21/2009: the CAT is "sin IVA". A withheld fee's IVA is not a cost of credit, so
    # A0 is the cash disbursed plus that IVA (= principal - fee). A financed fee's IVA is money
    # lent to pay the tax, so it counts as disbursed while the fee itself does not.
    net = [-float(schedule.disbursed_amount + schedule.opening_fee_vat)]
    net.extend(float(row.principal + row.interest) for row in schedule.rows)
    return _to_percent(_annual_rate(net, schedule.terms.periods_per_year), rounding)


def cat_from_flows(
    disbursements: Iterable[CashFlow | tuple[int, Decimal]],
    payments: Iterable[CashFlow | tuple[int, Decimal]],
    periods_per_year: int,
    *,
    rounding: str = ROUND_HALF_UP,
) -> Decimal:
    """The CAT of explicit flows (amounts without IVA), in percent with one decimal."""
    rate = annual_rate_from_flows(disbursements, payments, periods_per_year)
    return _to_percent(rate, rounding)


def annual_rate_from_flows(
    disbursements: Iterable[CashFlow | tuple[int, Decimal]],
    payments: Iterable[CashFlow | tuple[int, Decimal]],
    periods_per_year: int,
) -> float:
    """The unrounded effective annual rate (0.796 for 79.6 %) of explicit flows."""
    if type(periods_per_year) is not int or periods_per_year <= 0:
        raise CatError("periods_per_year must be a positive whole number")
    net: dict[int, float] = {}
    for sign, flows in ((-1.0, disbursements), (1.0, payments)):
        for period, amount in flows:
            if type(period) is not int or period < 0:
                raise CatError("flow periods must be whole numbers >= 0")
            if not isinstance(amount, Decimal | int) or isinstance(amount, bool):
                raise CatError("flow amounts must be Decimal")
            net[period] = net.get(period, 0.0) + sign * float(amount)
    if not net:
        raise CatError("no flows")
    coefficients = [0.0] * (max(net) + 1)
    for period, value in net.items():
        coefficients[period] = value
    return _annual_rate(coefficients, periods_per_year)


def _to_percent(rate: float, rounding: str) -> Decimal:
    # Fix the float to 8 decimals of a percent first so the result never depends on float noise
    # beyond the solver's precision; then the published rounding (one decimal).
    return Decimal(f"{rate * 100:.8f}").quantize(_ONE_DECIMAL, rounding=rounding)


def _annual_rate(net: list[float], m: int) -> float:
    """Effective annual rate for per-period net flows (lender's view: payments minus loans)."""
    v = _discount_factor(net)
    return v**-m - 1.0


def _npv(net: list[float], v: float) -> float:
    total = 0.0
    for value in reversed(net):
        total = total * v + value
    return total


def _discount_factor(net: list[float]) -> float:
    """The v = 1/(1+x) of the per-period rate x closest to zero (positive preferred)."""
    if not any(net):
        raise CatError("all flows are zero")
    if _is_conventional(net):
        v = _newton_from_one(net)
        if v is not None:
            return v
    return _scan_and_bisect(net)


def _is_conventional(net: list[float]) -> bool:
    # Money out first, then only money back: one sign change, so exactly one root in v > 0
    # (Descartes' rule of signs).
    first = 0.0
    changes = 0
    previous = 0.0
    for value in net:
        if value == 0.0:
            continue
        if previous == 0.0:
            first = value
        elif (value < 0.0) != (previous < 0.0):
            changes += 1
        previous = value
    return first < 0.0 and changes == 1


def _newton_from_one(net: list[float]) -> float | None:
    """Newton on P(v) = Σ net_k v^k starting at v = 1.

    For conventional flows P is increasing and convex on v > 0, so from v = 1 with P(1) > 0
    (a loan that costs something) the iterates decrease monotonically onto the root.
    """
    v = 1.0
    for _ in range(_MAX_NEWTON):
        value = 0.0
        slope = 0.0
        for c in reversed(net):
            slope = slope * v + value
            value = value * v + c
        if slope <= 0.0:
            return None
        step = value / slope
        v -= step
        if v <= 0.0:
            return None
        if abs(step) < _TOLERANCE:
            return v
    return None


def _scan_and_bisect(net: list[float]) -> float:
    """Find the first sign change of NPV scanning rates up from 0, then down to -99 %."""
    # The grid is on the per-period rate; v = 1/(1+x) falls as the rate rises, so the first
    # sign change met is the root closest to zero.
    upward = [1.0 / (1.0 + rate) for rate in _SCAN_RATES]
    downward = [1.0 / (1.0 + rate) for rate in (0.0, -0.1, -0.3, -0.5, -0.7, -0.9, -0.99)]
    for grid in (upward, downward):
        previous_v = grid[0]
        previous = _npv(net, previous_v)
        if previous == 0.0:
            return previous_v
        for v in grid[1:]:
            current = _npv(net, v)
            if current == 0.0:
                return v
            if (current < 0.0) != (previous < 0.0):
                return _bisect(net, previous_v, v, previous)
            previous_v, previous = v, current
    raise CatError("no rate between -99 % and 100,000 % equates payments and disbursements")


def _bisect(net: list[float], a: float, b: float, value_a: float) -> float:
    while abs(b - a) > _TOLERANCE:
        middle = (a + b) / 2.0
        value = _npv(net, middle)
        if value == 0.0:
            return middle
        if (value < 0.0) == (value_a < 0.0):
            a, value_a = middle, value
        else:
            b = middle
    return (a + b) / 2.0
