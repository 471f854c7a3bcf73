"""Money after the charge in the Openpay simulator: refunds, chargebacks, payouts, lists."""

from __future__ import annotations

import copy
from collections.abc import Mapping
from datetime import datetime
from typing import Any

from puente.money import ZERO
from puente_sandbox import lifecycle
from puente_sandbox.openpay_objects import OPENPAY, OpenpayError
from puente_sandbox.openpay_state import Obj, OpenpayState, amount_param

__all__ = ["charge_back", "listing", "refund", "settle"]


def refund(
    state: OpenpayState, charge_id: str, params: Mapping[str, Any], customer_id: str | None
) -> Obj:
    """``POST /charges/{id}/refund``: card charges, whole or in part (``amount``)."""
    charge = state.get("charges", charge_id, "charge", customer_id)
    phase = OPENPAY.phase(charge["status"])
    try:
        lifecycle.check_refundable(phase if charge["method"] == "card" else None)
    except lifecycle.LifecycleRefusal:
        raise OpenpayError(409, 1013, f"The charge {charge_id} cannot be refunded") from None
    refunded = sum((r["amount"] for r in charge.get("refunds", [])), ZERO)
    given = params.get("amount")
    try:
        step = lifecycle.refund_step(
            phase, charge["amount"], refunded, None if given in (None, "") else amount_param(given)
        )
    except lifecycle.LifecycleRefusal as refusal:
        raise OpenpayError.invalid(
            f"The refund amount exceeds the available {refusal.remaining}"
        ) from None
    amount = step.amount
    refund = {
        "id": state.oid(),
        "amount": amount,
        "authorization": state.ids.digits(6),
        "method": "card",
        "operation_type": "out",
        "transaction_type": "refund",
        "status": "completed",
        "currency": "MXN",
        "creation_date": state.now(),
        "operation_date": state.now(),
        "description": params.get("description") or "Reembolso",
        "error_message": None,
        "order_id": None,
        "customer_id": charge.get("customer_id"),
    }
    charge.setdefault("refunds", []).append(refund)
    charge["refund"] = refund
    charge["status"] = OPENPAY.status(step.phase)
    state.event("charge.refunded", charge)
    return charge


def charge_back(state: OpenpayState, charge: Obj) -> Obj:
    """The cardholder disputes a completed card charge (admin helper)."""
    refunded = sum((r["amount"] for r in charge.get("refunds", [])), ZERO)
    try:
        phase = OPENPAY.phase(charge["status"]) if charge["method"] == "card" else None
        lifecycle.disputed_amount(phase, charge["amount"], refunded)
    except lifecycle.LifecycleRefusal:
        raise OpenpayError(409, 1013, "Only a completed card charge can be charged back") from None
    charge["status"] = OPENPAY.status(lifecycle.Phase.DISPUTED)
    state.event("chargeback.created", charge)
    return charge


def settle(state: OpenpayState) -> Obj:
    """Pay out every unsettled net amount to the merchant's bank (daily run, on demand)."""
    total = ZERO
    carried: list[Obj] = []  # each charge and refund this payout carries names it (payout_id)
    for charge in state.store.all("charges"):
        if charge["status"] in ("completed", "refunded") and charge["id"] not in state.settled:
            fee = charge["fee"]["amount"] + charge["fee"]["tax"]
            total += charge["amount"] - fee
            carried.append(charge)
        for refund in charge.get("refunds", []):
            if refund["id"] not in state.settled:
                total -= refund["amount"]
                carried.append(refund)
    if total <= ZERO:
        raise OpenpayError(412, 4001, "There are not enough funds to pay out")
    payout_id = state.oid()
    for line in carried:
        state.settled.add(line["id"])
        line["payout_id"] = payout_id
    payout = {
        "id": payout_id,
        "amount": total,
        "authorization": state.ids.digits(6),
        "method": "bank_account",
        "operation_type": "out",
        "transaction_type": "payout",
        "status": "completed",
        "currency": "MXN",
        "creation_date": state.now(),
        "operation_date": state.now(),
        "description": "Retiro automático",
        "error_message": None,
        "order_id": None,
        "bank_account": {
            "clabe": "646180XXXXXXXX4237",
            "bank_name": "STP",
            "holder_name": "Institución Puente Sandbox",
        },
    }
    state.store.put("payouts", payout)
    state.event("payout.created", payout)
    state.event("payout.succeeded", payout)
    return payout


def listing(
    state: OpenpayState, kind: str, params: Mapping[str, str], filters: Mapping[str, Any]
) -> list:
    """An Openpay list: newest first, ``creation[gte|lte]`` days, ``offset``/``limit``."""
    items = [
        i
        for i in reversed(state.store.all(kind))
        if all(i.get(k) == v for k, v in filters.items() if v is not None)
    ]
    for param in ("order_id", "status", "external_id"):
        if params.get(param):
            items = [i for i in items if i.get(param) == params[param]]
    for param, keep in (
        ("creation", str.__eq__),
        ("creation[gte]", str.__ge__),
        ("creation[lte]", str.__le__),
    ):
        if params.get(param):
            day = params[param]
            try:
                datetime.strptime(day, "%Y-%m-%d")
            except ValueError:
                raise OpenpayError(400, 1001, f"{param} must be yyyy-mm-dd") from None
            items = [i for i in items if keep(i["creation_date"][:10], day)]
    try:
        offset, limit = int(params.get("offset") or 0), int(params.get("limit") or 10)
    except ValueError:
        raise OpenpayError(400, 1001, "offset and limit must be integers") from None
    if offset < 0 or not 1 <= limit <= 100:
        raise OpenpayError(400, 1001, "limit must be between 1 and 100")
    return [copy.deepcopy(i) for i in items[offset : offset + limit]]
