"""The Openpay simulator's state machine: customers, tokens, cards, charges and events.

No HTTP here: methods take decoded JSON (decimals as ``Decimal``), change the store, emit
webhook bodies and return what Openpay would, or raise ``OpenpayError``. ``order_id`` is
unique per merchant across every charge (failed ones included): a repeat gets ``1006``.
A card charge completes or fails at once; a store or SPEI charge stays ``in_progress`` until
the sandbox pays it or its ``due_date`` passes (then Openpay cancels it). Refunds,
chargebacks, payouts and lists live in ``openpay_money.py``.
"""

from __future__ import annotations

import copy
from collections.abc import Mapping
from decimal import Decimal
from typing import Any

from clabe import compute_control_digit

from puente.money import ZERO, InvalidAmount, parse_amount
from puente_sandbox.core import Simulator, SimulatorState
from puente_sandbox.formats import MEXICO_CITY, iso_datetime
from puente_sandbox.lifecycle import lapsed
from puente_sandbox.openpay_objects import (
    OPENPAY,
    TEST_CARDS,
    TEST_TOKENS,
    OpenpayError,
    SandboxCard,
    luhn_valid,
    openpay_fee,
    openpay_time,
    plain,
)
from puente_sandbox.spei_payers import payer_transfer

__all__ = ["DEFAULT_DUE_DAYS", "Obj", "OpenpayState", "amount_param"]

Obj = dict[str, Any]
DEFAULT_DUE_DAYS = 3
_METHODS = ("card", "bank_account", "store")


def amount_param(value: Any, name: str = "amount") -> Decimal:
    try:
        amount = parse_amount(value)
    except InvalidAmount:
        raise OpenpayError.invalid(f"{name} must be a positive amount with two decimals") from None
    if amount <= ZERO:
        raise OpenpayError.invalid(f"{name} must be greater than zero")
    return amount


