"""Server-rendered SVG charts: no script, no library, readable without colour.

Each chart is an ``<svg role="img">`` with a ``<title>`` and a ``<desc>`` (for screen
readers), a ``<title>`` on every bar or point (the figure on hover), a legend, and a
fixed palette that stays apart in greyscale. Pure: values in, markup out.
"""

from __future__ import annotations

import hashlib
from collections.abc import Callable, Mapping, Sequence
from decimal import ROUND_CEILING, Decimal
from html import escape

__all__ = ["PALETTE", "axis_label", "bar_chart", "line_chart", "nice_ceiling"]

PALETTE = ("#1b5e9e", "#d9822b", "#2e8b57", "#a23b72", "#6b6b6b", "#c0392b", "#7d5ba6")
WIDTH, HEIGHT = 640, 260
LEFT, RIGHT, TOP, BOTTOM = 64, 12, 28, 52  # plot margins (axis labels, legend)

Format = Callable[[Decimal], str]


def _plain(value: Decimal) -> str:
    return f"{value:,.0f}"


def axis_label(value: Decimal) -> str:
    """A short tick label (``70 mil``, ``1.5 M``): the exact figure is in each bar's title."""
    if value >= 1_000_000:
        return f"{value / 1_000_000:,.1f} M".replace(".0 M", " M")
    if value >= 1000:
        return f"{value / 1000:,.0f} mil"
    return f"{value.normalize():f}" if value == value.to_integral() else f"{value:.2f}"


def nice_ceiling(value: Decimal) -> Decimal:
    """The axis top: ``value`` rounded up to 1, 2 or 5 times a power of ten (1 when 0)."""
    if value <= 0:
        return Decimal(1)
    magnitude = Decimal(10) ** (len(str(int(value))) - 1)
    for step in (1, 2, 5, 10):
        if value <= step * magnitude:
            return Decimal(step) * magnitude
    return 10 * magnitude  # pragma: no cover - the loop always returns


def _frame(title: str, desc: str, body: list[str], legend: Sequence[str]) -> str:
    ident = "chart-" + hashlib.sha256(title.encode()).hexdigest()[:8]  # unique per page
    parts = [
        f'<svg xmlns="http://www.w3.org/2000/svg" viewBox="0 0 {WIDTH} {HEIGHT}" '
        f'class="chart" role="img" aria-labelledby="{ident}-t {ident}-d">',
        f'<title id="{ident}-t">{escape(title)}</title>',
        f'<desc id="{ident}-d">{escape(desc)}</desc>',
        *body,
    ]
    for index, (x, row) in enumerate(_legend_places(legend)):
        color, y = PALETTE[index % len(PALETTE)], HEIGHT - 14 * row
        parts.append(
            f'<rect x="{x}" y="{y}" width="10" height="10" fill="{color}"/>'
            f'<text x="{x + 14}" y="{y + 9}" font-size="11">{escape(legend[index])}</text>'
        )
    parts.append("</svg>")
    return "".join(parts)


def _legend_places(legend: Sequence[str]) -> list[tuple[int, int]]:
    """Where each legend entry goes: (x, row counted from the bottom, 1 or 2); entries that
    would run past the right edge wrap to the next row."""
    rows: list[list[tuple[int, str]]] = [[]]
    x = LEFT
    for name in legend:
        width = 24 + 7 * len(name)
        if x + width > WIDTH - RIGHT and rows[-1]:
            rows.append([])
            x = LEFT
        rows[-1].append((x, name))
        x += width
    count = len(rows)
    return [(x, count - r) for r, row in enumerate(rows) for x, _ in row]


