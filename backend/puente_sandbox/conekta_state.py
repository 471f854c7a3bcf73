"""The Conekta simulator's state machine: customers, orders and their charges, events.

No HTTP here: methods take decoded JSON, change the store, emit events and return the object
Conekta would return, or raise ``ConektaError``. A card order is paid (or declined) at once;
a cash (OXXO) or SPEI order waits in ``pending_payment`` until the sandbox pays it or its
``expires_at`` passes. Refunds, chargebacks, transfers and lists live in ``conekta_money.py``.
"""

from __future__ import annotations

import copy
from collections.abc import Mapping
from decimal import Decimal
from typing import Any

from clabe import compute_control_digit

from puente_sandbox.conekta_objects import (
    CONEKTA,
    TEST_TOKENS,
    ConektaError,
    charge_object,
    customer_object,
    event_object,
    hex_id,
    order_object,
    payment_source_object,
    transaction_object,
)
from puente_sandbox.core import Simulator, SimulatorState
from puente_sandbox.lifecycle import lapsed
from puente_sandbox.spei_payers import payer_transfer

__all__ = ["ConektaState", "Obj", "int_param"]

Obj = dict[str, Any]
CASH_LIMIT = 1_000_000  # OXXO takes at most $10,000.00 MXN per reference
DEFAULT_EXPIRY = 3 * 86400


def int_param(value: Any, param: str, *, positive: bool = True) -> int:
    if isinstance(value, bool) or not isinstance(value, int) or (positive and value <= 0):
        raise ConektaError.invalid(param, f"El parámetro {param} debe ser un entero positivo.")
    return value


