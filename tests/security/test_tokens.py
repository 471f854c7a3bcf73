from __future__ import annotations

import base64
import json
from datetime import UTC, datetime, timedelta

import jwt
import pytest

from puente.security.tokens import (
    TOKEN_EXPIRED,
    TOKEN_INVALID,
    TOKEN_WRONG_TYPE,
    TokenError,
    TokenType,
    decode_token,
    issue_access_token,
    issue_refresh_token,
    new_family_id,
)

SECRET = "s" * 48
NOW = datetime(2025, 3, 1, 12, 0, tzinfo=UTC)


def _b64(data: dict[str, object]) -> str:
    return base64.urlsafe_b64encode(json.dumps(data).encode()).rstrip(b"=").decode()


def _claims(**overrides: object) -> dict[str, object]:
    issued = int(NOW.timestamp())
    claims: dict[str, object] = {
        "sub": "7",
        "inst": "3",
        "role": "admin",
        "typ": "access",
        "iat": issued,
        "exp": issued + 900,
        "jti": "abc",
        "iss": "puente",
        "aud": "puente-api",
    }
    claims.update(overrides)
    return {k: v for k, v in claims.items() if v is not None}


def _code(token: str, expected: TokenType = "access", now: datetime = NOW) -> str:
    with pytest.raises(TokenError) as info:
        decode_token(SECRET, token, expected, now=now)
    if token:
        assert token not in str(info.value)
    return info.value.code


def test_access_token_round_trips_its_claims() -> None:
    token = issue_access_token(SECRET, 7, 3, "admin", 900, NOW, family_id="fam", session_version=0)
    claims = decode_token(SECRET, token, "access", now=NOW + timedelta(seconds=10))
    assert (claims.user_id, claims.institution_id, claims.role) == ("7", "3", "admin")
    assert claims.expires_at == NOW + timedelta(seconds=900)
    assert claims.issued_at == NOW
    assert claims.family_id == "fam" and claims.scope == "full" and claims.jti


def test_access_token_carries_the_documented_claims() -> None:
    token = issue_access_token(
        SECRET,
        "u1",
        "i1",
        "operator",
        timedelta(minutes=15),
        NOW,
        family_id="fam",
        session_version=0,
    )
    payload = jwt.decode(token, options={"verify_signature": False})
    assert jwt.get_unverified_header(token)["alg"] == "HS256"
    assert set(payload) == {
        *("sub", "inst", "role", "typ", "iat", "exp", "jti", "iss", "aud"),
        *("fam", "sv", "scp"),
    }
    assert (payload["typ"], payload["iss"], payload["aud"]) == ("access", "puente", "puente-api")


def test_refresh_token_returns_its_jti_and_family() -> None:
    family = new_family_id()
    token, jti = issue_refresh_token(SECRET, 7, family, 3600, NOW)
    claims = decode_token(SECRET, token, "refresh", now=NOW)
    assert (claims.jti, claims.family_id, claims.user_id) == (jti, family, "7")
    assert claims.institution_id is None


def test_each_token_gets_a_fresh_jti() -> None:
    first = issue_refresh_token(SECRET, 7, "fam", 3600, NOW)[1]
    assert first != issue_refresh_token(SECRET, 7, "fam", 3600, NOW)[1]


def test_expired_token_is_rejected_as_expired() -> None:
    token = issue_access_token(SECRET, 7, 3, "admin", 900, NOW, family_id="fam", session_version=0)
    assert _code(token, now=NOW + timedelta(seconds=900)) == TOKEN_EXPIRED
    decode_token(SECRET, token, "access", now=NOW + timedelta(seconds=899))


def test_token_signed_with_another_secret_is_forged() -> None:
    token = issue_access_token(
        "x" * 48, 7, 3, "admin", 900, NOW, family_id="fam", session_version=0
    )
    assert _code(token) == TOKEN_INVALID