def _axes(top: Decimal, labels: Sequence[str]) -> list[str]:
    plot_h = HEIGHT - TOP - BOTTOM
    body = []
    for i in range(5):
        y = TOP + plot_h - plot_h * i / 4
        body.append(
            f'<line x1="{LEFT}" x2="{WIDTH - RIGHT}" y1="{y:.1f}" y2="{y:.1f}" '
            f'stroke="#ddd"/><text x="{LEFT - 4}" y="{y + 4:.1f}" font-size="10" '
            f'text-anchor="end">{escape(axis_label(top * i / 4))}</text>'
        )
    step = (WIDTH - LEFT - RIGHT) / max(len(labels), 1)
    every = max(1, len(labels) // 7)  # at most ~7 labels under the axis
    for i, label in enumerate(labels):
        if i % every == 0:
            x = LEFT + step * (i + 0.5)
            body.append(
                f'<text x="{x:.1f}" y="{HEIGHT - BOTTOM + 14}" font-size="10" '
                f'text-anchor="middle">{escape(label)}</text>'
            )
    return body


def _empty(title: str) -> str:
    return _frame(
        title,
        "Sin datos en este periodo.",
        [f'<text x="{WIDTH / 2}" y="{HEIGHT / 2}" text-anchor="middle">Sin datos</text>'],
        [],
    )


def bar_chart(
    title: str,
    labels: Sequence[str],
    series: Mapping[str, Sequence[Decimal]],
    *,
    fmt: Format = _plain,
) -> str:
    """Stacked bars, one per label; each series a colour, bottom to top in order."""
    totals = [
        sum((values[i] for values in series.values()), Decimal(0)) for i in range(len(labels))
    ]
    if not labels or not any(totals):
        return _empty(title)
    top = nice_ceiling(max(totals))
    plot_h = HEIGHT - TOP - BOTTOM
    step = (WIDTH - LEFT - RIGHT) / len(labels)
    body = _axes(top, labels)
    for i, label in enumerate(labels):
        base = Decimal(0)
        for index, (name, values) in enumerate(series.items()):
            value = values[i]
            if value <= 0:
                continue
            y0 = TOP + plot_h - float(base / top) * plot_h
            height = float(value / top) * plot_h
            body.append(
                f'<rect x="{LEFT + step * i + step * 0.15:.1f}" y="{y0 - height:.1f}" '
                f'width="{step * 0.7:.1f}" height="{height:.1f}" '
                f'fill="{PALETTE[index % len(PALETTE)]}" data-series="{escape(name)}" '
                f'data-value="{value}"><title>{escape(f"{label} · {name}: {fmt(value)}")}'
                f"</title></rect>"
            )
            base += value
    desc = "; ".join(
        f"{name}: {fmt(sum(values, Decimal(0)))} en total" for name, values in series.items()
    )
    return _frame(title, desc, body, list(series))


def line_chart(
    title: str,
    labels: Sequence[str],
    series: Mapping[str, Sequence[Decimal]],
    *,
    fmt: Format = _plain,
    counts: bool = False,
) -> str:
    """One line per series, a marked point per label; ``counts``: whole-number ticks."""
    values = [v for vs in series.values() for v in vs]
    if not labels or not any(values):
        return _empty(title)
    top = nice_ceiling(max(values))
    if counts:
        # Ticks at quarters of the top: a multiple of 4 keeps them whole numbers.
        top = max(Decimal(4), (max(values) / 4).to_integral_value(rounding=ROUND_CEILING) * 4)
    plot_h = HEIGHT - TOP - BOTTOM
    step = (WIDTH - LEFT - RIGHT) / len(labels)
    body = _axes(top, labels)
    for index, (name, points) in enumerate(series.items()):
        color = PALETTE[index % len(PALETTE)]
        xy = [
            (LEFT + step * (i + 0.5), TOP + plot_h - float(v / top) * plot_h)
            for i, v in enumerate(points)
        ]
        path = " ".join(f"{x:.1f},{y:.1f}" for x, y in xy)
        body.append(
            f'<polyline points="{path}" fill="none" stroke="{color}" stroke-width="2" '
            f'data-series="{escape(name)}"/>'
        )
        for (x, y), label, v in zip(xy, labels, points, strict=True):
            body.append(
                f'<circle cx="{x:.1f}" cy="{y:.1f}" r="3" fill="{color}" data-value="{v}">'
                f"<title>{escape(f'{label} · {name}: {fmt(v)}')}</title></circle>"
            )
    desc = "; ".join(f"{name}: último valor {fmt(points[-1])}" for name, points in series.items())
    return _frame(title, desc, body, list(series))
