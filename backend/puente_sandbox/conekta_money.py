"""Money after the payment in the Conekta simulator: refunds, chargebacks, transfers, lists."""

from __future__ import annotations

import copy
from collections.abc import Mapping
from typing import Any

from puente_sandbox import lifecycle
from puente_sandbox.conekta_objects import CONEKTA, ConektaError, transaction_object
from puente_sandbox.conekta_state import ConektaState, Obj, int_param

__all__ = ["charge_back", "list_page", "refund", "settle"]

# The reasons Conekta's refund endpoint accepts (API reference, "Refund an order").
REFUND_REASONS = frozenset(
    {
        "requested_by_client",
        "cannot_be_fulfilled",
        "duplicated_transaction",
        "suspected_fraud",
        "other",
    }
)


def refund(state: ConektaState, order_id: str, params: Mapping[str, Any]) -> Obj:
    """``POST /orders/{id}/refunds``: card orders, full or partial, in centavos."""
    order = state.get("orders", order_id, "Order")
    charge = order["charges"]["data"][-1] if order["charges"]["data"] else {}
    phase = CONEKTA.phase(order["payment_status"])
    try:
        for current in (phase, CONEKTA.phase(charge.get("status", ""))):  # order and charge
            lifecycle.check_refundable(current)
    except lifecycle.LifecycleRefusal:
        raise ConektaError(
            428,
            "precondition_required_error",
            "conekta.errors.precondition_required.order.refund",
            f"La orden {order_id} no puede ser reembolsada ({order['payment_status']}).",
        ) from None
    if charge["payment_method"]["object"] != "card_payment":
        raise ConektaError.invalid(
            "payment_method", "Sólo los cargos con tarjeta se reembolsan por API."
        )
    reason = params.get("reason")
    if reason not in REFUND_REASONS:
        raise ConektaError.invalid("reason", "La razón del reembolso no es válida.")
    amount = int_param(params.get("amount"), "amount")
    try:
        step = lifecycle.refund_step(phase, order["amount"], order["amount_refunded"], amount)
    except lifecycle.LifecycleRefusal as refusal:
        raise ConektaError.invalid(
            "amount",
            f"El monto a reembolsar excede lo disponible ({refusal.remaining} centavos).",
            "conekta.errors.parameter_validation.refund.amount",
        ) from None
    refund = {
        "id": state.hex(),
        "object": "refund",
        "amount": -amount,  # Conekta reports refunds as negative amounts
        "auth_code": state.ids.digits(6),
        "created_at": state.now(),
    }
    charge["refunds"]["data"].append(refund)
    charge["refunds"]["total"] += 1
    order["amount_refunded"] = step.refunded
    status = CONEKTA.status(step.phase)
    charge["status"] = status
    order.update(payment_status=status, is_refundable=step.remaining > 0, updated_at=state.now())
    txn = transaction_object(state.hex(), -amount, 0, charge, "refund", state.now())
    state.store.put("transactions", txn)
    state.event("charge.refunded", charge)
    state.event(f"order.{status}", order)
    return order


def charge_back(state: ConektaState, order: Obj) -> Obj:
    """The cardholder disputes a paid card order (admin helper)."""
    try:
        net = lifecycle.disputed_amount(
            CONEKTA.phase(order["payment_status"]), order["amount"], order["amount_refunded"]
        )
    except lifecycle.LifecycleRefusal:
        raise ConektaError.invalid(
            "order", "Sólo una orden pagada puede tener contracargo."
        ) from None
    charge = order["charges"]["data"][-1]
    charge["status"] = CONEKTA.status(lifecycle.Phase.DISPUTED)
    order.update(payment_status=charge["status"], is_refundable=False, updated_at=state.now())
    txn = transaction_object(state.hex(), -net, 0, charge, "chargeback", state.now())
    state.store.put("transactions", txn)
    state.event("charge.chargeback.created", charge)
    state.event("order.charged_back", order)
    return order


def settle(state: ConektaState) -> Obj:
    """Transfer every unpaid-out balance line to the company's bank (daily run, on demand)."""
    lines = [t for t in state.store.all("transactions") if t["id"] not in state.paid_out]
    total = sum(t["net"] for t in lines)
    if total <= 0:
        raise ConektaError.invalid("balance", "No hay saldo positivo para transferir.")
    transfer = {
        "id": state.hex(),
        "object": "transfer",
        "amount": total,
        "created_at": state.now(),
        "currency": "MXN",
        "livemode": False,
        "destination": {
            "object": "bank_account",
            "account_holder": "Institución Puente Sandbox",
            "account_number": "************4237",
            "bank": "STP",
        },
        "statement_description": "Conekta " + state.ids.digits(6),
        "statement_reference": state.ids.digits(7),
        "status": "paid",
    }
    for line in lines:
        line["status"] = "paid_out"
        line["transfer_id"] = transfer["id"]
        state.paid_out.add(line["id"])
    state.store.put("transfers", transfer)
    return transfer


def list_page(
    state: ConektaState, kind: str, params: Mapping[str, str], url: str, filters: Mapping[str, str]
) -> Obj:
    """A Conekta list: newest first, ``limit`` with ``next``/``previous`` cursors."""
    items = list(reversed(state.store.all(kind)))
    for param, field in filters.items():
        if params.get(param):
            items = [i for i in items if str(i.get(field)) == params[param]]
    try:
        limit = int(params.get("limit") or 20)
    except ValueError:
        limit = 0
    if not 1 <= limit <= 250:
        raise ConektaError.invalid("limit", "El límite debe estar entre 1 y 250.")
    ids = [i["id"] for i in items]
    if params.get("next"):
        if params["next"] not in ids:
            raise ConektaError.not_found("cursor", params["next"])
        items = items[ids.index(params["next"]) + 1 :]
    elif params.get("previous"):
        if params["previous"] not in ids:
            raise ConektaError.not_found("cursor", params["previous"])
        at = ids.index(params["previous"])
        items = items[max(0, at - limit) : at]
    data = [copy.deepcopy(i) for i in items[:limit]]
    more = len(items) > limit
    return {
        "object": "list",
        "has_more": more,
        "total": len(ids),
        "data": data,
        "next_page_url": f"{url}?limit={limit}&next={data[-1]['id']}" if more else None,
        "previous_page_url": None,
    }
