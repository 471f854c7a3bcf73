"""An institution's compliance policy: thresholds, windows and risk factors (configurable).

Read from ``Institution.settings["aml"]`` (a JSON object); every key is optional and falls
back to the default below. Figures that ``shared/reference/mexico.md`` §3 marks UNCONFIRMED
(treating OXXO/store cash as cash, the structuring windows, the proof-of-address age, PEP
relatives) live here and nowhere else, so an institution's compliance officer can set them.
A malformed policy is refused whole (:class:`PolicyError`), never half applied.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field, fields, replace
from decimal import Decimal, InvalidOperation
from typing import Any, Final

from puente.compliance.report_layout import RELEVANT_COLUMNS, UNUSUAL_COLUMNS

__all__ = ["DEFAULT_POLICY", "AmlPolicy", "PolicyError", "RiskFactors", "policy_from_settings"]


class PolicyError(ValueError):
    """A policy value that cannot be used; says which key."""


@dataclass(frozen=True, slots=True)
class RiskFactors:
    """Points per inherent risk factor; the grade comes from the total (``risk.py``)."""

    foreign_nationality: int = 2
    born_abroad: int = 1
    age_under: int = 21  # younger than this adds ``young`` points
    young: int = 1
    high_risk_occupations: frozenset[str] = frozenset(
        {"CAMBISTA", "JOYERO", "COMERCIANTE DE AUTOS", "NOTARIO", "CASINO", "POLITICO"}
    )
    high_risk_occupation: int = 2
    high_risk_states: frozenset[str] = frozenset()  # CURP entity codes, e.g. {"TS", "SL"}
    high_risk_state: int = 1
    remote_channel: int = 1  # onboarding without a branch visit
    amount_over_income: Decimal = Decimal("6")  # principal > N × monthly income adds points
    high_leverage: int = 2
    third_party_account: int = 2  # acting for a third party (propietario real ≠ applicant)
    medium_from: int = 2
    high_from: int = 4


@dataclass(frozen=True, slots=True)
class AmlPolicy:
    """Everything compliance decides per institution. Amounts in the currency named."""

    relevant_cash_usd: Decimal = Decimal("7500")  # 95 Bis: cash operation ≥ USD 7,500
    # OXXO/Paynet/store cash counted as efectivo: conservative, mexico.md §3.4 UNCONFIRMED.
    store_cash_is_cash: bool = True
    structuring_floor: Decimal = Decimal("0.80")  # "just under" = ≥ 80 % of the threshold
    structuring_day_hours: int = 24
    structuring_day_min_payments: int = 2
    structuring_month_days: int = 30
    structuring_month_min_payments: int = 3
    third_party_payers_max: int = 1  # more distinct third-party payers than this in the window
    third_party_window_days: int = 30
    cash_payoff_days: int = 30  # loan paid off in cash within N days of disbursement
    prepayment_income_multiple: Decimal = Decimal("3")  # prepaid in 30 days > N × income
    prepayment_window_days: int = 30
    name_match_threshold: int = 88  # screening and CEP ordenante name comparisons, 0–100
    proof_of_address_max_days: int = 90  # "≤ 3 months", mexico.md §3.3 UNCONFIRMED
    document_max_bytes: int = 5 * 1024 * 1024
    blocked_case_hours: int = 24  # 95 Bis: report within 24 hours
    unusual_case_days: int = 60  # 95 Bis: report within 60 calendar days of the alert
    rules_enabled: frozenset[str] = frozenset(
        {
            "RELEVANT_CASH",
            "STRUCTURING_DAY",
            "STRUCTURING_MONTH",
            "MANY_THIRD_PARTY_PAYERS",
            "CASH_PAYOFF_AFTER_DISBURSEMENT",
            "PREPAYMENT_BEYOND_INCOME",
            "CEP_ORDENANTE_MISMATCH",
            "DISBURSEMENT_THIRD_PARTY_CLABE",
            "STRUCTURING_LINKED",
        }
    )
    risk: RiskFactors = field(default_factory=RiskFactors)
    # Report file layouts: column names in order (reports.py documents each column).
    relevant_report_columns: tuple[str, ...] = ()
    unusual_report_columns: tuple[str, ...] = ()


DEFAULT_POLICY: Final = AmlPolicy()


def _coerce(name: str, current: Any, raw: Any) -> Any:
    try:
        if isinstance(current, bool):
            if not isinstance(raw, bool):
                raise TypeError
            return raw
        if isinstance(current, int):
            if isinstance(raw, bool) or not isinstance(raw, int) or raw < 0:
                raise TypeError
            return raw
        if isinstance(current, Decimal):
            if isinstance(raw, float | bool):  # money and ratios never travel as floats
                raise TypeError
            value = Decimal(str(raw))
            if not value.is_finite() or value < 0:
                raise TypeError
            return value
        if isinstance(current, frozenset):
            if not isinstance(raw, list) or not all(isinstance(item, str) for item in raw):
                raise TypeError
            return frozenset(item.strip().upper() for item in raw)
        if isinstance(current, tuple):
            if not isinstance(raw, list) or not all(isinstance(item, str) for item in raw):
                raise TypeError
            return tuple(raw)
    except (TypeError, InvalidOperation, ValueError):
        raise PolicyError(f"aml.{name}: valor no válido") from None
    raise PolicyError(f"aml.{name}: clave desconocida")


def _apply(base: Any, raw: Mapping[str, Any], prefix: str = "") -> Any:
    known = {f.name for f in fields(base)}
    changes: dict[str, Any] = {}
    for key, value in raw.items():
        if key not in known:
            raise PolicyError(f"aml.{prefix}{key}: clave desconocida")
        current = getattr(base, key)
        if isinstance(current, RiskFactors):
            if not isinstance(value, Mapping):
                raise PolicyError(f"aml.{key}: debe ser un objeto")
            changes[key] = _apply(current, value, prefix=f"{key}.")
        else:
            changes[key] = _coerce(prefix + key, current, value)
    return replace(base, **changes)


def policy_from_settings(settings: Mapping[str, Any] | None) -> AmlPolicy:
    """The policy in an institution's settings (``{"aml": {...}}``), defaults elsewhere."""
    raw = (settings or {}).get("aml") or {}
    if not isinstance(raw, Mapping):
        raise PolicyError("aml: debe ser un objeto")
    policy: AmlPolicy = _apply(DEFAULT_POLICY, raw)
    if not 0 < policy.name_match_threshold <= 100:
        raise PolicyError("aml.name_match_threshold: debe estar entre 1 y 100")
    if not Decimal(0) < policy.structuring_floor < Decimal(1):
        raise PolicyError("aml.structuring_floor: debe estar entre 0 y 1")
    for name, available in (
        ("relevant_report_columns", RELEVANT_COLUMNS),
        ("unusual_report_columns", UNUSUAL_COLUMNS),
    ):
        unknown = set(getattr(policy, name)) - set(available)
        if unknown:
            raise PolicyError(f"aml.{name}: columnas desconocidas {sorted(unknown)}")
    return policy