class OpenpayState(SimulatorState):
    """Everything one simulated Openpay merchant holds."""

    def __init__(self, simulator: Simulator) -> None:
        super().__init__(simulator)
        self.order_ids: dict[str, str] = {}  # order_id -> charge id (merchant-wide)
        self.tokens: dict[str, str] = dict(TEST_TOKENS)  # token -> card number
        self.card_numbers: dict[str, str] = {}  # stored card id -> card number
        self.settled: set[str] = set()  # charge/refund ids already paid out
        self.verification_codes: dict[str, str] = {}  # webhook id -> code
        # charge id -> the device_session_id it came with (Openpay's antifraud, which a
        # test reads back; Openpay's answer does not repeat it).
        self.device_sessions: dict[str, str | None] = {}
        # charge id -> the merchant-level ``customer`` it came with: the payer who will
        # send the SPEI (names the ordenante of the simulated transfer).
        self.payers: dict[str, dict[str, Any]] = {}

    def device_session(self) -> str:
        """What openpay-data.js makes in the payer's browser: 32 letters and digits."""
        return self.ids("", 32)

    def oid(self) -> str:
        """An Openpay-looking id: 20 lowercase letters and digits."""
        return self.ids("", 20).lower()

    def now(self) -> str:
        """The current time as Openpay writes it."""
        return openpay_time(self.clock())

    def event(self, event_type: str, transaction: Obj | None = None, **extra: Any) -> None:
        """Queue a webhook body (Openpay's have no id) and keep it for inspection."""
        body: Obj = {"type": event_type, "event_date": self.now(), **extra}
        if transaction is not None:
            body["transaction"] = plain(copy.deepcopy(transaction))
        self.store.put("events", {"id": self.oid(), **body})
        self.emit(body)

    def get(self, kind: str, object_id: str, label: str, customer_id: str | None = None) -> Obj:
        """An object (of that customer, when scoped) or Openpay's 1005."""
        obj = self.store.get(kind, object_id)
        if obj is None or (customer_id and obj.get("customer_id") != customer_id):
            raise OpenpayError.not_found(f"The requested resource doesn't exist ({label})")
        return obj

    # -- customers, tokens and cards -----------------------------------------------------------
    def create_customer(self, params: Mapping[str, Any]) -> Obj:
        """``POST /customers`` (``external_id`` unique per merchant: 2003)."""
        if not params.get("name"):
            raise OpenpayError.invalid("name is required")
        external_id = params.get("external_id")
        if external_id and any(
            c.get("external_id") == external_id for c in self.store.all("customers")
        ):
            raise OpenpayError(409, 2003, "The customer with this external_id already exists")
        customer = {
            "id": self.oid(),
            "name": params["name"],
            "last_name": params.get("last_name"),
            "email": params.get("email"),
            "phone_number": params.get("phone_number"),
            "address": params.get("address"),
            "creation_date": self.now(),
            "external_id": external_id,
            "status": "active",
            "balance": Decimal("0.00"),
            "clabe": None,
        }
        return self.store.put("customers", customer)

    def create_token(self, params: Mapping[str, Any]) -> Obj:
        """``POST /tokens`` (what openpay.js does): a single-use token for a card."""
        number = str(params.get("card_number") or "")
        if not number.isdigit() or not luhn_valid(number):
            raise OpenpayError(422, 2004, "The card number verification digit is invalid")
        for field in ("holder_name", "expiration_year", "expiration_month"):
            if not params.get(field):
                raise OpenpayError.invalid(f"{field} is required")
        token_id = self.oid()
        self.tokens[token_id] = number
        return {"id": token_id, "card": self._card_view(number, params)}

    def _card_view(self, number: str, params: Mapping[str, Any]) -> Obj:
        card = TEST_CARDS.get(number, SandboxCard("visa"))
        return {
            "card_number": f"{number[:6]}XXXXXX{number[-4:]}",
            "holder_name": params.get("holder_name") or "Puente Sandbox",
            "expiration_year": str(params.get("expiration_year") or "34"),
            "expiration_month": str(params.get("expiration_month") or "12"),
            "type": card.type,
            "brand": card.brand,
            "bank_name": card.bank_name,
            "bank_code": card.bank_code,
            "allows_charges": True,
            "allows_payouts": True,
        }

    def _number_for_token(self, token: str) -> str:
        number = self.tokens.get(token)
        if number is None:
            raise OpenpayError.not_found(f"The token {token} doesn't exist")
        if token not in TEST_TOKENS:
            del self.tokens[token]  # real tokens are single-use
        return number

    def add_card(self, customer_id: str, params: Mapping[str, Any]) -> Obj:
        """``POST /customers/{id}/cards`` with a ``token_id``."""
        self.get("customers", customer_id, "customer")
        if not params.get("token_id"):
            raise OpenpayError.invalid("token_id is required")
        number = self._number_for_token(str(params["token_id"]))
        card = {
            "id": self.oid(),
            **self._card_view(number, {}),
            "creation_date": self.now(),
            "customer_id": customer_id,
            "points_card": False,
        }
        self.card_numbers[card["id"]] = number
        return self.store.put("cards", card)

    # -- charges -------------------------------------------------------------------------------
    def create_charge(
        self, params: Mapping[str, Any], customer_id: str | None, public_url: str
    ) -> Obj:
        """``POST /charges`` (merchant or customer level) by card, bank_account or store."""
        if customer_id:
            self.get("customers", customer_id, "customer")
        method = params.get("method")
        if method not in _METHODS:
            raise OpenpayError.invalid("method must be card, bank_account or store")
        amount = amount_param(params.get("amount"))
        if not params.get("description"):
            raise OpenpayError.invalid("description is required")
        if str(params.get("currency") or "MXN").upper() != "MXN":
            raise OpenpayError.invalid("currency must be MXN")
        order_id = params.get("order_id")
        if order_id and order_id in self.order_ids:
            raise OpenpayError(409, 1006, "The order_id has already been processed")
        charge: Obj = {
            "id": self.oid(),
            "authorization": None,
            "operation_type": "in",
            "transaction_type": "charge",
            "method": method,
            "status": "in_progress",
            "conciliated": False,
            "creation_date": self.now(),
            "operation_date": self.now(),
            "description": params["description"],
            "error_message": None,
            "error_code": None,
            "order_id": order_id,
            "currency": "MXN",
            "amount": amount,
            "customer_id": customer_id,
            "fee": openpay_fee(amount, method),
            "metadata": dict(params.get("metadata") or {}),
        }
        if method == "card":
            number = self._card_number(params, customer_id)
            self.device_sessions[charge["id"]] = params.get("device_session_id")
            return self._charge_card(charge, number, order_id)
        charge["due_date"] = self._due_date(params.get("due_date"))
        if isinstance(params.get("customer"), Mapping):
            self.payers[charge["id"]] = dict(params["customer"])
        charge["payment_method"] = (
            self._store_method(public_url) if method == "store" else self._spei_method()
        )
        self._keep(charge, order_id)
        self.event("charge.created", charge)
        return charge

    def _card_number(self, params: Mapping[str, Any], customer_id: str | None) -> str:
        source = str(params.get("source_id") or "")
        if not source:
            raise OpenpayError.invalid("source_id is required for card charges")
        if source in self.card_numbers:
            self.get("cards", source, "card", customer_id)
            return self.card_numbers[source]
        # A card typed in a browser just now: Openpay's antifraud needs that browser's
        # device session (openpay-data.js). UNCONFIRMED: whether Openpay also demands one
        # for a stored card charged with the payer absent; the simulator does not.
        device = params.get("device_session_id")
        if not device:
            raise OpenpayError(400, 1001, "device_session_id is required for token charges")
        if not isinstance(device, str) or len(device) > 255:
            raise OpenpayError(400, 1001, "device_session_id must be a string of 255 or fewer")
        return self._number_for_token(source)

    def _keep(self, charge: Obj, order_id: str | None) -> None:
        self.store.put("charges", charge)
        if order_id:
            self.order_ids[order_id] = charge["id"]

    def _charge_card(self, charge: Obj, number: str, order_id: str | None) -> Obj:
        card = TEST_CARDS.get(number, SandboxCard("visa"))
        charge["card"] = self._card_view(number, {})
        if card.decline is not None:
            code, description = card.decline
            charge.update(status="failed", error_message=description, error_code=code)
            charge["fee"] = {"amount": ZERO, "tax": ZERO, "currency": "MXN"}
            self._keep(charge, order_id)
            self.event("charge.failed", charge)
            raise OpenpayError(402, code, description, "gateway")
        self._keep(charge, order_id)
        self._complete(charge)
        return charge

    def _complete(self, charge: Obj) -> None:
        charge.update(
            status="completed", authorization=self.ids.digits(6), operation_date=self.now()
        )
        self.event("charge.succeeded", charge)

    def _due_date(self, value: Any) -> str:
        if value in (None, ""):
            due = self.clock() + DEFAULT_DUE_DAYS * 86400
            return openpay_time(due)
        when = iso_datetime(value, naive_zone=MEXICO_CITY)
        if when is None:
            raise OpenpayError(400, 1001, "due_date must be an ISO-8601 date and time")
        if when.timestamp() <= self.clock():
            raise OpenpayError.invalid("due_date must be in the future")
        return when.astimezone(MEXICO_CITY).isoformat(timespec="seconds")

    def _store_method(self, public_url: str) -> Obj:
        reference = "1010" + self.ids.digits(12)
        barcode = f"{public_url}/barcode/{reference}?width=1&height=45&text=false"
        paybin = "BBVA" + self.ids.digits(8)
        return {
            "type": "store",
            "reference": reference,
            "paybin_reference": paybin,
            "barcode_url": barcode,
            "barcode_paybin_url": f"{public_url}/barcode/{paybin}?width=1&height=45&text=false",
        }

    def _spei_method(self) -> Obj:
        body = "646180" + self.ids.digits(11)  # STP receives Openpay's SPEI charges
        return {
            "type": "bank_transfer",
            "agreement": "1411217",
            "bank": "STP",
            "clabe": body + compute_control_digit(body),
            "name": self.ids.digits(20),
        }

    def waiting(self, charge: Obj) -> Obj:
        """A store/SPEI charge still waiting for the payer (or an error)."""
        if charge["method"] == "card" or charge["status"] != "in_progress":
            raise OpenpayError(409, 1013, f"The charge {charge['id']} is {charge['status']}")
        return charge

    def pay(self, charge: Obj) -> None:
        """The payer pays at the store or the SPEI transfer lands."""
        self.waiting(charge)
        if charge["method"] == "bank_account":
            self._spei_landed(charge)
        self._complete(charge)

    def _spei_landed(self, charge: Obj) -> None:
        """The payer's transfer: its clave de rastreo and account on ``payment_method``
        (UNCONFIRMED names: ``puente.providers.spei_tracking.OPENPAY_SPEI``)."""
        pm = charge["payment_method"]
        customer = self.payers.get(charge["id"]) or {}
        if not customer and charge.get("customer_id"):
            customer = self.store.get("customers", charge["customer_id"]) or {}
        name = " ".join(filter(None, (customer.get("name"), customer.get("last_name"))))
        sent = payer_transfer(
            self.store,
            self.ids,
            self.clock(),
            beneficiary_clabe=pm["clabe"],
            amount=Decimal(str(charge["amount"])),
            payer_name=name,
            concepto=pm.get("name") or "",
        )
        pm.update(
            tracking_key=sent["clave_rastreo"],
            sender_clabe=sent["ordenante_cuenta"],
            sender_name=sent["ordenante_nombre"],
        )

    def expire(self, charge: Obj) -> None:
        """The due_date passes unpaid: Openpay cancels the charge."""
        self.waiting(charge).update(status="cancelled", operation_date=self.now())
        self.event("charge.cancelled", charge)

    def expire_due(self) -> None:
        """Cancel every store/SPEI charge past its due_date (runs before each request)."""
        now = self.clock()
        for charge in self.store.all("charges"):
            due = iso_datetime(charge.get("due_date"), naive_zone=MEXICO_CITY)
            due_at = due.timestamp() if due is not None else None
            if charge["method"] != "card" and lapsed(OPENPAY.phase(charge["status"]), due_at, now):
                self.expire(charge)
