"""The Stripe simulator's state machine: customers, PaymentIntents, cash balance, events.

No HTTP here: methods take decoded parameters, change the store, emit events and return the
object Stripe would return, or raise ``StripeError``. Money flows (refunds, disputes,
payouts, lists) live in ``stripe_money.py``; this module is what creates payments.
"""

from __future__ import annotations

import copy
from collections.abc import Mapping
from typing import Any

from puente_sandbox.core import Simulator, SimulatorState
from puente_sandbox.stripe_3ds import ask_for_authentication
from puente_sandbox.stripe_checkout import redeem_token
from puente_sandbox.stripe_funding import confirm_bank_transfer, confirm_oxxo
from puente_sandbox.stripe_objects import (
    API_VERSION,
    MAGIC_PAYMENT_METHODS,
    MIN_AMOUNT,
    TEST_CARDS,
    TEST_TOKENS,
    StripeError,
    balance_transaction,
    card_details,
    charge,
    customer_object,
    int_param,
    payment_intent,
    payment_method_object,
)

__all__ = ["Obj", "StripeState"]

Obj = dict[str, Any]
CANCELABLE = (
    "requires_payment_method",
    "requires_capture",
    "requires_confirmation",
    "requires_action",
    "processing",
)


def _nested(prefix: str, name: str) -> str:
    """``card[token]`` under ``payment_method_data`` is ``payment_method_data[card][token]``."""
    if not prefix:
        return name
    head, sep, rest = name.partition("[")
    return f"{prefix}[{head}]" + (sep + rest if sep else "")


def _true(value: Any) -> bool:
    return str(value).lower() == "true"


