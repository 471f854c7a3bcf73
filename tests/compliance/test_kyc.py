from __future__ import annotations

from collections.abc import Callable
from typing import Any

import pytest
from hypothesis import given
from hypothesis import strategies as st
from stdnum.mx import curp as stdnum_curp
from stdnum.mx import rfc as stdnum_rfc

from puente.identifiers import (
    RFC_CHECK_DIGIT_WARNING,
    KycError,
    curp_check_digit,
    luhn_ok,
    mask_card,
    mask_clabe,
    rfc_check_digit,
    validate_card_number,
    validate_clabe,
    validate_curp,
    validate_phone_mx,
    validate_postal_code,
    validate_rfc,
)


def _error(func: Callable[[Any], object], value: object) -> KycError:
    with pytest.raises(KycError) as info:
        func(value)
    return info.value


# --- CURP ----------------------------------------------------------------------------------

CURP_SAMPLES = [
    "BOXW310820HNERXN09",
    "GODE561231HDFRRN00",
    "PEMJ900515MJCRRN09",
    "LOMA050101HNLPRNA6",
]


def test_curp_check_digit_matches_the_reference_trace() -> None:
    # mexico.md §4.1: BOXW310820HNERXN0 sums to 2551, check digit 9.
    values = "0123456789ABCDEFGHIJKLMNÑOPQRSTUVWXYZ"
    assert sum(values.index(c) * (18 - i) for i, c in enumerate("BOXW310820HNERXN0")) == 2551
    assert curp_check_digit("BOXW310820HNERXN0") == "9"


@pytest.mark.parametrize("curp", CURP_SAMPLES)
def test_reference_curps_are_valid(curp: str) -> None:
    assert validate_curp(curp) == curp
    assert stdnum_curp.is_valid(curp)


def test_curp_is_normalised_to_upper_case_without_spaces() -> None:
    assert validate_curp("  boxw-310820 hnerxn09 ") == "BOXW310820HNERXN09"


def test_curp_born_2000_or_later_uses_a_letter_in_position_17() -> None:
    assert validate_curp("LOMA050101HNLPRNA6") == "LOMA050101HNLPRNA6"


@pytest.mark.parametrize(
    ("curp", "fragment"),
    [
        ("BOXW310820HNERXN08", "dígito verificador"),
        ("BOXW310820HNERXN0", "18 caracteres"),
        ("BOXW310820HNERXN099", "18 caracteres"),
        ("B0XW310820HNERXN09", "formato"),
        ("BOXW311320HNERXN09", "fecha"),
        ("BOXW310230HNERXN09", "fecha"),
        ("BOXW310820ZNERXN09", "sexo"),
        ("BOXW310820HZZRXN09", "entidad"),
        ("BOÑW310820HNERXN09", "formato"),
    ],
)
def test_invalid_curp_is_refused_with_a_spanish_message(curp: str, fragment: str) -> None:
    error = _error(validate_curp, curp)
    assert error.field == "curp" and fragment in error.message_es
    assert curp not in str(error)


def test_non_string_curp_is_refused() -> None:
    assert _error(validate_curp, None).field == "curp"


@given(st.from_regex(r"[A-Z]{4}[0-9]{6}[A-Z]{6}[0-9A-Z]", fullmatch=True))
def test_curp_check_digit_agrees_with_stdnum(first17: str) -> None:
    assert curp_check_digit(first17) == stdnum_curp.calc_check_digit(first17)


# --- RFC -----------------------------------------------------------------------------------


def test_rfc_check_digits_match_the_reference_traces() -> None:
    # mexico.md §4.2: GODE561231GR → sum 1026, mod 11 = 3 → 8; MAB9307148T → 1217, 7 → 4.
    assert rfc_check_digit("GODE561231GR") == "8"
    assert rfc_check_digit("MAB9307148T") == "4"
    assert rfc_check_digit("GOME800101AB") == "A"


@pytest.mark.parametrize(
    ("rfc", "kind"),
    [
        ("GODE561231GR8", "fisica"),
        ("GOME800101ABA", "fisica"),
        ("MAB9307148T4", "moral"),
        ("ABC1201011A2", "moral"),
    ],
)
def test_reference_rfcs_are_valid_without_warnings(rfc: str, kind: str) -> None:
    result = validate_rfc(rfc)
    assert (result.rfc, result.kind, result.generic, result.warnings) == (rfc, kind, False, ())
    assert stdnum_rfc.is_valid(rfc, validate_check_digits=True)


@pytest.mark.parametrize("rfc", ["XAXX010101000", "XEXX010101000"])
def test_generic_rfcs_are_whitelisted(rfc: str) -> None:
    result = validate_rfc(rfc.lower())
    assert (result.rfc, result.generic, result.warnings) == (rfc, True, ())


def test_xaxx_really_fails_its_own_check_digit() -> None:
    assert rfc_check_digit("XAXX01010100") != "0"


def test_rfc_check_digit_failure_is_a_warning_not_an_error() -> None:
    result = validate_rfc("GODE561231GR9")
    assert result.rfc == "GODE561231GR9"
    assert result.warnings == (RFC_CHECK_DIGIT_WARNING,)


def test_rfc_is_normalised() -> None:
    assert validate_rfc(" gode-561231-gr8 ").rfc == "GODE561231GR8"


def test_rfc_with_ampersand_and_enye_is_accepted() -> None:
    moral = "A&C120101" + "1A"
    assert validate_rfc(moral + rfc_check_digit(moral)).warnings == ()
    fisica = "PEÑA800101" + "AB"
    assert validate_rfc(fisica.lower() + rfc_check_digit(fisica)).rfc == fisica + rfc_check_digit(
        fisica
    )


