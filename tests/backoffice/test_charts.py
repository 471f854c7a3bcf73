"""The SVG charts: well-formed, proportional, labelled, escaped, and honest when empty."""

from __future__ import annotations

import xml.etree.ElementTree as ET
from decimal import Decimal as D

from puente.backoffice.charts import bar_chart, line_chart, nice_ceiling

SVG = "{http://www.w3.org/2000/svg}"


def parse(markup: str) -> ET.Element:
    return ET.fromstring(markup)


def bars(root: ET.Element) -> list[ET.Element]:
    return [r for r in root.iter(f"{SVG}rect") if r.get("data-series")]


def test_nice_ceiling_rounds_up_to_one_two_or_five():
    assert [nice_ceiling(D(v)) for v in ("0", "0.4", "7", "12", "180", "4999")] == [
        D(1),
        D(1),
        D(10),
        D(20),
        D(200),
        D(5000),
    ]


def test_stacked_bars_are_proportional_to_their_values():
    root = parse(
        bar_chart("Cobranza", ["01/12", "02/12"], {"card": [D(100), D(50)], "spei": [D(0), D(150)]})
    )
    heights = {
        (b.get("data-series"), b.get("data-value")): float(b.get("height")) for b in bars(root)
    }
    assert set(heights) == {("card", "100"), ("card", "50"), ("spei", "150")}  # no empty bar
    assert heights[("card", "100")] == 2 * heights[("card", "50")]
    assert heights[("spei", "150")] == 3 * heights[("card", "50")]
    # The second day's bars stack: spei starts where card ends.
    card2 = next(b for b in bars(root) if b.get("data-value") == "50")
    spei2 = next(b for b in bars(root) if b.get("data-series") == "spei")
    assert float(spei2.get("y")) + float(spei2.get("height")) == float(card2.get("y"))


def test_a_chart_is_an_accessible_image_with_title_desc_and_legend():
    root = parse(bar_chart("Cobranza por día", ["01/12"], {"card": [D(5)]}, fmt=lambda v: f"${v}"))
    assert root.get("role") == "img"
    title_id, desc_id = root.get("aria-labelledby").split()
    assert root.find(f"{SVG}title").get("id") == title_id
    assert root.find(f"{SVG}desc").text == "card: $5 en total"
    assert bars(root)[0].find(f"{SVG}title").text == "01/12 · card: $5"
    assert "card" in [t.text for t in root.iter(f"{SVG}text")]
    assert not list(root.iter(f"{SVG}script"))


def test_labels_are_escaped():
    markup = bar_chart("<b>", ["<x>"], {"a&b": [D(1)]})
    root = parse(markup)  # still well-formed
    assert "<b>" not in markup and root.find(f"{SVG}title").text == "<b>"


def test_an_empty_chart_says_so():
    for chart in (bar_chart("T", ["a"], {"x": [D(0)]}), line_chart("T", [], {})):
        root = parse(chart)
        assert "Sin datos" in [t.text for t in root.iter(f"{SVG}text")]


def test_a_line_chart_draws_a_point_per_label_for_each_series():
    root = parse(
        line_chart(
            "Flujos",
            ["a", "b", "c"],
            {"cobrado": [D(1), D(2), D(4)], "dispersado": [D(0), D(4), D(0)]},
        )
    )
    lines = list(root.iter(f"{SVG}polyline"))
    assert [line.get("data-series") for line in lines] == ["cobrado", "dispersado"]
    points = [tuple(map(float, p.split(","))) for p in lines[0].get("points").split()]
    ys = [y for _, y in points]
    assert ys[0] > ys[1] > ys[2]  # rising values are drawn higher (smaller y)
    assert len(list(root.iter(f"{SVG}circle"))) == 6


def test_axis_ticks_are_short_and_counts_tick_in_whole_numbers():
    from puente.backoffice.charts import axis_label

    assert [axis_label(D(v)) for v in ("0", "2.5", "750", "70000", "1500000", "2000000")] == [
        "0",
        "2.50",
        "750",
        "70 mil",
        "1.5 M",
        "2 M",
    ]
    root = parse(line_chart("Atraso", ["a", "b"], {"x": [D(1), D(6)]}, counts=True))
    ticks = [t.text for t in root.iter(f"{SVG}text") if t.get("text-anchor") == "end"]
    assert ticks == ["0", "2", "4", "6", "8"]


def test_a_long_legend_wraps_instead_of_running_off_the_image():
    names = [f"Atraso de {n} a {n + 29} días" for n in (1, 30, 60, 90)]
    root = parse(line_chart("Atraso", ["a"], {name: [D(1)] for name in names}))
    swatches = [r for r in root.iter(f"{SVG}rect") if r.get("width") == "10"]
    assert len(swatches) == 4
    ends = [float(r.get("x")) + 24 + 7 * len(n) for r, n in zip(swatches, names, strict=True)]
    assert max(ends) <= 640
    assert len({r.get("y") for r in swatches}) == 2  # two rows