class StripeState(SimulatorState):
    """Everything one simulated Stripe account holds."""

    def __init__(self, simulator: Simulator) -> None:
        super().__init__(simulator)
        self.cash: dict[str, int] = {}  # customer -> cash balance (centavos)
        self.clabes: dict[str, str] = {}  # customer -> virtual CLABE
        self.detached: set[str] = set()  # PaymentMethods detached: never usable again
        self.cards: dict[str, str] = {}  # payment method -> TEST_CARDS key
        self.payout_of: dict[str, str] = {}  # balance transaction -> payout
        self.request: Obj = {"id": None, "idempotency_key": None}
        self.return_urls: dict[str, str] = {}  # PaymentIntent -> where 3-D Secure returns
        # PaymentIntents whose OXXO voucher was issued and may still lapse, oldest first:
        # what expire_due looks at before every request (not every PaymentIntent ever made).
        self.vouchers: dict[str, None] = {}

    def now(self) -> int:
        """Stripe timestamps are whole unix seconds."""
        return int(self.clock())

    def event(self, event_type: str, obj: Obj) -> Obj:
        """Record an event and hand it to the webhook sender."""
        evt = {
            "id": self.ids("evt_"),
            "object": "event",
            "api_version": API_VERSION,
            "created": self.now(),
            "data": {"object": copy.deepcopy(obj)},
            "livemode": False,
            "pending_webhooks": 1,
            "request": dict(self.request),
            "type": event_type,
        }
        self.store.put("events", evt)
        self.emit(evt)
        return evt

    def get(self, kind: str, object_id: str, label: str, param: str | None = None) -> Obj:
        """An object or Stripe's 404."""
        obj = self.store.get(kind, object_id)
        if obj is None:
            raise StripeError.no_such(label, object_id, param)
        return obj

    # -- customers and payment methods --------------------------------------------------------
    def create_customer(self, params: Mapping[str, Any]) -> Obj:
        """``POST /v1/customers``."""
        customer = customer_object(
            self.ids("cus_", 14), self.ids("", 8).upper(), self.now(), params
        )
        self.store.put("customers", customer)
        self.event("customer.created", customer)
        return customer

    def _payment_method(self, pm_type: str, details: Obj, billing: Mapping[str, Any]) -> Obj:
        pm = payment_method_object(self.ids("pm_"), pm_type, details, billing, self.now())
        return self.store.put("payment_methods", pm)

    def _card_method(self, card_name: str, billing: Mapping[str, Any]) -> Obj:
        card = TEST_CARDS[card_name]
        details = card_details(card, self.ids("", 16))
        pm = self._payment_method("card", details, billing)
        self.cards[pm["id"]] = card_name
        return pm

    def create_payment_method(self, params: Mapping[str, Any], prefix: str = "") -> Obj:
        """``POST /v1/payment_methods`` (and ``payment_method_data`` on a PaymentIntent)."""
        pm_type = params.get("type")
        if not pm_type:
            raise StripeError.missing(_nested(prefix, "type"))
        billing = params.get("billing_details") or {}
        if pm_type == "card":
            token = (params.get("card") or {}).get("token")
            if not token:
                raise StripeError.missing(_nested(prefix, "card[token]"))
            param = _nested(prefix, "card[token]")
            name = TEST_TOKENS.get(token) or redeem_token(self, token, param)  # card form's
            if name is None:
                raise StripeError.no_such("token", token, param)
            return self._card_method(name, billing)
        if pm_type == "oxxo":
            for field in ("name", "email"):
                if not billing.get(field):
                    raise StripeError.missing(_nested(prefix, f"billing_details[{field}]"))
            return self._payment_method("oxxo", {}, billing)
        if pm_type == "customer_balance":
            return self._payment_method("customer_balance", {}, billing)
        raise StripeError(
            400,
            f"Invalid {_nested(prefix, 'type')}: must be one of card, customer_balance or oxxo",
            code="parameter_invalid_string",
            param=_nested(prefix, "type"),
        )

    def resolve_payment_method(self, value: str, param: str = "payment_method") -> Obj:
        """A stored PaymentMethod, or a fresh one for a magic test id like ``pm_card_visa``."""
        if value in MAGIC_PAYMENT_METHODS:
            return self._card_method(MAGIC_PAYMENT_METHODS[value], {})
        return self.get("payment_methods", value, "PaymentMethod", param)

    def refuse_detached(self, pm: Obj) -> None:
        """Stripe refuses a PaymentMethod once it was detached from its Customer."""
        if pm["id"] in self.detached:
            raise StripeError(
                400,
                "The provided PaymentMethod was previously used without being attached to a "
                "Customer or was detached from a Customer, and may not be used again.",
                param="payment_method",
            )

    def attach(self, pm_id: str, params: Mapping[str, Any]) -> Obj:
        """``POST /v1/payment_methods/{pm}/attach``."""
        customer_id = params.get("customer") or ""
        if not customer_id:
            raise StripeError.missing("customer")
        self.get("customers", customer_id, "customer", "customer")
        pm = self.resolve_payment_method(pm_id, "payment_method")
        self.refuse_detached(pm)
        if pm.get("customer") and pm["customer"] != customer_id:
            raise StripeError(
                400,
                "The payment method you provided has already been attached to a customer.",
                code="payment_method_unexpected_state",
            )
        pm["customer"] = customer_id
        self.event("payment_method.attached", pm)
        return pm

    # -- payment intents ----------------------------------------------------------------------
    def create_payment_intent(self, params: Mapping[str, Any], public_url: str) -> Obj:
        """``POST /v1/payment_intents`` (confirming when ``confirm=true``)."""
        amount = int_param(params, "amount", required=True)
        assert amount is not None
        currency = params.get("currency")
        if not currency:
            raise StripeError.missing("currency")
        if str(currency).lower() != "mxn":
            raise StripeError(
                400,
                f"This sandbox account only supports mxn, not {currency}.",
                code="parameter_invalid_string",
                param="currency",
            )
        if amount < MIN_AMOUNT:
            raise StripeError(
                400, "Amount must be at least $10.00 mxn", code="amount_too_small", param="amount"
            )
        types = params.get("payment_method_types") or ["card"]
        if not isinstance(types, list) or not all(
            t in ("card", "oxxo", "customer_balance") for t in types
        ):
            raise StripeError(
                400,
                f"The payment method type {types!r} is invalid.",
                code="parameter_invalid_string",
                param="payment_method_types",
            )
        customer_id = params.get("customer") or None
        if customer_id:
            self.get("customers", customer_id, "customer", "customer")
        if "customer_balance" in types and not customer_id:
            raise StripeError(
                400,
                "A customer is required to use the customer_balance payment method.",
                param="customer",
            )
        pm = None
        if params.get("payment_method"):
            pm = self.resolve_payment_method(params["payment_method"])
        elif params.get("payment_method_data"):
            pm = self.create_payment_method(params["payment_method_data"], "payment_method_data")
        if pm is not None:
            self.refuse_detached(pm)
            if pm["type"] not in types:
                raise StripeError(
                    400,
                    f"The PaymentMethod provided ({pm['type']}) is not allowed "
                    "for this PaymentIntent.",
                    param="payment_method",
                )
            if pm.get("customer") and customer_id and pm["customer"] != customer_id:
                raise StripeError(
                    400,
                    "The provided PaymentMethod belongs to a different Customer.",
                    param="payment_method",
                )
        options = {t: {} for t in types}
        options.update(copy.deepcopy(params.get("payment_method_options") or {}))
        pi = payment_intent(
            self.ids("pi_"),
            self.ids("", 24),
            amount=amount,
            created=self.now(),
            customer=customer_id,
            description=params.get("description"),
            metadata=dict(params.get("metadata") or {}),
            types=list(types),
            options=options,
        )
        if pm is not None:
            pi["payment_method"] = pm["id"]
            pi["status"] = "requires_confirmation"
        self.store.put("payment_intents", pi)
        self.event("payment_intent.created", pi)
        if params.get("return_url"):
            self.return_urls[pi["id"]] = str(params["return_url"])
        if _true(params.get("confirm")):
            return self.confirm(pi["id"], {}, public_url)
        return pi

    def confirm(self, pi_id: str, params: Mapping[str, Any], public_url: str) -> Obj:
        """``POST /v1/payment_intents/{id}/confirm``."""
        pi = self.get("payment_intents", pi_id, "payment_intent", "intent")
        if params.get("payment_method"):
            pi["payment_method"] = self.resolve_payment_method(params["payment_method"])["id"]
        if pi["status"] not in ("requires_payment_method", "requires_confirmation"):
            raise StripeError(
                400,
                f"This PaymentIntent's status is {pi['status']}; it cannot be confirmed.",
                code="payment_intent_unexpected_state",
            )
        if not pi["payment_method"]:
            raise StripeError(
                400,
                "You cannot confirm this PaymentIntent because it's missing a payment method.",
                code="payment_intent_unexpected_state",
            )
        if params.get("return_url"):
            self.return_urls[pi["id"]] = str(params["return_url"])
        pm = self.get("payment_methods", pi["payment_method"], "PaymentMethod")
        if pm["type"] == "card":
            self._confirm_card(pi, pm, public_url)
        elif pm["type"] == "oxxo":
            confirm_oxxo(self, pi, public_url)
        else:
            confirm_bank_transfer(self, pi, public_url)
        return pi

    def _confirm_card(self, pi: Obj, pm: Obj, public_url: str) -> None:
        card = TEST_CARDS[self.cards.get(pm["id"], "visa")]
        if card.three_d_secure:
            ask_for_authentication(self, pi, public_url)
            return
        if card.decline is None:
            self.succeed(pi, pm)
            return
        code, decline_code, message = card.decline
        ch = charge(
            self.ids("ch_"),
            pi,
            pm,
            created=self.now(),
            balance_transaction=None,
            decline=card.decline,
        )
        self.store.put("charges", ch)
        error = {
            "charge": ch["id"],
            "code": code,
            "decline_code": decline_code,
            "doc_url": "https://stripe.com/docs/error-codes/" + code.replace("_", "-"),
            "message": message,
            "payment_method": copy.deepcopy(pm),
            "type": "card_error",
        }
        pi.update(
            status="requires_payment_method",
            last_payment_error=error,
            latest_charge=ch["id"],
            payment_method=None,
        )
        self.event("charge.failed", ch)
        self.event("payment_intent.payment_failed", pi)
        raise StripeError(
            402,
            message,
            type="card_error",
            code=code,
            decline_code=decline_code,
            charge=ch["id"],
            payment_intent=copy.deepcopy(pi),
            payment_method=copy.deepcopy(pm),
        )

    def succeed(self, pi: Obj, pm: Obj) -> None:
        """Capture the whole amount: charge, balance line, events."""
        ch_id = self.ids("ch_")
        category = "charge" if pm["type"] == "card" else "payment"
        txn = balance_transaction(
            self.ids("txn_"),
            amount=pi["amount"],
            created=self.now(),
            source=ch_id,
            type=category,
            category="charge",
            description=pi.get("description"),
            with_fee=True,
        )
        self.store.put("balance_transactions", txn)
        ch = charge(ch_id, pi, pm, created=self.now(), balance_transaction=txn["id"])
        if pm["type"] == "oxxo" and pi.get("next_action"):
            ch["payment_method_details"]["oxxo"] = {
                "number": pi["next_action"]["oxxo_display_details"]["number"]
            }
        self.store.put("charges", ch)
        pi.update(
            status="succeeded",
            amount_received=pi["amount"],
            latest_charge=ch_id,
            next_action=None,
            last_payment_error=None,
        )
        self.event("charge.succeeded", ch)
        self.event("payment_intent.succeeded", pi)

    def cancel(self, pi_id: str, params: Mapping[str, Any]) -> Obj:
        """``POST /v1/payment_intents/{id}/cancel``."""
        pi = self.get("payment_intents", pi_id, "payment_intent", "intent")
        if pi["status"] not in CANCELABLE:
            raise StripeError(
                400,
                f"You cannot cancel this PaymentIntent because it has a "
                f"status of {pi['status']}. Only a PaymentIntent with one of the "
                f"following statuses may be canceled: {', '.join(CANCELABLE)}.",
                code="payment_intent_unexpected_state",
            )
        pi.update(
            status="canceled",
            canceled_at=self.now(),
            next_action=None,
            cancellation_reason=params.get("cancellation_reason") or "requested_by_customer",
        )
        self.event("payment_intent.canceled", pi)
        return pi
