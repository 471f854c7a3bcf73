"""The customer's risk grade at onboarding (pure): low, medium or high.

Inherent factors (nationality, age, occupation, geography, channel, leverage, acting for a
third party) add the points the institution's policy gives them (``RiskFactors``); the total
sets the grade. A PEP or sanctions-list hit is high whatever the points (95 Bis rules: enhanced
due diligence). Every factor that counted is returned, so the file shows why.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import date
from decimal import Decimal
from enum import StrEnum

from puente.compliance.policy import RiskFactors

__all__ = ["RiskAssessment", "RiskGrade", "RiskInputs", "grade_risk"]


class RiskGrade(StrEnum):
    LOW = "low"
    MEDIUM = "medium"
    HIGH = "high"


@dataclass(frozen=True, slots=True)
class RiskInputs:
    nationality: str  # ISO 3166 alpha-2, "MX" for Mexican
    birth_date: date
    birth_state: str  # CURP entity code ("NE" born abroad)
    occupation: str
    monthly_income: Decimal
    requested_amount: Decimal
    acting_for_third_party: bool
    remote: bool = True
    pep: bool = False
    sanctioned: bool = False


@dataclass(frozen=True, slots=True)
class RiskAssessment:
    grade: RiskGrade
    points: int
    reasons: tuple[str, ...]


def _age(born: date, today: date) -> int:
    return today.year - born.year - ((today.month, today.day) < (born.month, born.day))


def grade_risk(inputs: RiskInputs, factors: RiskFactors, today: date) -> RiskAssessment:
    """Grade a persona física from the policy's factors (``today`` fixes the age)."""
    checks: list[tuple[bool, int, str]] = [
        (inputs.nationality.upper() != "MX", factors.foreign_nationality, "nacionalidad"),
        (inputs.birth_state.upper() == "NE", factors.born_abroad, "nacido_en_el_extranjero"),
        (_age(inputs.birth_date, today) < factors.age_under, factors.young, "edad"),
        (
            inputs.occupation.strip().upper() in factors.high_risk_occupations,
            factors.high_risk_occupation,
            "ocupacion",
        ),
        (
            inputs.birth_state.upper() in factors.high_risk_states,
            factors.high_risk_state,
            "entidad",
        ),
        (inputs.remote, factors.remote_channel, "canal_remoto"),
        (
            inputs.requested_amount > inputs.monthly_income * factors.amount_over_income,
            factors.high_leverage,
            "monto_contra_ingreso",
        ),
        (inputs.acting_for_third_party, factors.third_party_account, "tercero"),
    ]
    counted = [(points, reason) for hit, points, reason in checks if hit and points]
    points = sum(p for p, _ in counted)
    reasons = [reason for _, reason in counted]
    if inputs.pep:
        reasons.append("pep")
    if inputs.sanctioned:
        reasons.append("lista_sanciones")
    if inputs.pep or inputs.sanctioned or points >= factors.high_from:
        grade = RiskGrade.HIGH
    elif points >= factors.medium_from:
        grade = RiskGrade.MEDIUM
    else:
        grade = RiskGrade.LOW
    return RiskAssessment(grade, points, tuple(reasons))