def test_tampered_payload_is_rejected() -> None:
    header, _, signature = issue_access_token(
        SECRET, 7, 3, "viewer", 900, NOW, family_id="fam", session_version=0
    ).split(".")
    forged = ".".join((header, _b64(_claims(role="admin")), signature))
    assert _code(forged) == TOKEN_INVALID


def test_alg_none_token_is_rejected() -> None:
    token = _b64({"alg": "none", "typ": "JWT"}) + "." + _b64(_claims()) + "."
    assert _code(token) == TOKEN_INVALID


def test_other_hmac_algorithm_is_rejected_even_with_the_right_key() -> None:
    key = "k" * 64  # long enough for HS512, so only the algorithm pin can refuse it
    token = jwt.encode(_claims(), key, algorithm="HS512")
    with pytest.raises(TokenError) as info:
        decode_token(key, token, "access", now=NOW)
    assert info.value.code == TOKEN_INVALID
    assert "alg" in info.value.message


def test_refresh_token_is_refused_where_an_access_token_is_expected() -> None:
    token, _ = issue_refresh_token(SECRET, 7, "fam", 3600, NOW)
    assert _code(token, "access") == TOKEN_WRONG_TYPE


def test_access_token_is_refused_where_a_refresh_token_is_expected() -> None:
    assert (
        _code(
            issue_access_token(SECRET, 7, 3, "admin", 900, NOW, family_id="fam", session_version=0),
            "refresh",
        )
        == TOKEN_WRONG_TYPE
    )


@pytest.mark.parametrize(
    "overrides",
    [
        {"exp": None},
        {"iat": None},
        {"jti": None},
        {"typ": None},
        {"iss": "someone-else"},
        {"aud": "other-api"},
        {"aud": ["puente-api", "other-api"]},
        {"exp": "tomorrow"},
        {"exp": True},
        {"iat": int(NOW.timestamp()) + 3600},
        {"sub": 7},
        {"inst": None},
    ],
    ids=lambda o: ",".join(f"{k}={v}" for k, v in o.items()),
)
def test_token_with_bad_or_missing_claims_is_invalid(overrides: dict[str, object]) -> None:
    assert _code(jwt.encode(_claims(**overrides), SECRET, algorithm="HS256")) == TOKEN_INVALID


@pytest.mark.parametrize("garbage", ["", "abc", "a.b.c", "x" * 500])
def test_garbage_is_invalid(garbage: str) -> None:
    assert _code(garbage) == TOKEN_INVALID


def test_short_secret_is_refused_before_signing() -> None:
    with pytest.raises(ValueError, match="32 bytes"):
        issue_access_token("short", 7, 3, "admin", 900, NOW, family_id="fam", session_version=0)
    with pytest.raises(ValueError, match="32 bytes"):
        decode_token("short", "a.b.c", "access", now=NOW)


def test_naive_now_is_refused() -> None:
    with pytest.raises(ValueError, match="timezone-aware"):
        issue_access_token(
            SECRET, 7, 3, "admin", 900, datetime(2025, 1, 1), family_id="fam", session_version=0
        )


def test_default_now_is_the_real_clock() -> None:
    token = issue_access_token(SECRET, 7, 3, "admin", 60, family_id="fam", session_version=0)
    assert decode_token(SECRET, token, "access").user_id == "7"


def test_a_token_without_a_known_scope_is_refused() -> None:
    with pytest.raises(ValueError, match="scope"):
        issue_access_token(
            SECRET, 7, 3, "admin", 900, NOW, family_id="f", session_version=0, scope="god"
        )
    payload = {
        **jwt.decode(
            issue_access_token(SECRET, 7, 3, "admin", 900, NOW, family_id="f", session_version=0),
            options={"verify_signature": False},
        ),
        "scp": "god",
    }
    forged = jwt.encode(payload, SECRET, algorithm="HS256")
    assert _code(forged, "access") == TOKEN_INVALID