class ConektaState(SimulatorState):
    """Everything one simulated Conekta company holds."""

    def __init__(self, simulator: Simulator) -> None:
        super().__init__(simulator)
        self.card_of: dict[str, str] = {}  # payment source -> test token
        self.paid_out: set[str] = set()  # transactions already carried by a transfer

    def now(self) -> int:
        """Conekta timestamps are whole unix seconds."""
        return int(self.clock())

    def hex(self) -> str:
        """A fresh 24-hex id."""
        return hex_id(self.ids, self.clock())

    def event(self, event_type: str, obj: Obj) -> Obj:
        """Record an event and hand it to the webhook sender."""
        evt = event_object(self.hex(), event_type, copy.deepcopy(obj), self.now())
        self.store.put("events", evt)
        self.emit(evt)
        return evt

    def get(self, kind: str, object_id: str, label: str) -> Obj:
        """An object or Conekta's 404."""
        obj = self.store.get(kind, object_id)
        if obj is None:
            raise ConektaError.not_found(label, object_id)
        return obj

    # -- customers -----------------------------------------------------------------------------
    def create_customer(self, params: Mapping[str, Any]) -> Obj:
        """``POST /customers``."""
        for field in ("name", "email"):
            if not params.get(field):
                raise ConektaError.invalid(
                    f"customer.{field}", f"El parámetro {field} es requerido."
                )
        customer = customer_object(self.ids("cus_", 17), self.now(), params)
        self.store.put("customers", customer)
        self.event("customer.created", customer)
        return customer

    def add_payment_source(self, customer_id: str, params: Mapping[str, Any]) -> Obj:
        """``POST /customers/{id}/payment_sources`` with a card token."""
        customer = self.get("customers", customer_id, "Customer")
        if params.get("type") != "card":
            raise ConektaError.invalid("type", "El tipo de fuente de pago debe ser card.")
        token = params.get("token_id") or ""
        if token not in TEST_TOKENS:
            raise ConektaError.not_found("Token", str(token))
        source = payment_source_object(
            self.ids("src_", 17), customer["id"], TEST_TOKENS[token], self.now()
        )
        self.card_of[source["id"]] = token
        self.store.put("payment_sources", source)
        customer["payment_sources"]["data"].append(source)
        customer["payment_sources"]["total"] += 1
        customer["default_payment_source_id"] = (
            customer["default_payment_source_id"] or source["id"]
        )
        self.event("payment_source.created", source)
        return source

    # -- orders --------------------------------------------------------------------------------
    def _customer_info(self, info: Any) -> Obj:
        if not isinstance(info, Mapping):
            raise ConektaError.invalid("customer_info", "El parámetro customer_info es requerido.")
        if info.get("customer_id"):
            customer = self.get("customers", str(info["customer_id"]), "Customer")
            return {
                "object": "customer_info",
                "customer_id": customer["id"],
                "name": customer["name"],
                "email": customer["email"],
                "phone": customer["phone"],
                "corporate": False,
            }
        for field in ("name", "email", "phone"):
            if not info.get(field):
                raise ConektaError.invalid(
                    f"customer_info.{field}", f"El parámetro customer_info.{field} es requerido."
                )
        return {
            "object": "customer_info",
            "name": info["name"],
            "email": info["email"],
            "phone": info["phone"],
            "corporate": bool(info.get("corporate", False)),
        }

    def _amount(self, params: Mapping[str, Any]) -> int:
        items = params.get("line_items")
        if not isinstance(items, list) or not items:
            raise ConektaError.invalid("line_items", "La orden debe tener al menos un producto.")
        total = 0
        for n, item in enumerate(items):
            if not isinstance(item, Mapping) or not item.get("name"):
                raise ConektaError.invalid(f"line_items.{n}.name", "El producto requiere nombre.")
            total += int_param(item.get("unit_price"), f"line_items.{n}.unit_price") * int_param(
                item.get("quantity"), f"line_items.{n}.quantity"
            )
        return total

    def create_order(self, params: Mapping[str, Any], public_url: str) -> Obj:
        """``POST /orders`` with one charge (card, cash or spei)."""
        if str(params.get("currency") or "").upper() != "MXN":
            raise ConektaError.invalid("currency", "Esta cuenta de pruebas sólo acepta MXN.")
        info = self._customer_info(params.get("customer_info"))
        amount = self._amount(params)
        charges = params.get("charges")
        if not isinstance(charges, list) or len(charges) != 1 or not isinstance(charges[0], dict):
            raise ConektaError.invalid("charges", "El simulador acepta exactamente un cargo.")
        charge_params = charges[0]
        if charge_params.get("amount") not in (None, amount):
            raise ConektaError.invalid("charges.0.amount", "El monto del cargo no cuadra.")
        method = charge_params.get("payment_method")
        if not isinstance(method, Mapping) or method.get("type") not in ("card", "cash", "spei"):
            raise ConektaError.invalid(
                "charges.0.payment_method.type", "El tipo de pago debe ser card, cash o spei."
            )
        order = order_object(self.ids("ord_", 17), amount, self.now(), params, info)
        if method["type"] == "card":
            token = self._card_token(method, info)
            self.store.put("orders", order)
            self.event("order.created", order)
            return self._charge_card(order, token)
        expires_at = method.get("expires_at", charge_params.get("expires_at"))
        expires_at = self.now() + DEFAULT_EXPIRY if expires_at is None else expires_at
        if int_param(expires_at, "charges.0.payment_method.expires_at") <= self.now():
            raise ConektaError.invalid(
                "charges.0.payment_method.expires_at", "La fecha de expiración ya pasó."
            )
        if method["type"] == "cash" and amount > CASH_LIMIT:
            raise ConektaError.invalid("amount", "OXXO acepta como máximo $10,000.00 MXN.")
        pm = (
            self._cash_method(order, expires_at, public_url)
            if method["type"] == "cash"
            else self._spei_method(expires_at)
        )
        order["charges"] = {**order["charges"], "total": 1}
        order["charges"]["data"] = [charge_object(self.hex(), order, self.now(), pm)]
        order["payment_status"] = "pending_payment"
        self.store.put("orders", order)
        self.event("order.created", order)
        self.event("order.pending_payment", order)
        return order

    def _card_token(self, method: Mapping[str, Any], info: Obj) -> str:
        if method.get("token_id"):
            token = str(method["token_id"])
            if token not in TEST_TOKENS:
                raise ConektaError.not_found("Token", token)
            return token
        source_id = str(method.get("payment_source_id") or "")
        if not source_id:
            raise ConektaError.invalid(
                "charges.0.payment_method.token_id", "Se requiere token_id o payment_source_id."
            )
        source = self.get("payment_sources", source_id, "PaymentSource")
        if source["parent_id"] != info.get("customer_id"):
            raise ConektaError.invalid(
                "charges.0.payment_method.payment_source_id",
                "La fuente de pago no pertenece al cliente de la orden.",
            )
        return self.card_of[source_id]

    def _charge_card(self, order: Obj, token: str) -> Obj:
        card = TEST_TOKENS[token]
        pm = {
            "object": "card_payment",
            "type": "credit",
            "name": order["customer_info"]["name"],
            "exp_month": "12",
            "exp_year": "34",
            "auth_code": None,
            "last4": card.last4,
            "brand": card.brand,
            "issuer": "BANAMEX",
            "account_type": "Credit",
            "country": "MX",
            "fraud_indicators": [],
        }
        charge = charge_object(self.hex(), order, self.now(), pm)
        order["charges"] = {**order["charges"], "total": 1, "data": [charge]}
        if card.decline is not None:
            code, failure_code, message, debug = card.decline
            charge.update(status="declined", failure_code=failure_code, failure_message=message)
            order["payment_status"] = "declined"
            self.event("charge.declined", charge)
            self.event("order.declined", order)
            raise ConektaError(402, "processing_error", code, message, debug, data=order)
        pm["auth_code"] = self.ids.digits(6)
        self._mark_paid(order, charge)
        return order

    def _cash_method(self, order: Obj, expires_at: int, public_url: str) -> Obj:
        return {
            "object": "cash_payment",
            "type": "oxxo",
            "service_name": "OxxoPay",
            "store_name": "OXXO",
            "reference": "9800" + self.ids.digits(10),
            # The sandbox's barcode link is the payer's page (reference and a pay button).
            "barcode_url": f"{public_url}/_hosted/oxxo/{order['id']}",
            "expires_at": expires_at,
            "product_type": "cash_in",
        }

    def _spei_method(self, expires_at: int) -> Obj:
        body = "646180" + self.ids.digits(11)  # STP, the bank behind Conekta's CLABEs
        clabe = body + compute_control_digit(body)
        return {
            "object": "bank_transfer_payment",
            "type": "spei",
            "bank": "STP",
            "clabe": clabe,
            "receiving_account_number": clabe,
            "receiving_account_bank": "STP",
            "expires_at": expires_at,
            "payment_attempts": [],
        }

    def _mark_paid(self, order: Obj, charge: Obj) -> None:
        charge.update(status="paid", paid_at=self.now())
        order.update(payment_status="paid", is_refundable=True, updated_at=self.now())
        txn = transaction_object(
            self.hex(), charge["amount"], charge["fee"], charge, "capture", self.now()
        )
        self.store.put("transactions", txn)
        self.event("charge.paid", charge)
        self.event("order.paid", order)

    def waiting_charge(self, order: Obj) -> Obj:
        """The cash/SPEI charge of an order still waiting for the payer (or an error)."""
        charge = order["charges"]["data"][-1]
        if order["payment_status"] != "pending_payment":
            raise ConektaError(
                428,
                "precondition_required_error",
                "conekta.errors.precondition_required.order.not_pending",
                f"La orden {order['id']} está {order['payment_status']}; no hay nada que pagar.",
            )
        return charge

    def pay(self, order: Obj) -> None:
        """The payer pays the OXXO voucher or the SPEI transfer lands."""
        charge = self.waiting_charge(order)
        pm = charge["payment_method"]
        if pm["object"] == "bank_transfer_payment":
            sent = payer_transfer(  # kept for Banxico's CEP simulator (spei_payers.py)
                self.store,
                self.ids,
                self.clock(),
                beneficiary_clabe=pm["receiving_account_number"],
                amount=Decimal(charge["amount"]) / 100,
                payer_name=order["customer_info"]["name"],
            )
            pm.update(
                tracking_code=sent["clave_rastreo"],
                # A string in Conekta's v2.3.0 OpenAPI (conekta-python 9 rejects an integer);
                # older generated SDKs had an int, so the format is UNCONFIRMED: unix seconds.
                executed_at=str(self.now()),
                issuing_account_bank="BBVA MEXICO",
                issuing_account_number=sent["ordenante_cuenta"],
                issuing_account_holder_name=order["customer_info"]["name"],
                issuing_account_tax_id=None,
            )
        self._mark_paid(order, charge)

    def expire(self, order: Obj) -> None:
        """A voucher or CLABE lapses unpaid."""
        charge = self.waiting_charge(order)
        charge["status"] = "expired"
        order.update(payment_status="expired", updated_at=self.now())
        self.event("charge.expired", charge)
        self.event("order.expired", order)

    def expire_due(self) -> None:
        """Lapse every reference past its ``expires_at`` (runs before each request)."""
        now = self.now()
        for order in self.store.all("orders"):
            expires_at = order["charges"]["data"][-1]["payment_method"].get("expires_at")
            if lapsed(CONEKTA.phase(order["payment_status"]), expires_at, now):
                self.expire(order)