@pytest.mark.parametrize(
    ("rfc", "fragment"),
    [
        ("GODE561231", "13 caracteres"),
        ("GODE561231GR88", "13 caracteres"),
        ("GOD3561231GR8", "formato"),
        ("GODE561231GRB", "formato"),
        ("GODE561331GR8", "fecha"),
        ("MAB930230AT4", "fecha"),
    ],
)
def test_invalid_rfc_is_refused(rfc: str, fragment: str) -> None:
    error = _error(validate_rfc, rfc)
    assert error.field == "rfc" and fragment in error.message_es


# --- CLABE ---------------------------------------------------------------------------------


def test_clabe_check_digit_matches_the_reference_trace() -> None:
    # mexico.md §4.3: weights 3,7,1 over 00201007777777777, each product mod 10, sum 69 → 1.
    weights = [3, 7, 1] * 6
    products = [int(d) * w % 10 for d, w in zip("00201007777777777", weights, strict=False)]
    assert products == [0, 0, 2, 0, 7, 0, 0, 9, 7, 1, 9, 7, 1, 9, 7, 1, 9]
    assert sum(products) == 69
    assert validate_clabe("002010077777777771").clabe[-1] == "1"


@pytest.mark.parametrize(
    ("number", "bank_code", "spei_code", "bank_name"),
    [
        ("002010077777777771", "002", "40002", "Banamex"),
        ("002000000000000008", "002", "40002", "Banamex"),
        ("646180157000000004", "646", "90646", "STP"),
        ("012180001234567899", "012", "40012", "BBVA Mexico"),
        ("072580010000000001", "072", "40072", "Banorte"),
        ("723010123456789019", "723", "90723", "Cuenca"),
        ("646180111805034237", "646", "90646", "STP"),
    ],
)
def test_reference_clabes_are_valid_with_their_bank(
    number: str, bank_code: str, spei_code: str, bank_name: str
) -> None:
    info = validate_clabe(number)
    assert (info.clabe, info.bank_code, info.spei_code, info.bank_name) == (
        number,
        bank_code,
        spei_code,
        bank_name,
    )
    assert info.masked == "•••• " + number[-4:]


def test_clabe_repr_never_shows_the_full_number() -> None:
    info = validate_clabe("646180157000000004")
    assert "646180157000000004" not in repr(info)
    assert "•••• 0004" in repr(info)


def test_clabe_is_normalised() -> None:
    assert validate_clabe(" 6461 8015 7000-000004 ").clabe == "646180157000000004"


@pytest.mark.parametrize(
    ("number", "fragment"),
    [
        ("002010077777777772", "dígito de control"),
        ("00201007777777777", "18 dígitos"),
        ("0020100777777777711", "18 dígitos"),
        ("00201007777777777A", "solo puede contener dígitos"),
        ("999010077777777779", "banco"),
    ],
)
def test_invalid_clabe_is_refused_without_echoing_it(number: str, fragment: str) -> None:
    error = _error(validate_clabe, number)
    assert error.field == "clabe" and fragment in error.message_es
    assert number not in str(error) and number[:17] not in str(error)


# --- Cards and masks -----------------------------------------------------------------------


@pytest.mark.parametrize(
    "pan", ["4111111111111111", "4242424242424242", "5555555555554444", "378282246310005"]
)
def test_public_test_cards_pass_luhn(pan: str) -> None:
    assert luhn_ok(pan) is True
    assert validate_card_number(" ".join(pan[i : i + 4] for i in range(0, len(pan), 4))) == pan


@pytest.mark.parametrize("pan", ["4111111111111112", "", "41111111111111a1", "0"])
def test_luhn_refuses_bad_numbers(pan: str) -> None:
    assert luhn_ok(pan) is (pan == "0")  # a lone zero is Luhn-valid but not a card


@pytest.mark.parametrize(
    ("pan", "fragment"),
    [
        ("4111111111111112", "no es válido"),
        ("41111111111", "entre 12 y 19"),
        ("4" * 20, "entre 12 y 19"),
    ],
)
def test_invalid_card_is_refused_without_echoing_it(pan: str, fragment: str) -> None:
    error = _error(validate_card_number, pan)
    assert fragment in error.message_es and pan not in str(error)


def test_masks_show_only_the_last_four_digits() -> None:
    assert mask_card("4111 1111 1111 1111") == "•••• 1111"
    assert mask_clabe("002010077777777771") == "•••• 7771"
    assert mask_card("12") == "••••"


# --- Phone and postal code -----------------------------------------------------------------


@pytest.mark.parametrize(
    "phone", ["5512345678", "+52 55 1234 5678", "+525512345678", "525512345678", "(55) 1234-5678"]
)
def test_mexican_phone_is_normalised_to_ten_digits(phone: str) -> None:
    assert validate_phone_mx(phone) == "5512345678"


@pytest.mark.parametrize(
    "phone", ["551234567", "55123456789", "+1 555 123 4567", "55-1234-567a", ""]
)
def test_invalid_phone_is_refused(phone: str) -> None:
    assert _error(validate_phone_mx, phone).field == "phone"


@pytest.mark.parametrize(("code", "expected"), [("06600", "06600"), (" 64000 ", "64000")])
def test_postal_code_is_five_digits(code: str, expected: str) -> None:
    assert validate_postal_code(code) == expected


@pytest.mark.parametrize("code", ["6600", "066000", "0660A", "٠٦٦٠٠"])
def test_invalid_postal_code_is_refused(code: str) -> None:
    assert "5 dígitos" in _error(validate_postal_code, code).message_es
