"""PDF layout of the documents (fpdf2: pure Python, maintained, no system libraries).

Only layout: every figure comes from ``statements.data``. Core fonts are latin-1, which
covers Spanish; anything else is replaced rather than failing a download.
"""

from __future__ import annotations

from collections.abc import Iterable
from datetime import date, datetime
from decimal import Decimal

from fpdf import FPDF

from puente.money import format_mxn
from puente.runtime import MEXICO_CITY
from puente.statements.data import ReceiptData, StatementData
from puente.statements.notices import statement_notices

__all__ = ["no_debt_pdf", "receipt_pdf", "statement_pdf"]

MONTHS = (
    "enero febrero marzo abril mayo junio julio agosto septiembre octubre noviembre diciembre"
).split()


def _text(value: object) -> str:
    return str(value).encode("latin-1", "replace").decode("latin-1")


def _fecha(value: date | datetime) -> str:
    if isinstance(value, datetime):
        local = value.astimezone(MEXICO_CITY)
        return f"{local.day} de {MONTHS[local.month - 1]} de {local.year}, {local:%H:%M} h"
    return f"{value.day} de {MONTHS[value.month - 1]} de {value.year}"


def _percent(rate: Decimal) -> str:
    return f"{(rate * 100).quantize(Decimal('0.01'))} %"


class _Document(FPDF):
    def __init__(self, title: str, institution: str) -> None:
        super().__init__(format="Letter")
        self.set_title(_text(title))
        self.set_creator("Puente")
        self.set_auto_page_break(auto=True, margin=18)
        self.add_page()
        self.set_font("Helvetica", "B", 14)
        self.cell(0, 8, _text(institution), new_x="LMARGIN", new_y="NEXT")
        self.set_font("Helvetica", "", 12)
        self.cell(0, 7, _text(title), new_x="LMARGIN", new_y="NEXT")
        self.ln(3)

    def row(self, label: str, value: str, bold: bool = False) -> None:
        self.set_font("Helvetica", "B" if bold else "", 10)
        self.cell(80, 6, _text(label))
        self.cell(0, 6, _text(value), new_x="LMARGIN", new_y="NEXT")

    def heading(self, text: str) -> None:
        self.ln(2)
        self.set_font("Helvetica", "B", 11)
        self.cell(0, 7, _text(text), new_x="LMARGIN", new_y="NEXT")

    def paragraph(self, text: str, size: int = 9) -> None:
        self.set_font("Helvetica", "", size)
        self.multi_cell(0, 5, _text(text), new_x="LMARGIN", new_y="NEXT")

    def table(
        self, header: Iterable[str], rows: Iterable[Iterable[str]], widths: list[int]
    ) -> None:
        self.set_font("Helvetica", "B", 9)
        for text, width in zip(header, widths, strict=True):
            self.cell(width, 6, _text(text), border=1)
        self.ln()
        self.set_font("Helvetica", "", 9)
        for row in rows:
            for text, width in zip(row, widths, strict=True):
                self.cell(width, 6, _text(text), border=1)
            self.ln()

    def bytes(self) -> bytes:
        return bytes(self.output())


def statement_pdf(data: StatementData) -> bytes:
    """The estado de cuenta of one loan and month."""
    loan = data.loan
    doc = _Document(f"Estado de cuenta {data.period}", data.institution.name)
    doc.row("Acreditado", data.borrower_name)
    doc.row("Crédito", f"{loan.product.name} #{loan.id}")
    doc.row("Periodo", f"{_fecha(data.period_start)} al {_fecha(data.cut_date)}")
    doc.row("Fecha de corte", _fecha(data.cut_date), bold=True)
    doc.row(
        "Fecha límite de pago",
        _fecha(data.due_date) if data.due_date else "Sin pagos pendientes",
        bold=True,
    )
    doc.row("Pago del siguiente vencimiento", format_mxn(data.next_payment), bold=True)
    doc.row("Saldo al corte anterior", format_mxn(data.opening_balance))
    doc.row("Pagos recibidos en el periodo", format_mxn(data.paid_in_period))
    doc.row("Saldo al corte", format_mxn(data.closing_balance), bold=True)
    doc.row("CAT", f"{data.cat} % sin IVA" if data.cat is not None else "No aplica")
    doc.row("Tasa de interés ordinaria anual", _percent(data.annual_rate))
    if data.late_annual_rate:
        doc.row("Tasa de interés moratoria anual", _percent(data.late_annual_rate))
    doc.heading("Cargos del periodo")
    if data.charged:
        for label, value in data.charged.items():
            doc.row(label, format_mxn(value))
    else:
        doc.paragraph("Sin cargos en este periodo.")
    doc.heading("Saldo al corte por concepto")
    for label, value in data.balance_by_component.items():
        doc.row(label, format_mxn(value))
    doc.heading("Movimientos del periodo")
    doc.table(
        ("Fecha", "Concepto", "Importe"),
        [(m.day.isoformat(), m.concept, format_mxn(m.amount)) for m in data.movements]
        or [("", "Sin movimientos", "")],
        [30, 110, 50],
    )
    notices, une, condusef = statement_notices(data.institution)
    doc.heading("Avisos")
    for notice in notices:
        doc.paragraph(notice)
    doc.paragraph(une)
    doc.paragraph(condusef)
    return doc.bytes()


def receipt_pdf(data: ReceiptData) -> bytes:
    """The receipt (comprobante) of one received payment."""
    payment, loan = data.payment, data.loan
    doc = _Document("Comprobante de pago", data.institution.name)
    doc.row("Folio", str(payment.id), bold=True)
    doc.row("Fecha de pago", _fecha(data.paid_at))
    doc.row("Pagado por", data.payer_name)
    doc.row("Crédito", f"{loan.product.name} #{loan.id}")
    doc.row("Importe", format_mxn(data.amount), bold=True)
    doc.row("Método", str(payment.method))
    if payment.provider_reference:
        doc.row("Referencia", payment.provider_reference)
    if data.clave_rastreo:
        doc.row("Clave de rastreo SPEI", data.clave_rastreo)
    if data.refunded:
        doc.row("Reembolsado", format_mxn(data.refunded))
    if data.applied:
        doc.heading("Aplicación del pago")
        for label, value in data.applied.items():
            doc.row(label, format_mxn(value))
    doc.ln(4)
    doc.paragraph("Este comprobante no es un comprobante fiscal (CFDI).")
    return doc.bytes()


def no_debt_pdf(
    institution: str, borrower: str, loan_label: str, closed_on: date, issued: date
) -> bytes:
    """Constancia de no adeudo of a loan paid in full."""
    doc = _Document("Constancia de no adeudo", institution)
    doc.paragraph(
        f"{institution} hace constar que {borrower} liquidó en su totalidad el crédito "
        f"{loan_label} el {_fecha(closed_on)} y que, a la fecha de emisión, no adeuda cantidad "
        "alguna por concepto de capital, intereses, comisiones ni accesorios de dicho crédito.",
        size=11,
    )
    doc.ln(4)
    doc.row("Fecha de emisión", _fecha(issued))
    return doc.bytes()
