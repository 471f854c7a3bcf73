"""Regulatory report files (service): quarterly relevant operations, and one unusual-operation
report per case, in the institution's layout (``report_layout.py``).

``file_case_report`` is the officer's "report" action: it writes the case's report text,
closes the case as reported with the officer's reason (audited) and returns the file.
"""

from __future__ import annotations

import json
from dataclasses import dataclass
from datetime import date, datetime
from decimal import Decimal

from puente.accounts.models import User
from puente.compliance.cases import CaseError, report_case, require_case_officer
from puente.compliance.institution_policy import policy_for
from puente.compliance.models import AmlAlert, AmlCase, LoanApplication
from puente.compliance.report_layout import RELEVANT_COLUMNS, UNUSUAL_COLUMNS, render_report
from puente.compliance.screening_service import APPLICATION_CONTEXT
from puente.money import from_centavos
from puente.payments.models import Payment
from puente.runtime import Runtime, mexico_city_date

__all__ = ["ReportFile", "file_case_report", "relevant_operations_report", "unusual_case_report"]


@dataclass(frozen=True, slots=True)
class ReportFile:
    filename: str
    text: str
    rows: int


async def _identity(runtime: Runtime, customer_id: int) -> dict[str, object]:
    user = await User.get(id=customer_id)
    application = await LoanApplication.filter(user_id=customer_id).order_by("-id").first()
    found: dict[str, object] = {"cliente": customer_id, "nombre": user.full_name}
    if application is not None:
        data = json.loads(runtime.cipher.decrypt(application.data_enc, context=APPLICATION_CONTEXT))
        found.update(
            nombre=application.full_name,
            rfc=data.get("rfc"),
            curp=data.get("curp"),
            ingreso_mensual_declarado=from_centavos(application.monthly_income_centavos),
            riesgo=application.risk_grade,
        )
    return found


def _quarter_of(day: date) -> tuple[int, int]:
    return day.year, (day.month - 1) // 3 + 1


async def relevant_operations_report(
    runtime: Runtime, institution_id: int, year: int, quarter: int
) -> ReportFile:
    """Every relevant cash operation of the quarter (by its Mexico City date)."""
    if not 1 <= quarter <= 4:
        raise ValueError("el trimestre va de 1 a 4")
    policy = await policy_for(institution_id)
    alerts = await AmlAlert.filter(institution_id=institution_id, rule="RELEVANT_CASH").order_by(
        "id"
    )
    rows = []
    for alert in alerts:
        for payment_id in alert.payment_ids:
            payment = await Payment.get(id=payment_id)
            paid_at: datetime = payment.paid_at or payment.updated_at
            day = mexico_city_date(paid_at)
            if _quarter_of(day) != (year, quarter):
                continue
            rows.append(
                {
                    "folio": f"REL-{year}Q{quarter}-{len(rows) + 1:05d}",
                    "periodo": f"{year}Q{quarter}",
                    "fecha_operacion": day.isoformat(),
                    "monto_mxn": from_centavos(payment.amount_centavos),
                    "tipo_cambio_fix": alert.evidence.get("fix"),
                    "monto_usd": alert.evidence.get("usd"),
                    "instrumento": f"efectivo ({payment.provider})",
                    "credito": payment.loan_id,
                    "pago": payment.id,
                    **await _identity(runtime, alert.customer_id),
                }
            )
    text = render_report(rows, RELEVANT_COLUMNS, policy.relevant_report_columns)
    return ReportFile(f"relevantes-{institution_id}-{year}Q{quarter}.txt", text, len(rows))


async def unusual_case_report(runtime: Runtime, case: AmlCase, description: str) -> ReportFile:
    """One report for a case: its alerts (related operations go in one report)."""
    policy = await policy_for(case.institution_id)
    alerts = await AmlAlert.filter(case_id=case.id).order_by("id")
    payment_ids = sorted({pid for alert in alerts for pid in alert.payment_ids})
    payments = await Payment.filter(id__in=payment_ids)
    total = sum((from_centavos(p.amount_centavos) for p in payments), Decimal(0))
    row = {
        "folio": f"INU-{case.institution_id}-{case.id:06d}",
        "caso": case.id,
        "tipo_reporte": case.report_kind,
        "fecha_deteccion": case.opened_at.isoformat(),
        "fecha_limite": case.due_at.isoformat(),
        "reglas": ",".join(sorted({alert.rule for alert in alerts})),
        "pagos": ",".join(str(pid) for pid in payment_ids),
        "monto_total_mxn": total,
        "descripcion": description,
        **await _identity(runtime, case.customer_id),
    }
    text = render_report([row], UNUSUAL_COLUMNS, policy.unusual_report_columns)
    return ReportFile(f"caso-{case.report_kind}-{case.id:06d}.txt", text, 1)


async def file_case_report(runtime: Runtime, actor: User, case_id: int, reason: str) -> ReportFile:
    """The officer reports a case: the file is produced and the case closed as reported."""
    case = await AmlCase.filter(id=case_id).first()
    if case is None:
        raise CaseError("CASE_NOT_FOUND", "El caso no existe.")
    # Before the report is built: it carries the customer's identity (CURP, RFC, address).
    require_case_officer(actor, case.institution_id)
    report = await unusual_case_report(runtime, case, " ".join(reason.split()))
    await report_case(actor, case_id, reason, at=runtime.now(), report_file=report.filename)
    return report
