"""SPEI and OXXO in the Stripe simulator: vouchers, virtual CLABEs, cash balance, expiry.

SPEI at Stripe Mexico is ``customer_balance`` with ``mx_bank_transfer``: each customer has a
virtual CLABE, transfers land in the customer's cash balance (``fund_cash_balance`` is the
test helper), and the balance funds open PaymentIntents, the one whose reference matches
first, then the oldest. Underpaying leaves the PaymentIntent ``partially_funded``; overpaying
leaves the surplus in the balance. OXXO vouchers lapse at 23:59 Mexico City time.
"""

from __future__ import annotations

import copy
from collections.abc import Mapping
from decimal import Decimal
from typing import TYPE_CHECKING, Any

from clabe import compute_control_digit

from puente_sandbox.spei_payers import payer_transfer
from puente_sandbox.stripe_objects import StripeError, int_param, oxxo_expiry

if TYPE_CHECKING:
    from puente_sandbox.stripe_state import StripeState

__all__ = [
    "apply_cash",
    "clabe_for",
    "confirm_bank_transfer",
    "confirm_oxxo",
    "expire",
    "expire_due",
    "fund_cash_balance",
    "pay_oxxo",
]

Obj = dict[str, Any]
EXPIRED_MESSAGE = (
    "The payment attempt for this PaymentIntent has expired. Create a new PaymentIntent or "
    "confirm this one again with a new payment method."
)


def confirm_oxxo(state: StripeState, pi: Obj, public_url: str) -> None:
    """Issue the OXXO voucher: a 32-digit number payable until 23:59 Mexico City time."""
    days = int_param(pi["payment_method_options"].get("oxxo") or {}, "expires_after_days")
    if days is not None and not 1 <= days <= 7:
        raise StripeError(
            400,
            "expires_after_days must be between 1 and 7.",
            param="payment_method_options[oxxo][expires_after_days]",
        )
    pi["next_action"] = {
        "type": "oxxo_display_details",
        "oxxo_display_details": {
            "expires_after": oxxo_expiry(state.clock(), days or 3),
            "hosted_voucher_url": f"{public_url}/_hosted/oxxo/{pi['id']}",
            "number": state.ids.digits(32),
        },
    }
    pi["status"] = "requires_action"
    state.vouchers[pi["id"]] = None
    state.event("payment_intent.requires_action", pi)


def clabe_for(state: StripeState, customer_id: str) -> str:
    """The customer's virtual CLABE at STP (bank 646), with a valid control digit."""
    if customer_id not in state.clabes:
        body = "646180" + state.ids.digits(11)
        state.clabes[customer_id] = body + compute_control_digit(body)
    return state.clabes[customer_id]


def confirm_bank_transfer(state: StripeState, pi: Obj, public_url: str) -> None:
    """Show the customer's CLABE; fund from any cash balance the customer already has."""
    options = pi["payment_method_options"].get("customer_balance") or {}
    if options.get("funding_type") != "bank_transfer":
        raise StripeError.missing("payment_method_options[customer_balance][funding_type]")
    if (options.get("bank_transfer") or {}).get("type") != "mx_bank_transfer":
        raise StripeError(
            400,
            "This sandbox only supports bank_transfer[type]=mx_bank_transfer.",
            param="payment_method_options[customer_balance][bank_transfer][type]",
        )
    clabe = clabe_for(state, pi["customer"])
    pi["next_action"] = {
        "type": "display_bank_transfer_instructions",
        "display_bank_transfer_instructions": {
            "amount_remaining": pi["amount"],
            "currency": "mxn",
            "financial_addresses": [
                {
                    "spei": {"bank_code": "646", "bank_name": "STP", "clabe": clabe},
                    "supported_networks": ["spei"],
                    "type": "spei",
                }
            ],
            "hosted_instructions_url": f"{public_url}/_hosted/spei/{pi['id']}",
            "reference": state.ids.digits(7),
            "type": "mx_bank_transfer",
        },
    }
    pi["status"] = "requires_action"
    state.event("payment_intent.requires_action", pi)
    apply_cash(state, pi["customer"])


