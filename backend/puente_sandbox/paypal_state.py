"""The PayPal simulator's state machine: orders, approvals, captures and the vault.

No HTTP here: methods take decoded JSON, change the store, queue webhook events and return
what PayPal would answer, or raise ``PayPalError``. ``base()`` is the simulator's public URL,
used in HATEOAS links and approval links. Refunds and reporting are ``paypal_money``.
"""

from __future__ import annotations

import copy
from collections.abc import Callable, Mapping
from typing import Any

from puente.money import parse_amount
from puente_sandbox.core import Simulator, SimulatorState
from puente_sandbox.paypal_money import MERCHANT_ID, PayPalMoney
from puente_sandbox.paypal_objects import (
    REJECTION_TRIGGERS,
    SANDBOX_BUYER,
    PayPalError,
    amount_param,
    money_obj,
    paypal_fee,
    paypal_now,
)

__all__ = ["PayPalState"]

Obj = dict[str, Any]
_TEST_CARD = {"last_digits": "1881", "brand": "VISA", "type": "CREDIT", "expiry": "2030-11"}


class PayPalState(PayPalMoney, SimulatorState):
    """Everything one simulated PayPal business account holds."""

    def __init__(self, simulator: Simulator, base: Callable[[], str]) -> None:
        super().__init__(simulator)
        self.base = base
        self.lines: list[Obj] = []  # reporting transactions, oldest first
        self.withdrawn: set[str] = set()

    def now(self) -> str:
        """PayPal's timestamp for now."""
        return paypal_now(self.clock())

    def pid(self) -> str:
        """A PayPal-looking 17-character id."""
        return self.ids("", 17).upper()

    def get(self, kind: str, object_id: str, field: str) -> Obj:
        """An object or PayPal's 404 ``INVALID_RESOURCE_ID``."""
        found = self.store.get(kind, object_id)
        if found is None:
            raise PayPalError(
                404,
                "INVALID_RESOURCE_ID",
                "Specified resource ID does not exist. Please check the resource ID and try again.",
                field=field,
                location="path",
            )
        return found

    def event(self, event_type: str, resource_type: str, resource: Obj, summary: str) -> None:
        """Queue a webhook event (a snapshot of the resource)."""
        event_id = f"WH-{self.pid()}-{self.pid()}"
        href = f"{self.base()}/v1/notifications/webhooks-events/{event_id}"
        self.emit(
            {
                "id": event_id,
                "event_version": "1.0",
                "create_time": self.now(),
                "resource_type": resource_type,
                "resource_version": "2.0",
                "event_type": event_type,
                "summary": summary,
                "resource": copy.deepcopy(resource),
                "links": [
                    {"href": href, "rel": "self", "method": "GET"},
                    {"href": f"{href}/resend", "rel": "resend", "method": "POST"},
                ],
            }
        )

    # -- orders --------------------------------------------------------------------------------
    def _links(self, order: Obj) -> list[Obj]:
        base, oid = self.base(), order["id"]
        links = [{"href": f"{base}/v2/checkout/orders/{oid}", "rel": "self", "method": "GET"}]
        if order["status"] in ("CREATED", "PAYER_ACTION_REQUIRED"):
            rel = "payer-action" if order["status"] == "PAYER_ACTION_REQUIRED" else "approve"
            links.append(
                {"href": f"{base}/_hosted/checkoutnow?token={oid}", "rel": rel, "method": "GET"}
            )
        if order["status"] != "COMPLETED":
            links += [
                {"href": f"{base}/v2/checkout/orders/{oid}", "rel": "update", "method": "PATCH"},
                {
                    "href": f"{base}/v2/checkout/orders/{oid}/capture",
                    "rel": "capture",
                    "method": "POST",
                },
            ]
        return links

    def show(self, order: Obj) -> Obj:
        """The order as PayPal represents it (links recomputed for its status)."""
        shown = {k: v for k, v in order.items() if not k.startswith("_")}
        shown["links"] = self._links(order)
        return shown

    def create_order(self, body: Mapping[str, Any]) -> Obj:
        """``POST /v2/checkout/orders``; a ``vault_id`` payment source is captured at once."""
        if body.get("intent") != "CAPTURE":
            raise PayPalError(
                422,
                "UNSUPPORTED_INTENT",
                "This sandbox account only supports intent CAPTURE.",
                field="/intent",
            )
        units = body.get("purchase_units")
        if not isinstance(units, list) or len(units) != 1:
            raise PayPalError(
                400,
                "INVALID_ARRAY_MAX_ITEMS",
                "Send exactly one purchase unit.",
                field="/purchase_units",
            )
        amount = amount_param(
            units[0].get("amount"), "/purchase_units/@reference_id=='default'/amount"
        )
        unit = {
            k: v
            for k, v in units[0].items()
            if k in ("reference_id", "description", "custom_id", "invoice_id")
        }
        unit.setdefault("reference_id", "default")
        unit.update(
            amount=money_obj(amount),
            payee={"email_address": "sb-merchant@business.example.com", "merchant_id": MERCHANT_ID},
        )
        order: Obj = {
            "id": self.pid(),
            "intent": "CAPTURE",
            "status": "CREATED",
            "purchase_units": [unit],
            "create_time": self.now(),
            "update_time": self.now(),
        }
        source = body.get("payment_source") or {}
        vault_id = next(
            (
                d.get("vault_id")
                for d in source.values()
                if isinstance(d, Mapping) and d.get("vault_id")
            ),
            None,
        )
        if vault_id:
            token = self.get("payment_tokens", str(vault_id), "/payment_source/card/vault_id")
            card = dict(token["payment_source"]["card"])
            card["attributes"] = {
                "vault": {
                    "id": token["id"],
                    "status": "VAULTED",
                    "customer": copy.deepcopy(token["customer"]),
                }
            }
            order.update(status="APPROVED", payment_source={"card": card}, _name=token["_name"])
            self.store.put("orders", order)
            return self.capture(order["id"])
        experience = (source.get("paypal") or {}).get("experience_context")
        if experience:
            order["status"] = "PAYER_ACTION_REQUIRED"
            order["_return"] = (experience.get("return_url"), experience.get("cancel_url"))
            order["payment_source"] = {"paypal": {}}
        self.store.put("orders", order)
        return self.show(order)

    def approve_order(self, order_id: str, funding: str = "card", name: str = "") -> Obj:
        """The payer approves on PayPal's page with a card (``name`` on it) or their account."""
        order = self.get("orders", order_id, "order_id")
        if order["status"] not in ("CREATED", "PAYER_ACTION_REQUIRED"):
            raise PayPalError(422, "ORDER_ALREADY_APPROVED", f"The order is {order['status']}.")
        if funding == "paypal":
            order["payment_source"] = {
                "paypal": {
                    **SANDBOX_BUYER,
                    "account_status": "VERIFIED",
                    "address": {"country_code": "MX"},
                }
            }
            order["payer"] = {
                "name": SANDBOX_BUYER["name"],
                "email_address": SANDBOX_BUYER["email_address"],
                "payer_id": SANDBOX_BUYER["account_id"],
                "address": {"country_code": "MX"},
            }
        else:
            order["payment_source"] = {"card": {"name": name or "Comprador Sandbox", **_TEST_CARD}}
        order.update(status="APPROVED", update_time=self.now(), _name=name)
        self.event(
            "CHECKOUT.ORDER.APPROVED",
            "checkout-order",
            self.show(order),
            f"An order has been approved by buyer {order['id']}",
        )
        return self.show(order)

    def capture(self, order_id: str, mock_codes: str | None = None) -> Obj:
        """``POST /v2/checkout/orders/{id}/capture``; card rejection triggers decline here."""
        order = self.get("orders", order_id, "order_id")
        if order["status"] == "COMPLETED":
            raise PayPalError(
                422,
                "ORDER_ALREADY_CAPTURED",
                "Order already captured.If 'intent=CAPTURE' only one capture per order is allowed.",
            )
        if order["status"] != "APPROVED":
            raise PayPalError(
                422,
                "ORDER_NOT_APPROVED",
                "Payer has not yet approved the Order for payment. Please redirect "
                "the payer to the 'rel':'approve' url returned as part of the "
                "HATEOAS links within the Create Order call or provide a valid "
                "payment_source in the request.",
            )
        if mock_codes == "INSTRUMENT_DECLINED":
            raise PayPalError(
                422,
                "INSTRUMENT_DECLINED",
                "The instrument presented  was either declined by the processor "
                "or bank, or it can't be used for this payment.",
            )
        unit = order["purchase_units"][0]
        amount = parse_amount(unit["amount"]["value"])
        code = REJECTION_TRIGGERS.get(order.get("_name") or "")
        capture: Obj = {
            "id": self.pid(),
            "status": "DECLINED" if code else "COMPLETED",
            "amount": money_obj(amount),
            "final_capture": True,
            "seller_protection": {
                "status": "ELIGIBLE",
                "dispute_categories": ["ITEM_NOT_RECEIVED", "UNAUTHORIZED_TRANSACTION"],
            },
            "custom_id": unit.get("custom_id"),
            "create_time": self.now(),
            "update_time": self.now(),
        }
        if "card" in order["payment_source"]:
            capture["processor_response"] = (
                {"avs_code": "G", "cvv_code": "P", "response_code": code}
                if code
                else {"avs_code": "A", "cvv_code": "M", "response_code": "0000"}
            )
        if not code:
            fee = paypal_fee(amount)
            capture["seller_receivable_breakdown"] = {
                "gross_amount": money_obj(amount),
                "paypal_fee": money_obj(fee),
                "net_amount": money_obj(amount - fee),
            }
        base = self.base()
        capture["links"] = [
            {
                "href": f"{base}/v2/payments/captures/{capture['id']}",
                "rel": "self",
                "method": "GET",
            },
            {
                "href": f"{base}/v2/payments/captures/{capture['id']}/refund",
                "rel": "refund",
                "method": "POST",
            },
            {"href": f"{base}/v2/checkout/orders/{order['id']}", "rel": "up", "method": "GET"},
        ]
        unit["payments"] = {"captures": [capture]}
        order.update(status="COMPLETED", update_time=self.now())
        self.store.put("captures", {**capture, "_order": order["id"]})
        resource = self.capture_resource(capture["id"])
        if code:
            self.event(
                "PAYMENT.CAPTURE.DECLINED",
                "capture",
                resource,
                f"Payment declined for MXN {amount}",
            )
        else:
            self._line(
                "T0006", amount, fee, capture["id"], unit.get("custom_id"), ("ODR", order["id"])
            )
            self.event(
                "PAYMENT.CAPTURE.COMPLETED",
                "capture",
                resource,
                f"Payment completed for MXN {amount}",
            )
        return self.show(order)

    def capture_resource(self, capture_id: str) -> Obj:
        """``GET /v2/payments/captures/{id}``: the capture with its order id."""
        stored = self.get("captures", capture_id, "capture_id")
        order = self.get("orders", stored["_order"], "order_id")
        current = order["purchase_units"][0]["payments"]["captures"][0]
        return {**current, "supplementary_data": {"related_ids": {"order_id": order["id"]}}}

    # -- vault ---------------------------------------------------------------------------------
    def create_setup_token(self, body: Mapping[str, Any]) -> Obj:
        """``POST /v3/vault/setup-tokens`` for a card the payer will add on PayPal's page."""
        if "card" not in (body.get("payment_source") or {}):
            raise PayPalError(
                422,
                "PAYMENT_SOURCE_NOT_SUPPORTED",
                "This sandbox vaults cards only.",
                field="/payment_source",
            )
        customer = (body.get("customer") or {}).get("id") or self.ids("", 10)
        token = {
            "id": self.pid(),
            "customer": {"id": customer},
            "status": "PAYER_ACTION_REQUIRED",
            "payment_source": {"card": {}},
        }
        token["links"] = [
            {
                "href": f"{self.base()}/_hosted/checkoutnow?setup_token={token['id']}",
                "rel": "approve",
                "method": "GET",
            },
            {"href": f"{self.base()}/v3/vault/payment-tokens", "rel": "confirm", "method": "POST"},
        ]
        return self.store.put("setup_tokens", token)

    def approve_setup_token(self, token_id: str, name: str = "") -> Obj:
        """The payer enters their card for a setup token."""
        token = self.get("setup_tokens", token_id, "setup_token_id")
        if token["status"] != "PAYER_ACTION_REQUIRED":
            raise PayPalError(422, "SETUP_TOKEN_ALREADY_APPROVED", "Already approved.")
        token.update(
            status="APPROVED",
            _name=name,
            payment_source={"card": {"name": name or "Comprador Sandbox", **_TEST_CARD}},
        )
        return token

    def create_payment_token(self, body: Mapping[str, Any]) -> Obj:
        """``POST /v3/vault/payment-tokens`` from an approved setup token."""
        ref = (body.get("payment_source") or {}).get("token") or {}
        if ref.get("type") != "SETUP_TOKEN" or not ref.get("id"):
            raise PayPalError(
                400,
                "MISSING_REQUIRED_PARAMETER",
                "A setup token is required.",
                field="/payment_source/token",
            )
        setup = self.get("setup_tokens", str(ref["id"]), "/payment_source/token/id")
        if setup["status"] != "APPROVED":
            raise PayPalError(
                422, "SETUP_TOKEN_NOT_APPROVED", "The payer has not approved the setup token."
            )
        card = {k: v for k, v in setup["payment_source"]["card"].items() if k != "type"}
        token = {
            "id": self.ids("", 8).lower(),
            "customer": copy.deepcopy(setup["customer"]),
            "payment_source": {"card": card},
            "_name": setup.get("_name", ""),
            "links": [],
        }
        token["links"] = [
            {
                "href": f"{self.base()}/v3/vault/payment-tokens/{token['id']}",
                "rel": "self",
                "method": "GET",
            }
        ]
        setup["status"] = "VAULTED"
        self.store.put("payment_tokens", token)
        return self.show_token(token)

    @staticmethod
    def show_token(token: Obj) -> Obj:
        """A payment token without simulator bookkeeping."""
        return {k: v for k, v in token.items() if not k.startswith("_")}
