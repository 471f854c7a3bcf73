"""Puente's generic open-banking connector (``bank``): one contract any bank can implement.

This is **Puente's own documented contract**, not a particular bank's API: it is shaped like
the typical Mexican open-finance APIs (OAuth2 client credentials, JSON, decimal-string amounts,
idempotency keys, HMAC-signed webhooks) so a bank, or a thin adapter in front of one, can
implement it once and be usable by every Puente institution. ``docs/providers.md`` has the
full specification; in short:

    POST /oauth/token                        client_credentials (HTTP Basic), scope
    GET  /accounts/{id}/balance              {available, ledger, currency, as_of}
    GET  /accounts/{id}/transactions         ?from=&to=&limit=&cursor= -> {data, next_cursor}
    POST /payments/spei                      Idempotency-Key header -> payment (201)
    GET  /payments/spei/{id}                 payment
    GET  /payments/spei?clave_rastreo=       {data: [payment]}
    POST /accounts/verify                    {clabe, name?, rfc?} -> {valid, holder_name, ...}

Webhooks are signed ``X-Signature: t=…,v1=…`` (``bank_webhooks.py``).
"""

from __future__ import annotations

import time
from collections.abc import Callable
from datetime import datetime
from typing import Any
from urllib.parse import quote

import httpx

from puente.identifiers import ClabeInfo, mask_clabe
from puente.providers import values
from puente.providers.bank_mapping import (
    bank_balance,
    bank_error,
    bank_holder,
    bank_movement,
    bank_transfer,
)
from puente.providers.bank_webhooks import verify_bank_signature
from puente.providers.base import Bank, NotFound, ProviderConfig, reading_response
from puente.providers.catalogue import BANK
from puente.providers.oauth import ClientCredentials, OAuth2ClientCredentials
from puente.providers.paging import collect_pages

__all__ = ["DEFAULT_SCOPE", "OpenBankingConnector"]

DEFAULT_SCOPE = "accounts payments"


class OpenBankingConnector(Bank):
    """A bank speaking Puente's generic open-banking contract."""

    spec = BANK
    # No real default: each bank has its own host. ``.invalid`` can never resolve (RFC 2606).
    default_base_url = "https://api.bank.invalid"
    idempotency_header = "Idempotency-Key"
    page_size: int = 100
    answers_are_objects = True
    parse_error = staticmethod(bank_error)
    webhook_verifier = verify_bank_signature  # HMAC: the sender's address is not needed

    def __init__(
        self,
        config: ProviderConfig,
        *,
        clock: Callable[[], float] | None = None,
        **kwargs: Any,
    ) -> None:
        # The token cache uses the same clock as the breaker, so tests can expire a token.
        self._token_clock = clock or time.monotonic
        super().__init__(config, clock=clock, **kwargs)
        self.account_id = config.credentials["account_id"]

    def auth(self) -> httpx.Auth:
        creds = self.config.credentials
        self.oauth = OAuth2ClientCredentials(
            ClientCredentials(
                token_url=creds.get("token_url") or f"{self.base_url}/oauth/token",
                client_id=creds["client_id"],
                client_secret=creds["client_secret"],
                scope=creds.get("scope") or DEFAULT_SCOPE,
            ),
            provider=self.name,
            clock=self._token_clock,
        )
        return self.oauth

    @property
    def _account_path(self) -> str:
        return f"/accounts/{quote(self.account_id, safe='')}"

    async def get_balance(self) -> values.BankBalance:
        body = await self.call("GET", f"{self._account_path}/balance")
        label = mask_clabe(str(body["clabe"])) if body.get("clabe") else self.account_id
        return bank_balance(body, label)

    async def list_movements(
        self, since: datetime, *, until: datetime | None = None
    ) -> list[values.BankMovement]:
        params = {"from": since.isoformat(), "limit": str(min(self.page_size, 100))}
        if until is not None:
            params["to"] = until.isoformat()

        async def page(cursor: str | None) -> tuple[list[values.BankMovement], str | None]:
            query = params if cursor is None else {**params, "cursor": cursor}
            body = await self.call("GET", f"{self._account_path}/transactions", params=query)
            with reading_response(self.name, "transactions page"):
                found = [bank_movement(tx) for tx in body["data"]]
                following = body.get("next_cursor")
            return found, str(following) if following else None

        lines = await collect_pages(page, None)
        return sorted(lines, key=lambda line: line.occurred_at)

    async def send_spei(self, request: values.SpeiTransferRequest) -> values.SpeiTransfer:
        account = self.beneficiary_clabe(request.clabe, "invalid_clabe")
        beneficiary = {"clabe": account.clabe, "name": request.beneficiary_name}
        if request.beneficiary_rfc:
            beneficiary["rfc"] = request.beneficiary_rfc
        body: dict[str, Any] = {
            "account_id": self.account_id,
            "amount": str(request.amount),
            "currency": "MXN",
            "beneficiary": beneficiary,
            "concept": request.concept,
        }
        if request.reference:
            body["reference"] = request.reference
        answer = await self.call(
            "POST", "/payments/spei", json=body, idempotency_key=request.idempotency_key
        )
        return bank_transfer(answer)

    async def get_payment(self, payment_id: str) -> values.SpeiTransfer:
        """A payment by the bank's id."""
        body = await self.call("GET", f"/payments/spei/{quote(payment_id, safe='')}")
        return bank_transfer(body)

    async def get_transfer(self, clave_rastreo: str) -> values.SpeiTransfer:
        """A payment by its clave de rastreo (the identifier every SPEI participant shares)."""
        body = await self.call("GET", "/payments/spei", params={"clave_rastreo": clave_rastreo})
        with reading_response(self.name, "payments"):
            found = list(body["data"])
        if not found:
            raise NotFound(f"no payment with clave de rastreo {clave_rastreo}", provider=self.name)
        return bank_transfer(found[0])

    async def account_holder(
        self, account: ClabeInfo, *, name: str | None, rfc: str | None
    ) -> values.AccountHolder:
        body: dict[str, Any] = {"clabe": account.clabe}
        if name:
            body["name"] = name
        if rfc:
            body["rfc"] = rfc
        # A read-only check: safe to repeat although it is a POST.
        answer = await self.call("POST", "/accounts/verify", json=body, idempotent=True)
        return bank_holder(answer, account.clabe)
