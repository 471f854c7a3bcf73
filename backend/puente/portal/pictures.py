"""Pictures of a loan, drawn on the server as inline SVG (no CDN, no build step, no JS).

Each picture is a ``<figure>`` whose SVG is ``role="img"`` labelled by a caption that says
in words what the picture shows, so a screen reader (or a printout) loses nothing. The
figures come only from the read model (``loans.state.LoanView``), the same numbers GraphQL
gives, so a picture never disagrees with the amounts beside it.
"""

from __future__ import annotations

import zlib
from dataclasses import dataclass
from datetime import date
from decimal import Decimal
from html import escape

from markupsafe import Markup

from puente.loans.state import InstallmentStatus, InstallmentView, LoanView
from puente.money import ZERO, format_mxn
from puente.portal.formatting import MESES, fecha

__all__ = [
    "Progress",
    "balance_chart",
    "loan_progress",
    "progress_figure",
    "tuition_calendar",
]

# Fills with at least 3:1 against white (WCAG 1.4.11, non-text contrast).
PAID_FILL = "#17683a"
LATE_FILL = "#b3261e"
TRACK_FILL = "#d5dae3"
TRACK_EDGE = "#6b7385"


@dataclass(frozen=True, slots=True)
class Progress:
    """Paid versus still owed on the installments in force (charges included)."""

    paid: Decimal
    remaining: Decimal

    @property
    def total(self) -> Decimal:
        return self.paid + self.remaining

    @property
    def percent(self) -> int:
        """Whole percent paid, rounded down (99 % until the last centavo is paid)."""
        if self.total <= 0:
            return 100
        return int(self.paid * 100 / self.total)


def loan_progress(view: LoanView) -> Progress:
    """What the borrower paid and still owes, installment by installment (pure)."""
    shown = [i for i in view.installments if i.status is not InstallmentStatus.WRITTEN_OFF]
    return Progress(
        paid=sum((i.paid for i in shown), ZERO),
        remaining=sum((i.outstanding for i in shown), ZERO),
    )


def _figure(svg: str, caption: str, testid: str, extra_class: str = "") -> Markup:
    ident = f"fig-{testid}-{zlib.crc32(caption.encode()):08x}"  # stable, unique enough per page
    return Markup(
        f'<figure class="picture {extra_class}" data-testid="{testid}">'
        f'<svg role="img" aria-labelledby="{ident}" focusable="false" {svg}'
        f'<figcaption id="{ident}">{escape(caption)}</figcaption></figure>'
    )


def progress_figure(view: LoanView, tuition: bool = False) -> Markup:
    """A bar of paid versus remaining, with the same in words."""
    progress = loan_progress(view)
    width = progress.percent
    whole = "del ciclo escolar" if tuition else "de tu crédito"
    caption = (
        f"Has pagado {format_mxn(progress.paid)} de {format_mxn(progress.total)} "
        f"{whole} ({progress.percent} %). Falta {format_mxn(progress.remaining)}."
    )
    svg = (
        'viewBox="0 0 100 6" preserveAspectRatio="none" class="progress-bar">'
        f'<rect x="0" y="0" width="100" height="6" rx="3" fill="{TRACK_FILL}" '
        f'stroke="{TRACK_EDGE}" stroke-width="0.4"/>'
        f'<rect x="0" y="0" width="{width}" height="6" rx="3" fill="{PAID_FILL}"/></svg>'
    )
    return _figure(svg, caption, "progress")


def _month(day: date) -> str:
    return f"{MESES[day.month - 1][:3]} {day.year % 100:02d}"


