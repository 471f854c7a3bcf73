from __future__ import annotations

from datetime import UTC, datetime, timedelta

import pyotp
import pytest

from puente.security.mfa import (
    generate_recovery_codes,
    hash_recovery_code,
    new_totp_secret,
    provisioning_uri,
    verify_recovery_code,
    verify_totp,
    verify_totp_once,
)
from puente.security.passwords import FAST_TEST_POLICY

SECRET = "JBSWY3DPEHPK3PXPJBSWY3DPEHPK3PXP"
NOW = datetime(2025, 3, 1, 12, 0, 10, tzinfo=UTC)
STEP = pyotp.TOTP(SECRET).timecode(NOW)


def _code_at(moment: datetime) -> str:
    return pyotp.TOTP(SECRET).at(moment)


def test_new_secret_is_base32_with_160_bits() -> None:
    secret = new_totp_secret()
    assert len(secret) == 32 and secret != new_totp_secret()
    pyotp.TOTP(secret).now()


def test_provisioning_uri_names_issuer_and_account() -> None:
    uri = provisioning_uri(SECRET, "ana@example.mx")
    assert uri.startswith("otpauth://totp/Puente:ana%40example.mx?")
    assert "issuer=Puente" in uri and f"secret={SECRET}" in uri


def test_current_code_verifies() -> None:
    assert verify_totp(SECRET, _code_at(NOW), now=NOW) is True


def test_code_from_the_previous_step_is_within_the_window() -> None:
    assert verify_totp(SECRET, _code_at(NOW - timedelta(seconds=30)), now=NOW) is True
    assert (
        verify_totp(SECRET, _code_at(NOW - timedelta(seconds=30)), now=NOW, valid_window=0) is False
    )


def test_code_from_two_minutes_ago_is_refused() -> None:
    assert verify_totp(SECRET, _code_at(NOW - timedelta(minutes=2)), now=NOW) is False


def test_spaced_code_as_shown_by_apps_is_accepted() -> None:
    code = _code_at(NOW)
    assert verify_totp(SECRET, f" {code[:3]} {code[3:]} ", now=NOW) is True


@pytest.mark.parametrize("bad", ["", "12345", "1234567", "12a456", "١٢٣٤٥٦", "123-456", None])
def test_non_six_digit_input_is_refused(bad: str) -> None:
    assert verify_totp(SECRET, bad, now=NOW) is False


def test_accepted_step_is_returned_for_storage() -> None:
    assert verify_totp_once(SECRET, _code_at(NOW), None, NOW) == STEP


def test_replayed_code_is_refused() -> None:
    code = _code_at(NOW)
    step = verify_totp_once(SECRET, code, None, NOW)
    assert step is not None
    assert verify_totp_once(SECRET, code, step, NOW + timedelta(seconds=5)) is None


def test_older_code_is_refused_after_a_newer_one_was_used() -> None:
    newer = verify_totp_once(SECRET, _code_at(NOW), None, NOW)
    older = _code_at(NOW - timedelta(seconds=30))
    assert verify_totp_once(SECRET, older, newer, NOW) is None


def test_next_code_is_accepted_after_the_last_one() -> None:
    later = NOW + timedelta(seconds=30)
    assert verify_totp_once(SECRET, _code_at(later), STEP, later) == STEP + 1


def test_recovery_codes_are_unique_and_human_typable() -> None:
    codes = generate_recovery_codes(10)
    assert len(set(codes)) == 10
    for code in codes:
        assert len(code) == 9 and code[4] == "-"
        assert not set(code) & set("01ilo")


def test_recovery_code_verifies_once_by_index() -> None:
    codes = generate_recovery_codes(3)
    stored = [hash_recovery_code(code, FAST_TEST_POLICY) for code in codes]
    assert all(code not in hashed for code, hashed in zip(codes, stored, strict=True))
    assert verify_recovery_code(codes[1], stored, FAST_TEST_POLICY) == 1
    # The caller deletes the used hash; the same code then no longer matches.
    del stored[1]
    assert verify_recovery_code(codes[1], stored, FAST_TEST_POLICY) is None


def test_recovery_code_is_forgiving_about_case_and_separators() -> None:
    code = generate_recovery_codes(1)[0]
    stored = [hash_recovery_code(code, FAST_TEST_POLICY)]
    assert (
        verify_recovery_code(f" {code.upper().replace('-', ' ')} ", stored, FAST_TEST_POLICY) == 0
    )


@pytest.mark.parametrize("bad", ["", "abcd", "abcd-efgh-jk", "0000-0000"])
def test_malformed_recovery_code_is_refused_without_hashing(bad: str) -> None:
    assert verify_recovery_code(bad, ["not-even-a-hash"], FAST_TEST_POLICY) is None
