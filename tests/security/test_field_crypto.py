from __future__ import annotations

import base64
import os

import pytest
from hypothesis import given
from hypothesis import strategies as st

from puente.config import parse_encryption_keys
from puente.security.crypto import DecryptionError, FieldCipher, blind_index, derive_index_key

OLD = ("k0", bytes(range(32)))
NEW = ("k1", bytes(range(32, 64)))
CONTEXT = "borrower_profile.curp"
CURP = "BOXW310820HNERXN09"


def _flip(text: str, index: int) -> str:
    raw = bytearray(base64.urlsafe_b64decode(text + "=" * (-len(text) % 4)))
    raw[index] ^= 0x01
    return base64.urlsafe_b64encode(bytes(raw)).rstrip(b"=").decode()


def _decrypt_error(cipher: FieldCipher, token: str, context: str = CONTEXT) -> str:
    with pytest.raises(DecryptionError) as info:
        cipher.decrypt(token, context=context)
    message = str(info.value)
    assert token.split(".")[-1] not in message and CURP not in message
    return message


def test_token_is_self_describing() -> None:
    token = FieldCipher([NEW, OLD]).encrypt(CURP, context=CONTEXT)
    version, key_id, nonce, sealed = token.split(".")
    assert (version, key_id) == ("v1", "k1")
    assert len(base64.urlsafe_b64decode(nonce + "==")) == 12
    assert CURP not in token


def test_same_value_encrypts_differently_each_time() -> None:
    cipher = FieldCipher([NEW])
    assert cipher.encrypt(CURP, context=CONTEXT) != cipher.encrypt(CURP, context=CONTEXT)


def test_works_with_keys_parsed_from_settings() -> None:
    text = "k1:" + base64.urlsafe_b64encode(os.urandom(32)).decode().rstrip("=")
    cipher = FieldCipher(parse_encryption_keys(text))
    assert cipher.decrypt(cipher.encrypt("x", context="c"), context="c") == "x"


@given(plaintext=st.text(), context=st.text(min_size=1).filter(lambda c: "\x00" not in c))
def test_encrypt_then_decrypt_round_trips(plaintext: str, context: str) -> None:
    cipher = FieldCipher([NEW, OLD])
    assert cipher.decrypt(cipher.encrypt(plaintext, context=context), context=context) == plaintext


def test_tampered_ciphertext_is_refused() -> None:
    cipher = FieldCipher([NEW])
    v, k, nonce, sealed = cipher.encrypt(CURP, context=CONTEXT).split(".")
    assert "failed authentication" in _decrypt_error(
        cipher, ".".join((v, k, nonce, _flip(sealed, 0)))
    )
    # The tag sits at the end; flipping it must fail too.
    assert "failed authentication" in _decrypt_error(
        cipher, ".".join((v, k, nonce, _flip(sealed, -1)))
    )


def test_tampered_nonce_is_refused() -> None:
    cipher = FieldCipher([NEW])
    v, k, nonce, sealed = cipher.encrypt(CURP, context=CONTEXT).split(".")
    _decrypt_error(cipher, ".".join((v, k, _flip(nonce, 5), sealed)))


def test_swapped_key_id_is_refused_even_if_it_maps_to_the_same_key() -> None:
    same_bytes = ("k9", NEW[1])
    cipher = FieldCipher([NEW, same_bytes])
    v, _, nonce, sealed = cipher.encrypt(CURP, context=CONTEXT).split(".")
    assert "failed authentication" in _decrypt_error(cipher, ".".join((v, "k9", nonce, sealed)))


def test_unknown_key_id_is_refused() -> None:
    token = FieldCipher([OLD]).encrypt(CURP, context=CONTEXT)
    assert "not configured" in _decrypt_error(FieldCipher([NEW]), token)


def test_wrong_context_is_refused() -> None:
    cipher = FieldCipher([NEW])
    token = cipher.encrypt(CURP, context=CONTEXT)
    _decrypt_error(cipher, token, context="borrower_profile.rfc")


@pytest.mark.parametrize(
    "token",
    [
        "",
        "v1",
        "v2.k1.AAAA.AAAA",
        "v1.k1.AAAA",
        "v1.k1.!!!!.AAAA",
        "v1.k1.AAAAAAAAAAAAAAAA.AA",
        "v1.k1.AAAAAAAAAAAAAAAA.AAAA AAAA AAAA AAAA AAAA A",
    ],
)
def test_malformed_token_is_refused(token: str) -> None:
    with pytest.raises(DecryptionError):
        FieldCipher([NEW]).decrypt(token, context=CONTEXT)


def test_rotation_decrypts_old_values_and_reencrypts_them_under_the_new_key() -> None:
    old_token = FieldCipher([OLD]).encrypt(CURP, context=CONTEXT)
    rotated = FieldCipher([NEW, OLD])
    assert rotated.decrypt(old_token, context=CONTEXT) == CURP
    assert rotated.needs_reencrypt(old_token) is True

    fresh = rotated.reencrypt(old_token, context=CONTEXT)
    assert fresh.split(".")[1] == "k1"
    assert rotated.needs_reencrypt(fresh) is False
    # Once every value is moved, the old key can be dropped.
    assert FieldCipher([NEW]).decrypt(fresh, context=CONTEXT) == CURP


def test_reencrypt_refuses_the_wrong_context() -> None:
    old_token = FieldCipher([OLD]).encrypt(CURP, context=CONTEXT)
    with pytest.raises(DecryptionError):
        FieldCipher([NEW, OLD]).reencrypt(old_token, context="other.field")


@pytest.mark.parametrize(
    "keys",
    [[], [("k1", b"short")], [("k.1", bytes(32))], [("k1", bytes(32)), ("k1", bytes(range(32)))]],
)
def test_bad_key_configuration_is_refused(keys: list[tuple[str, bytes]]) -> None:
    with pytest.raises(ValueError):
        FieldCipher(keys)


def test_repr_shows_key_ids_but_not_key_material() -> None:
    text = repr(FieldCipher([NEW, OLD]))
    assert "k1" in text and repr(NEW[1]) not in text


def test_empty_context_is_refused() -> None:
    with pytest.raises(ValueError, match="context"):
        FieldCipher([NEW]).encrypt(CURP, context="")


def test_blind_index_is_deterministic_and_does_not_depend_on_encryption_keys() -> None:
    key = derive_index_key("p" * 40)
    first = blind_index(CURP, context=CONTEXT, index_key=key)
    assert first == blind_index(CURP, context=CONTEXT, index_key=derive_index_key("p" * 40))
    assert len(first) == 64 and CURP not in first


def test_blind_index_separates_values_contexts_and_keys() -> None:
    key = derive_index_key("p" * 40)
    base = blind_index(CURP, context=CONTEXT, index_key=key)
    assert base != blind_index("GODE561231HDFRRN00", context=CONTEXT, index_key=key)
    assert base != blind_index(CURP, context="borrower_profile.rfc", index_key=key)
    assert base != blind_index(CURP, context=CONTEXT, index_key=derive_index_key("q" * 40))


def test_index_key_is_not_the_secret_itself() -> None:
    secret = "p" * 40
    key = derive_index_key(secret)
    assert len(key) == 32 and key != secret.encode()[:32]


def test_short_secret_or_index_key_is_refused() -> None:
    with pytest.raises(ValueError):
        derive_index_key("short")
    with pytest.raises(ValueError):
        blind_index(CURP, context=CONTEXT, index_key=b"short")