def balance_chart(view: LoanView, start: date) -> Markup:
    """Principal still owed over time by the calendar, installments paid marked as dots."""
    rows = [i for i in view.installments if i.number > 0]
    if not rows:
        return Markup("")
    owed = sum((i.principal for i in rows), ZERO)
    points: list[tuple[date, Decimal, InstallmentView | None]] = [(start, owed, None)]
    for row in rows:
        owed -= row.principal
        points.append((row.due_date, owed, row))
    top = points[0][1] or Decimal(1)
    first, last = points[0][0], points[-1][0]
    span = max((last - first).days, 1)
    width, height, pad = 320, 140, 14

    def xy(day: date, value: Decimal) -> tuple[float, float]:
        x = pad + (width - 2 * pad) * (day - first).days / span
        y = pad + (height - 2 * pad) * float(1 - value / top)
        return round(x, 1), round(y, 1)

    line = " ".join(f"{x},{y}" for x, y in (xy(d, v) for d, v, _ in points))
    dots = []
    for day, value, row in points[1:]:
        x, y = xy(day, value)
        paid = row is not None and row.status is InstallmentStatus.PAID
        fill = PAID_FILL if paid else "#ffffff"
        dots.append(
            f'<circle cx="{x}" cy="{y}" r="4" fill="{fill}" stroke="{PAID_FILL}" stroke-width="2"/>'
        )
    paid_count = sum(1 for i in rows if i.status is InstallmentStatus.PAID)
    caption = (
        f"Capital por pagar según tu calendario: {format_mxn(points[0][1])} el "
        f"{fecha(first)}, {format_mxn(ZERO)} el {fecha(last)}. Puntos llenos: pagos hechos "
        f"({paid_count} de {len(rows)})."
    )
    axis = (
        f'<text x="{pad}" y="{height - 1}" font-size="10" fill="#1d2330">{_month(first)}</text>'
        f'<text x="{width - pad}" y="{height - 1}" font-size="10" text-anchor="end" '
        f'fill="#1d2330">{_month(last)}</text>'
    )
    svg = (
        f'viewBox="0 0 {width} {height}" class="balance-chart">'
        f'<line x1="{pad}" y1="{height - pad}" x2="{width - pad}" y2="{height - pad}" '
        f'stroke="{TRACK_EDGE}" stroke-width="1"/>'
        f'<polyline points="{line}" fill="none" stroke="{PAID_FILL}" stroke-width="2"/>'
        f"{''.join(dots)}{axis}</svg>"
    )
    return _figure(svg, caption, "balance-chart")


CALENDAR_STATE = {
    InstallmentStatus.PAID: ("Pagado", "#e3f4e8", PAID_FILL),
    InstallmentStatus.PENDING: ("Por pagar", "#ffffff", TRACK_EDGE),
    InstallmentStatus.PARTIAL: ("Pago parcial", "#fff6d6", "#7a5f00"),
    InstallmentStatus.OVERDUE: ("Vencido", "#fdecea", LATE_FILL),
    InstallmentStatus.WRITTEN_OFF: ("Cancelado", "#eef1f5", TRACK_EDGE),
}


def tuition_calendar(view: LoanView) -> Markup:
    """The school year as a calendar: one cell per month, paid, to pay or late, in words."""
    rows = list(view.installments)
    if not rows:
        return Markup("")
    columns = 4
    cell_w, cell_h, gap = 88, 46, 4
    cells, words = [], []
    for index, row in enumerate(rows):
        label, fill, edge = CALENDAR_STATE[row.status]
        name = "Inscripción" if row.number == 0 else MESES[row.due_date.month - 1].capitalize()
        x = (index % columns) * (cell_w + gap)
        y = (index // columns) * (cell_h + gap)
        cells.append(
            f'<g><rect x="{x}" y="{y}" width="{cell_w}" height="{cell_h}" rx="6" '
            f'fill="{fill}" stroke="{edge}" stroke-width="2"/>'
            f'<text x="{x + cell_w / 2}" y="{y + 19}" text-anchor="middle" font-size="12" '
            f'font-weight="700" fill="#1d2330">{escape(name[:11])}</text>'
            f'<text x="{x + cell_w / 2}" y="{y + 36}" text-anchor="middle" font-size="11" '
            f'fill="#1d2330">{label}</text></g>'
        )
        words.append(f"{name}: {label.lower()}")
    lines = (len(rows) + columns - 1) // columns
    width = columns * (cell_w + gap) - gap
    height = lines * (cell_h + gap) - gap
    svg = f'viewBox="0 0 {width} {height}" class="tuition-calendar">{"".join(cells)}</svg>'
    return _figure(svg, "Tu ciclo escolar. " + "; ".join(words) + ".", "tuition-calendar")
