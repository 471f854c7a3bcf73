"""Config values, request values and the error model."""

from __future__ import annotations

from decimal import Decimal

import pytest

from puente.providers.base import (
    ChargeRequest,
    ErrorCode,
    ExpiredCard,
    InsufficientFunds,
    PaymentDeclined,
    PaymentStatus,
    ProviderConfig,
    ProviderError,
    ReferenceRequest,
    SpeiTransferRequest,
    error_for_status,
)
from puente.providers.errors import (
    AuthenticationError,
    NotFound,
    ProviderUnavailable,
    RateLimited,
    reading_response,
)


def test_config_repr_masks_every_credential() -> None:
    config = ProviderConfig(
        credentials={"secret_key": "sk_test_0123456789abcdef", "webhook_secret": "short"}
    )
    text = repr(config)
    assert "0123456789abcdef" not in text and "short" not in text
    assert "****cdef" in text


def test_config_keeps_a_private_copy_of_credentials() -> None:
    creds = {"secret_key": "sk_test_a"}
    config = ProviderConfig(credentials=creds)
    creds["secret_key"] = "changed"
    assert config.credentials["secret_key"] == "sk_test_a"
    with pytest.raises(TypeError):
        config.credentials["secret_key"] = "x"  # type: ignore[index]


def test_account_key_is_stable_and_not_the_secret() -> None:
    a = ProviderConfig(credentials={"secret_key": "sk_test_a"})
    assert a.account_key() == ProviderConfig(credentials={"secret_key": "sk_test_a"}).account_key()
    assert a.account_key() != ProviderConfig(credentials={"secret_key": "sk_test_b"}).account_key()
    assert "sk_test" not in a.account_key()
    assert ProviderConfig(credentials={}, account="colegio-1").account_key() == "colegio-1"


def test_charge_request_validates_money_and_source() -> None:
    request = ChargeRequest(amount="150.5", token="tok", idempotency_key="k")  # type: ignore[arg-type]
    assert request.amount == Decimal("150.50")
    with pytest.raises(ValueError):
        ChargeRequest(amount=Decimal("1"), idempotency_key="k")
    with pytest.raises(ValueError):
        ChargeRequest(amount=Decimal("1"), token="t", payment_method_id="pm", idempotency_key="k")
    with pytest.raises(ValueError):
        ChargeRequest(amount=Decimal("0"), token="t", idempotency_key="k")
    with pytest.raises(ValueError):
        ChargeRequest(amount=1.5, token="t", idempotency_key="k")  # type: ignore[arg-type]
    with pytest.raises(ValueError):
        ReferenceRequest(amount=Decimal("1.001"), idempotency_key="k")


def test_spei_transfer_request_hides_the_clabe() -> None:
    request = SpeiTransferRequest(
        amount=Decimal("10"),
        clabe="646180111805034237",
        beneficiary_name="Ana",
        concept="Préstamo",
        idempotency_key="k",
    )
    assert "646180111805034237" not in repr(request)
    with pytest.raises(ValueError):
        SpeiTransferRequest(
            amount=Decimal("10"),
            clabe="123",
            beneficiary_name="A",
            concept="c",
            idempotency_key="k",
        )


def test_errors_carry_both_codes_and_read_well() -> None:
    error = InsufficientFunds(
        "Your card has insufficient funds.",
        provider="stripe",
        provider_code="insufficient_funds",
        http_status=402,
    )
    assert isinstance(error, PaymentDeclined) and isinstance(error, ProviderError)
    assert error.code is ErrorCode.INSUFFICIENT_FUNDS
    assert str(error) == (
        "[stripe] insufficient_funds: Your card has insufficient funds. | "
        "provider code insufficient_funds | HTTP 402"
    )
    assert not error.retryable
    assert ExpiredCard().code.value == "expired_card"


@pytest.mark.parametrize(
    ("status", "cls"),
    [
        (401, AuthenticationError),
        (404, NotFound),
        (429, RateLimited),
        (503, ProviderUnavailable),
        (418, ProviderError),
    ],
)
def test_status_fallback(status: int, cls: type) -> None:
    assert isinstance(error_for_status(status, provider="p", message="m"), cls)


def test_reading_response_turns_key_errors_into_malformed() -> None:
    with pytest.raises(ProviderUnavailable, match="could not read thing"):
        with reading_response("p", "thing"):
            {}["missing"]  # noqa: B018


def test_final_statuses() -> None:
    assert PaymentStatus.SUCCEEDED.is_final and not PaymentStatus.REQUIRES_ACTION.is_final


def test_a_spei_clabe_never_reaches_a_payment_repr() -> None:
    from puente.providers.values import NextAction

    action = NextAction(clabe="646180157000000004", reference="REF123")
    assert "646180157000000004" not in repr(action)
    assert "REF123" in repr(action)


def test_json_amounts_round_once_and_refuse_floats() -> None:
    from decimal import Decimal

    import pytest

    from puente.money import InvalidAmount
    from puente.providers.answers import json_amount, json_number

    assert json_amount(Decimal("4.125")) == Decimal("4.13")  # half up, as round_centavos
    assert json_amount(150) == Decimal("150.00")
    with pytest.raises(InvalidAmount):
        json_amount(150.5)
    with pytest.raises(InvalidAmount):
        json_amount(Decimal("-1.00"))
    assert json_number(Decimal("0.10")) == 0.1 and json_number(Decimal("150.00")) == 150
