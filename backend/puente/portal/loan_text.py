"""How the portal names loans, installments and their states to a Mexican reader (es-MX).

A tuition plan (``product.kind == "tuition"``) is a loan in the books, but a parent reads
it in school words: colegiatura, inscripción, beca, descuento por pronto pago, recargo;
never capital, interés or CAT.
"""

from __future__ import annotations

from jinja2 import Environment

from puente.loans.models import Loan
from puente.loans.state import LoanView
from puente.portal.formatting import importe, importe_centavos, mes
from puente.portal.pictures import balance_chart, progress_figure, tuition_calendar

__all__ = [
    "BUCKET",
    "INSTALLMENT_STATUS",
    "LOAN_STATUS",
    "installment_names",
    "installment_status_text",
    "is_tuition",
    "loan_status_text",
    "register_loan_filters",
]

LOAN_STATUS = {
    "active": "Vigente",
    "paid_off": "Liquidado",
    "application": "En solicitud",
    "approved": "Aprobado",
    "disbursed": "Por activar",
    "defaulted": "En mora",
    "written_off": "Castigado",
    "restructured": "Reestructurado",
}
TUITION_STATUS = LOAN_STATUS | {"paid_off": "Pagado", "defaulted": "Con adeudo"}
INSTALLMENT_STATUS = {
    "PAID": "Pagado",
    "PENDING": "Por pagar",
    "PARTIAL": "Pago parcial",
    "OVERDUE": "Vencido",
    "WRITTEN_OFF": "Castigado",
}
BUCKET = {
    "CURRENT": "Al corriente",
    "DPD_1_29": "Atraso de 1 a 29 días",
    "DPD_30_59": "Atraso de 30 a 59 días",
    "DPD_60_89": "Atraso de 60 a 89 días",
    "DPD_90_PLUS": "Atraso de 90 días o más",
}


def loan_status_text(value: object, tuition: bool = False) -> str:
    """``Vigente``, ``Liquidado`` … (a finished tuition plan is ``Pagado``)."""
    names = TUITION_STATUS if tuition else LOAN_STATUS
    return names.get(str(getattr(value, "value", value)), "—")


def installment_status_text(value: object) -> str:
    return INSTALLMENT_STATUS.get(str(getattr(value, "value", value)), "—")


def is_tuition(loan: Loan) -> bool:
    """A tuition plan (colegiaturas), read in school words."""
    return str(loan.product.kind) == "tuition"


def installment_names(view: LoanView) -> dict[int, str]:
    """What the payer calls each installment: ``3`` for a loan; ``Inscripción`` or
    ``Colegiatura de noviembre`` for a tuition plan."""
    if not is_tuition(view.loan):
        return {i.number: str(i.number) for i in view.installments}
    return {
        i.number: "Inscripción" if i.number == 0 else f"Colegiatura de {mes(i.due_date)}"
        for i in view.installments
    }


def register_loan_filters(env: Environment) -> None:
    """Add the loan filters and pictures to the portal's Jinja environment."""
    env.filters.update(
        estado_credito=loan_status_text,
        estado_cuota=installment_status_text,
        atraso=lambda value: BUCKET.get(str(getattr(value, "value", value)), "—"),
        progreso=progress_figure,
        grafica_saldo=balance_chart,
        calendario_escolar=tuition_calendar,
        mes=mes,
        importe=importe,
        importe_centavos=importe_centavos,
    )
