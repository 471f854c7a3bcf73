"""OAuth2 client credentials: one token, reused, refreshed before expiry and after a 401."""

from __future__ import annotations

import base64
from urllib.parse import parse_qs

import httpx
import pytest

from puente.providers.circuit import CircuitBreakers
from puente.providers.errors import (
    AuthenticationError,
    MalformedResponse,
    ProviderUnavailable,
    error_for_status,
)
from puente.providers.http import ProviderHTTP, RetryPolicy
from puente.providers.metrics import ProviderMetrics
from puente.providers.oauth import ClientCredentials, OAuth2ClientCredentials

pytestmark = pytest.mark.anyio
TOKEN_URL = "https://bank.test/oauth/token"
CREDS = ClientCredentials(TOKEN_URL, "client-1", "client-secret-value-99", scope="accounts")


class Bank:
    """A fake bank: issues tokens, accepts only the newest one."""

    def __init__(self, *, lifetime: int = 3600, token_status: int = 200) -> None:
        self.lifetime = lifetime
        self.token_status = token_status
        self.issued: list[str] = []
        self.token_requests: list[httpx.Request] = []
        self.revoked = False

    def __call__(self, request: httpx.Request) -> httpx.Response:
        if request.url == TOKEN_URL:
            self.token_requests.append(request)
            if self.token_status != 200:
                return httpx.Response(self.token_status, json={"error": "invalid_client"})
            token = f"tok-{len(self.issued) + 1}"
            self.issued.append(token)
            body = {"access_token": token, "token_type": "Bearer", "expires_in": self.lifetime}
            return httpx.Response(200, json=body)
        if self.revoked and request.headers["Authorization"] == f"Bearer {self.issued[0]}":
            return httpx.Response(401)
        if request.headers.get("Authorization") != f"Bearer {self.issued[-1]}":
            return httpx.Response(401)
        return httpx.Response(200, json={"balance": "10.00"})


class Clock:
    now = 0.0

    def __call__(self) -> float:
        return self.now


def client(bank: Bank, clock: Clock) -> tuple[ProviderHTTP, OAuth2ClientCredentials]:
    auth = OAuth2ClientCredentials(CREDS, provider="bank", clock=clock)

    async def sleep(seconds: float) -> None:
        return None

    http = ProviderHTTP(
        provider="bank",
        account="a",
        base_url="https://bank.test/api",
        error_parser=lambda r: error_for_status(r.status_code, provider="bank", message="x"),
        transport=httpx.MockTransport(bank),
        auth=auth,
        retry=RetryPolicy(max_attempts=2),
        secrets=[CREDS.client_secret],
        metrics=ProviderMetrics(),
        breakers=CircuitBreakers(),
        sleep=sleep,
    )
    return http, auth


async def test_token_is_fetched_once_with_basic_auth_and_reused() -> None:
    bank, clock = Bank(), Clock()
    http, auth = client(bank, clock)
    await http.request("GET", "/balance")
    await http.request("GET", "/balance")
    assert len(bank.token_requests) == 1
    token_request = bank.token_requests[0]
    expected = base64.b64encode(b"client-1:client-secret-value-99").decode()
    assert token_request.headers["Authorization"] == f"Basic {expected}"
    assert parse_qs(token_request.content.decode()) == {
        "grant_type": ["client_credentials"],
        "scope": ["accounts"],
    }
    assert auth.tokens_fetched == 1


async def test_token_is_refreshed_before_it_expires() -> None:
    bank, clock = Bank(lifetime=300), Clock()
    http, _ = client(bank, clock)
    await http.request("GET", "/balance")
    clock.now = 239  # 300 s lifetime minus the 60 s margin
    await http.request("GET", "/balance")
    assert len(bank.token_requests) == 1
    clock.now = 241
    await http.request("GET", "/balance")
    assert len(bank.token_requests) == 2


async def test_a_revoked_token_is_replaced_once() -> None:
    bank, clock = Bank(), Clock()
    http, _ = client(bank, clock)
    await http.request("GET", "/balance")
    bank.revoked = True
    assert (await http.request("GET", "/balance")).status_code == 200
    assert len(bank.token_requests) == 2


async def test_refused_client_credentials_are_an_authentication_error() -> None:
    http, _ = client(Bank(token_status=401), Clock())
    with pytest.raises(AuthenticationError) as caught:
        await http.request("GET", "/balance")
    assert caught.value.provider_code == "invalid_client"
    assert "client-secret-value-99" not in str(caught.value)


async def test_token_endpoint_outage_is_retried_then_unavailable() -> None:
    bank = Bank(token_status=503)
    http, _ = client(bank, Clock())
    with pytest.raises(ProviderUnavailable):
        await http.request("GET", "/balance")
    assert len(bank.token_requests) == 2


async def test_token_without_access_token_is_malformed() -> None:
    def bank(request: httpx.Request) -> httpx.Response:
        return httpx.Response(200, json={"token_type": "Bearer"})

    auth = OAuth2ClientCredentials(CREDS, provider="bank")
    async with httpx.AsyncClient(transport=httpx.MockTransport(bank), auth=auth) as raw:
        with pytest.raises(MalformedResponse):
            await raw.get("https://bank.test/api/balance")


def test_secret_stays_out_of_repr() -> None:
    auth = OAuth2ClientCredentials(CREDS)
    assert "client-secret-value-99" not in repr(CREDS) + repr(auth)


def test_body_style_credentials() -> None:
    creds = ClientCredentials(TOKEN_URL, "id", "secret", send_as="body")
    request = OAuth2ClientCredentials(creds)._token_request()
    assert "Authorization" not in request.headers
    assert parse_qs(request.content.decode())["client_secret"] == ["secret"]
