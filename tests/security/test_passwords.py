from __future__ import annotations

import pytest
from argon2 import PasswordHasher, Type

from puente.security.passwords import (
    FAST_TEST_POLICY,
    PasswordPolicy,
    check_password_rules,
    hash_password,
    verify_missing_user,
    verify_password,
)

POLICY = FAST_TEST_POLICY


def test_hash_is_argon2id_with_the_policy_parameters() -> None:
    stored = hash_password("correcto caballo bateria", POLICY)
    assert stored.startswith("$argon2id$v=19$m=8,t=1,p=1$")


def test_right_password_verifies_without_rehash() -> None:
    stored = hash_password("correcto caballo bateria", POLICY)
    check = verify_password(stored, "correcto caballo bateria", POLICY)
    assert check.ok is True
    assert check.new_hash is None


def test_wrong_password_fails_without_exception() -> None:
    stored = hash_password("correcto caballo bateria", POLICY)
    check = verify_password(stored, "incorrecto caballo", POLICY)
    assert check.ok is False
    assert check.new_hash is None


@pytest.mark.parametrize(
    "stored", ["", "not-a-hash", "$argon2id$v=19$m=8,t=1,p=1$garbage", "$2b$12$x"]
)
def test_malformed_hash_fails_without_exception(stored: str) -> None:
    assert verify_password(stored, "cualquier cosa", POLICY).ok is False


def test_hash_under_old_parameters_is_rehashed_on_login() -> None:
    old = hash_password("correcto caballo bateria", POLICY)
    stronger = PasswordPolicy(time_cost=2, memory_cost=16, parallelism=1)
    check = verify_password(old, "correcto caballo bateria", stronger)
    assert check.ok is True
    assert check.new_hash is not None
    assert "$m=16,t=2,p=1$" in check.new_hash
    assert verify_password(check.new_hash, "correcto caballo bateria", stronger).new_hash is None


def test_argon2i_hash_is_upgraded_to_argon2id() -> None:
    legacy = PasswordHasher(time_cost=1, memory_cost=8, parallelism=1, type=Type.I).hash(
        "clave larga 123"
    )
    check = verify_password(legacy, "clave larga 123", POLICY)
    assert check.ok is True
    assert check.new_hash is not None and check.new_hash.startswith("$argon2id$")


def test_wrong_password_never_offers_a_rehash() -> None:
    old = hash_password("correcto caballo bateria", POLICY)
    stronger = PasswordPolicy(time_cost=2, memory_cost=16, parallelism=1)
    check = verify_password(old, "otra cosa distinta", stronger)
    assert (check.ok, check.new_hash) == (False, None)


def test_missing_user_check_always_fails() -> None:
    assert verify_missing_user("puente-dummy-password-for-timing", POLICY).ok is False


def test_repr_hides_the_hash() -> None:
    check = verify_password(
        hash_password("correcto caballo bateria", POLICY),
        "correcto caballo bateria",
        PasswordPolicy(time_cost=2, memory_cost=16, parallelism=1),
    )
    assert "argon2" not in repr(check)


@pytest.mark.parametrize(
    ("password", "fragment"),
    [("corta", "al menos 10"), ("aaaaaaaaaaaa", "mismo carácter"), ("x" * 1025, "más de 1024")],
)
def test_weak_passwords_get_a_spanish_message(password: str, fragment: str) -> None:
    message = check_password_rules(password)
    assert message is not None and fragment in message


def test_reasonable_password_passes_the_rules() -> None:
    assert check_password_rules("puente-2024-seguro") is None


def test_policy_refuses_memory_below_argon2_minimum() -> None:
    with pytest.raises(ValueError, match="memory_cost"):
        PasswordPolicy(time_cost=1, memory_cost=4, parallelism=1)