def fund_cash_balance(state: StripeState, customer_id: str, params: Mapping[str, Any]) -> Obj:
    """``POST /v1/test_helpers/customers/{id}/fund_cash_balance``: a SPEI transfer lands."""
    state.get("customers", customer_id, "customer", "customer")
    amount = int_param(params, "amount", required=True)
    assert amount is not None
    if amount <= 0:
        raise StripeError(400, "Amount must be positive.", param="amount")
    if not params.get("currency"):
        raise StripeError.missing("currency")
    if str(params["currency"]).lower() != "mxn":
        raise StripeError(400, "Currency must be mxn for mx_bank_transfer.", param="currency")
    state.cash[customer_id] = state.cash.get(customer_id, 0) + amount
    customer = state.store.get("customers", customer_id) or {}
    sent = payer_transfer(
        state.store,
        state.ids,
        state.clock(),
        beneficiary_clabe=clabe_for(state, customer_id),
        amount=Decimal(amount) / 100,
        payer_name=str(customer.get("name") or ""),
        concepto=str(params.get("reference") or ""),
    )
    # The sender's details for MX are UNCONFIRMED at Stripe (documented: eu/gb/jp/us only);
    # the names follow puente.providers.spei_tracking.STRIPE_SPEI.
    txn = _cash_txn(
        state,
        customer_id,
        amount,
        "funded",
        {
            "funded": {
                "bank_transfer": {
                    "reference": params.get("reference"),
                    "type": "mx_bank_transfer",
                    "mx_bank_transfer": {
                        "sender_bank": "BBVA MEXICO",
                        "sender_bank_code": sent["emisor"],
                        "sender_clabe": sent["ordenante_cuenta"],
                        "sender_name": sent["ordenante_nombre"],
                        "tracking_key": sent["clave_rastreo"],
                    },
                }
            }
        },
    )
    apply_cash(state, customer_id, params.get("reference"))
    return txn


def _cash_txn(state: StripeState, customer_id: str, net: int, kind: str, extra: Obj) -> Obj:
    txn = {
        "id": state.ids("ccsbtxn_"),
        "object": "customer_cash_balance_transaction",
        "created": state.now(),
        "currency": "mxn",
        "customer": customer_id,
        "ending_balance": state.cash.get(customer_id, 0),
        "livemode": False,
        "net_amount": net,
        "type": kind,
        **extra,
    }
    state.store.put("cash_balance_transactions", txn)
    state.event("customer_cash_balance_transaction.created", txn)
    return txn


def apply_cash(state: StripeState, customer_id: str, reference: str | None = None) -> None:
    """Fund open SPEI PaymentIntents from the cash balance: matching reference, then oldest."""

    def waiting(pi: Obj) -> bool:
        action = pi.get("next_action") or {}
        return (
            pi["customer"] == customer_id
            and pi["status"] == "requires_action"
            and action.get("type") == "display_bank_transfer_instructions"
        )

    def ref(pi: Obj) -> Any:
        return pi["next_action"]["display_bank_transfer_instructions"]["reference"]

    intents = [pi for pi in state.store.all("payment_intents") if waiting(pi)]
    intents.sort(key=lambda pi: reference is None or ref(pi) != reference)
    for pi in intents:
        balance = state.cash.get(customer_id, 0)
        if balance <= 0:
            break
        instructions = pi["next_action"]["display_bank_transfer_instructions"]
        applied = min(balance, instructions["amount_remaining"])
        state.cash[customer_id] = balance - applied
        instructions["amount_remaining"] -= applied
        pi["amount_received"] += applied
        _cash_txn(
            state,
            customer_id,
            -applied,
            "applied_to_payment",
            {"applied_to_payment": {"payment_intent": pi["id"]}},
        )
        if instructions["amount_remaining"] == 0:
            pm = state.get("payment_methods", pi["payment_method"], "PaymentMethod")
            state.succeed(pi, pm)
        else:
            state.event("payment_intent.partially_funded", pi)


def pay_oxxo(state: StripeState, pi: Obj) -> None:
    """The payer pays the voucher at a store."""
    details = pi["next_action"]["oxxo_display_details"]
    if state.clock() > details["expires_after"]:
        raise StripeError(400, "This OXXO voucher has expired.")
    pm = state.get("payment_methods", pi["payment_method"], "PaymentMethod")
    state.succeed(pi, pm)


def expire(state: StripeState, pi: Obj) -> None:
    """An OXXO voucher lapses unpaid (Stripe's behaviour: back to requires_payment_method)."""
    pm = state.store.get("payment_methods", pi["payment_method"] or "")
    pi.update(
        status="requires_payment_method",
        next_action=None,
        payment_method=None,
        last_payment_error={
            "code": "payment_intent_payment_attempt_expired",
            "doc_url": "https://stripe.com/docs/error-codes/payment-intent-payment-attempt-expired",
            "message": EXPIRED_MESSAGE,
            "payment_method": copy.deepcopy(pm),
            "type": "invalid_request_error",
        },
    )
    state.event("payment_intent.payment_failed", pi)


def expire_due(state: StripeState) -> None:
    """Lapse every OXXO voucher past its time (runs before each request).

    Only PaymentIntents with a voucher issued are looked at; one that was paid, cancelled
    or has lapsed leaves the list, so a request costs the same after 100,000 card charges.
    """
    now = state.clock()
    for pi_id in list(state.vouchers):
        pi = state.store.get("payment_intents", pi_id)
        action = (pi or {}).get("next_action") or {}
        if action.get("type") != "oxxo_display_details":
            del state.vouchers[pi_id]
        elif now > action["oxxo_display_details"]["expires_after"]:
            del state.vouchers[pi_id]
            expire(state, pi)
