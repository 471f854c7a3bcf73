"""OAuth2 client credentials (RFC 6749 §4.4) with automatic token refresh, as an ``httpx.Auth``.

Banks and PayPal hand out short-lived bearer tokens. The auth flow fetches one on first use,
reuses it until ``refresh_margin`` seconds before it expires, and fetches a new one once if
the provider answers 401 to a request made with a token it revoked early. Token requests go
through the same transport as every other call, so tests and sandboxes see them too.
"""

from __future__ import annotations

import base64
import time
from collections.abc import AsyncGenerator, Callable, Generator
from dataclasses import dataclass, field
from typing import Literal

import httpx

from puente.providers.errors import (
    AuthenticationError,
    MalformedResponse,
    error_for_status,
)

__all__ = ["ClientCredentials", "OAuth2ClientCredentials"]


@dataclass(frozen=True, slots=True)
class ClientCredentials:
    """Where and how to ask for a token; ``client_secret`` stays out of ``repr``."""

    token_url: str
    client_id: str
    client_secret: str = field(repr=False)
    scope: str | None = None
    # RFC 6749 prefers HTTP Basic; some banks want the pair in the form body instead.
    send_as: Literal["basic", "body"] = "basic"
    refresh_margin: float = 60.0


class OAuth2ClientCredentials(httpx.Auth):
    """An httpx auth flow that keeps a fresh bearer token on every request."""

    requires_response_body = True

    def __init__(
        self,
        credentials: ClientCredentials,
        *,
        provider: str = "",
        clock: Callable[[], float] = time.monotonic,
    ) -> None:
        self.credentials = credentials
        self.provider = provider
        self._clock = clock
        self._token: str | None = None
        self._expires_at = 0.0
        self.tokens_fetched = 0

    def __repr__(self) -> str:
        state = "fresh" if self.has_fresh_token else "none"
        return f"<OAuth2ClientCredentials {self.credentials.client_id} token={state}>"

    @property
    def has_fresh_token(self) -> bool:
        """True while the cached token is usable for at least ``refresh_margin`` seconds."""
        return self._token is not None and self._clock() < self._expires_at

    def invalidate(self) -> None:
        """Drop the cached token (e.g. after a credential rotation)."""
        self._token = None
        self._expires_at = 0.0

    def sync_auth_flow(self, request: httpx.Request) -> Generator[httpx.Request, httpx.Response]:
        raise RuntimeError("Puente connectors are async; use httpx.AsyncClient")
        yield request  # pragma: no cover  (makes this a generator, as httpx expects)

    async def async_auth_flow(
        self, request: httpx.Request
    ) -> AsyncGenerator[httpx.Request, httpx.Response]:
        if not self.has_fresh_token:
            await self._fetch((yield self._token_request()))
        request.headers["Authorization"] = f"Bearer {self._token}"
        response = yield request
        if response.status_code == 401:
            # The provider may revoke a token before its stated expiry: refresh once, not forever.
            self.invalidate()
            await self._fetch((yield self._token_request()))
            request.headers["Authorization"] = f"Bearer {self._token}"
            yield request

    async def _fetch(self, response: httpx.Response) -> None:
        # Overriding async_auth_flow skips httpx's requires_response_body read: over a
        # streaming transport (the network, ASGITransport) the token answer arrives unread.
        await response.aread()
        self._store(response)

    def _token_request(self) -> httpx.Request:
        creds = self.credentials
        form = {"grant_type": "client_credentials"}
        if creds.scope:
            form["scope"] = creds.scope
        headers = {"Accept": "application/json"}
        if creds.send_as == "basic":
            pair = f"{creds.client_id}:{creds.client_secret}".encode()
            headers["Authorization"] = "Basic " + base64.b64encode(pair).decode()
        else:
            form["client_id"] = creds.client_id
            form["client_secret"] = creds.client_secret
        return httpx.Request("POST", creds.token_url, data=form, headers=headers)

    def _store(self, response: httpx.Response) -> None:
        if response.status_code in (400, 401, 403):
            raise AuthenticationError(
                "the token endpoint refused the client credentials",
                provider=self.provider,
                provider_code=_oauth_error_code(response),
                http_status=response.status_code,
            )
        if not response.is_success:
            raise error_for_status(
                response.status_code,
                provider=self.provider,
                message="the token endpoint failed",
                provider_code=_oauth_error_code(response),
            )
        try:
            body = response.json()
            token = body["access_token"]
            lifetime = float(body.get("expires_in", 300))
        except (ValueError, KeyError, TypeError) as exc:
            raise MalformedResponse(
                "token endpoint answered without a usable access_token", provider=self.provider
            ) from exc
        if not isinstance(token, str) or not token:
            raise MalformedResponse("token endpoint sent an empty token", provider=self.provider)
        self._token = token
        self._expires_at = self._clock() + max(0.0, lifetime - self.credentials.refresh_margin)
        self.tokens_fetched += 1


def _oauth_error_code(response: httpx.Response) -> str | None:
    try:
        body = response.json()
    except ValueError:
        return None
    return body.get("error") if isinstance(body, dict) else None
