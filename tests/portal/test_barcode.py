"""Code 128 for store vouchers: the table, the code sets and the checksum."""

from __future__ import annotations

import pytest

from puente.portal.barcode import PATTERNS, code128_svg, code128_values


def test_every_symbol_is_eleven_modules_and_the_stop_thirteen():
    assert len(PATTERNS) == 107 and len(set(PATTERNS)) == 107
    assert all(sum(map(int, p)) == 11 for p in PATTERNS[:106])
    assert sum(map(int, PATTERNS[106])) == 13


def test_even_digit_references_use_code_set_c_with_the_modulo_103_checksum():
    # Start C (105), 12, 34; checksum (105 + 12·1 + 34·2) mod 103 = 82; stop.
    assert code128_values("1234") == [105, 12, 34, 82, 106]


def test_an_odd_digit_out_switches_to_code_set_b():
    values = code128_values("123")
    assert values[:4] == [105, 12, 100, ord("3") - 32]


def test_other_text_uses_code_set_b_and_non_ascii_is_refused():
    assert code128_values("A1")[:3] == [104, 33, 17]
    with pytest.raises(ValueError):
        code128_values("Año")
    with pytest.raises(ValueError):
        code128_values("")


def test_the_svg_escapes_the_text_it_labels():
    svg = code128_svg('12"<')
    assert "12&quot;&lt;" in svg and "<svg" in svg and "<script" not in svg
