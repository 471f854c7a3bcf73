"""Money after the payment in the Stripe simulator: refunds, disputes, payouts, lists, expand."""

from __future__ import annotations

import copy
from collections.abc import Mapping
from typing import Any

from puente_sandbox.lifecycle import LifecycleRefusal, Phase, disputed_amount, refund_step
from puente_sandbox.stripe_objects import StripeError, balance_transaction, int_param
from puente_sandbox.stripe_state import Obj, StripeState

__all__ = [
    "PREFIX_KINDS",
    "create_dispute",
    "create_payout",
    "create_refund",
    "expand",
    "list_objects",
]

REFUND_REASONS = ("duplicate", "fraudulent", "requested_by_customer")
# Id prefix -> store collection, for ``expand``.
PREFIX_KINDS = {
    "pi_": "payment_intents",
    "ch_": "charges",
    "pm_": "payment_methods",
    "cus_": "customers",
    "txn_": "balance_transactions",
    "re_": "refunds",
    "po_": "payouts",
    "dp_": "disputes",
}


def _pesos(centavos: int) -> str:
    return f"${centavos / 100:,.2f}"  # display only, in an error message as Stripe words it


def charge_phase(ch: Obj) -> Phase | None:
    """Stripe's dialect: a charge stays ``succeeded``; its refunds say how far it went."""
    if ch.get("disputed"):
        return Phase.DISPUTED
    if ch["status"] != "succeeded":
        return Phase.FAILED if ch["status"] == "failed" else Phase.REQUIRES_ACTION
    if ch["amount_refunded"] == 0:
        return Phase.SUCCEEDED
    refunded = ch["amount_refunded"] >= ch["amount"]
    return Phase.REFUNDED if refunded else Phase.PARTIALLY_REFUNDED


def _refund_refusal(refusal: LifecycleRefusal, ch: Obj, amount: int | None) -> StripeError:
    """Stripe's words for a refund the lifecycle refuses."""
    if refusal.phase is Phase.DISPUTED:
        return StripeError(
            400,
            f"Charge {ch['id']} has been charged back; cannot issue a refund.",
            code="charge_disputed",
        )
    if refusal.reason == "fully_refunded":
        return StripeError(
            400, f"Charge {ch['id']} has already been refunded.", code="charge_already_refunded"
        )
    if refusal.reason == "not_positive":
        return StripeError(400, "Refund amount must be positive.", param="amount")
    if refusal.reason == "exceeds_remaining":
        return StripeError(
            400,
            f"Refund amount ({_pesos(amount or 0)}) is greater than unrefunded "
            f"amount on charge ({_pesos(int(refusal.remaining or 0))})",
            param="amount",
        )
    return StripeError(
        400, f"Charge {ch['id']} has not succeeded; it cannot be refunded.", param="charge"
    )


def create_refund(state: StripeState, params: Mapping[str, Any]) -> Obj:
    """``POST /v1/refunds`` by ``payment_intent`` or ``charge``; full when ``amount`` is absent."""
    reason = params.get("reason") or None
    if reason is not None and reason not in REFUND_REASONS:
        raise StripeError(
            400,
            f"Invalid reason: must be one of {', '.join(REFUND_REASONS)}",
            code="parameter_invalid_string",
            param="reason",
        )
    if params.get("payment_intent"):
        pi = state.get(
            "payment_intents", params["payment_intent"], "payment_intent", "payment_intent"
        )
        if pi["status"] != "succeeded" or not pi.get("latest_charge"):
            raise StripeError(
                400,
                f"This PaymentIntent ({pi['id']}) does not have a successful charge to refund.",
                param="payment_intent",
            )
        ch = state.get("charges", pi["latest_charge"], "charge")
    elif params.get("charge"):
        ch = state.get("charges", params["charge"], "charge", "charge")
    else:
        raise StripeError(
            400,
            "One of the following params should be provided for this "
            "request: payment_intent or charge.",
        )
    try:
        step = refund_step(
            charge_phase(ch), ch["amount"], ch["amount_refunded"], int_param(params, "amount")
        )
    except LifecycleRefusal as refusal:
        raise _refund_refusal(refusal, ch, int_param(params, "amount")) from None
    amount = step.amount
    re_id = state.ids("re_")
    txn = balance_transaction(
        state.ids("txn_"),
        amount=-amount,
        created=state.now(),
        source=re_id,
        type="refund",
        category="refund",
        description="REFUND FOR CHARGE",
        available_after_days=0,
    )
    state.store.put("balance_transactions", txn)
    refund = {
        "id": re_id,
        "object": "refund",
        "amount": amount,
        "balance_transaction": txn["id"],
        "charge": ch["id"],
        "created": state.now(),
        "currency": "mxn",
        "destination_details": None,
        "metadata": dict(params.get("metadata") or {}),
        "payment_intent": ch["payment_intent"],
        "reason": reason,
        "receipt_number": None,
        "source_transfer_reversal": None,
        "status": "succeeded",
        "transfer_reversal": None,
    }
    state.store.put("refunds", refund)
    ch["amount_refunded"] = step.refunded
    ch["refunded"] = step.phase is Phase.REFUNDED
    state.event("charge.refunded", ch)
    state.event("refund.created", refund)
    return refund


def create_dispute(state: StripeState, pi: Obj) -> Obj:
    """The cardholder disputes a succeeded card payment (a chargeback)."""
    if pi["status"] != "succeeded" or not pi.get("latest_charge"):
        raise StripeError(400, "Only a succeeded payment can be disputed.")
    ch = state.get("charges", pi["latest_charge"], "charge")
    if ch["disputed"]:
        raise StripeError(400, f"Charge {ch['id']} is already disputed.")
    try:
        disputed_amount(charge_phase(ch), ch["amount"], ch["amount_refunded"])
    except LifecycleRefusal:
        raise StripeError(400, "Only a succeeded payment can be disputed.") from None
    dp_id = state.ids("dp_")
    txn = balance_transaction(
        state.ids("txn_"),
        amount=-ch["amount"],
        created=state.now(),
        source=dp_id,
        type="adjustment",
        category="dispute",
        description=f"Chargeback withdrawal for {ch['id']}",
        available_after_days=0,
    )
    state.store.put("balance_transactions", txn)
    dispute = {
        "id": dp_id,
        "object": "dispute",
        "amount": ch["amount"],
        "balance_transactions": [txn],
        "charge": ch["id"],
        "created": state.now(),
        "currency": "mxn",
        "evidence": {},
        "is_charge_refundable": False,
        "livemode": False,
        "metadata": {},
        "payment_intent": pi["id"],
        "reason": "fraudulent",
        "status": "needs_response",
    }
    state.store.put("disputes", dispute)
    ch["disputed"] = True
    state.event("charge.dispute.created", dispute)
    state.event("charge.dispute.funds_withdrawn", dispute)
    return dispute


def create_payout(state: StripeState) -> Obj:
    """Pay out everything not yet paid out (Stripe's automatic daily payout, on demand)."""
    lines = [
        t
        for t in state.store.all("balance_transactions")
        if t["id"] not in state.payout_of and t["type"] != "payout"
    ]
    total = sum(t["net"] for t in lines)
    if total <= 0:
        raise StripeError(
            400, "There is no positive balance to pay out.", code="balance_insufficient"
        )
    po_id = state.ids("po_")
    now = state.now()
    txn = balance_transaction(
        state.ids("txn_"),
        amount=-total,
        created=now,
        source=po_id,
        type="payout",
        category="payout",
        description="STRIPE PAYOUT",
        available_after_days=0,
    )
    txn["status"] = "available"
    state.store.put("balance_transactions", txn)
    for line in lines:
        line["status"] = "available"
        state.payout_of[line["id"]] = po_id
    payout = {
        "id": po_id,
        "object": "payout",
        "amount": total,
        "arrival_date": now + 86400,
        "automatic": True,
        "balance_transaction": txn["id"],
        "created": now,
        "currency": "mxn",
        "description": "STRIPE PAYOUT",
        "destination": "ba_sandbox_clabe",
        "failure_balance_transaction": None,
        "failure_code": None,
        "failure_message": None,
        "livemode": False,
        "metadata": {},
        "method": "standard",
        "reconciliation_status": "completed",
        "source_type": "card",
        "statement_descriptor": None,
        "status": "paid",
        "type": "bank_account",
    }
    state.store.put("payouts", payout)
    state.event("payout.created", payout)
    state.event("payout.paid", payout)
    return payout


def _created_matches(created: int, condition: Any) -> bool:
    if isinstance(condition, Mapping):
        checks = {
            "gt": created.__gt__,
            "gte": created.__ge__,
            "lt": created.__lt__,
            "lte": created.__le__,
        }
        return all(checks[op](int(v)) for op, v in condition.items() if op in checks)
    return created == int(condition)


def list_objects(
    state: StripeState,
    kind: str,
    params: Mapping[str, Any],
    url: str,
    filters: Mapping[str, str] | None = None,
) -> Obj:
    """A Stripe list: newest first, ``created`` ranges, ``limit``/``starting_after`` paging."""
    items = list(reversed(state.store.all(kind)))
    try:
        if params.get("created") not in (None, ""):
            items = [i for i in items if _created_matches(i["created"], params["created"])]
    except ValueError:
        raise StripeError(400, "Invalid timestamp for created.", param="created") from None
    for param, field in (filters or {}).items():
        if params.get(param):
            items = [i for i in items if i.get(field) == params[param]]
    if kind == "balance_transactions" and params.get("payout"):
        items = [i for i in items if state.payout_of.get(i["id"]) == params["payout"]]
    limit = int_param(params, "limit") or 10
    if not 1 <= limit <= 100:
        raise StripeError(400, "Invalid limit: must be between 1 and 100", param="limit")
    ids = [i["id"] for i in items]
    for cursor, after in (("starting_after", True), ("ending_before", False)):
        if params.get(cursor):
            if params[cursor] not in ids:
                raise StripeError.no_such("object", params[cursor], cursor)
            at = ids.index(params[cursor])
            items = items[at + 1 :] if after else items[max(0, at - limit) : at]
            break
    return {
        "object": "list",
        "data": [copy.deepcopy(i) for i in items[:limit]],
        "has_more": len(items) > limit,
        "url": url,
    }


def expand(state: StripeState, obj: Obj, paths: list[str]) -> Obj:
    """Replace ids by objects for each ``expand[]`` path (``data.`` for lists)."""
    obj = copy.deepcopy(obj)
    for path in paths:
        if obj.get("object") == "list" and path.startswith("data."):
            obj["data"] = [expand(state, item, [path[5:]]) for item in obj["data"]]
            continue
        head, _, rest = path.partition(".")
        value = obj.get(head)
        if isinstance(value, str):
            kind = next((k for p, k in PREFIX_KINDS.items() if value.startswith(p)), None)
            found = state.store.get(kind, value) if kind else None
            if found is None:
                raise StripeError(
                    400, f"This property cannot be expanded ({path}).", param="expand"
                )
            obj[head] = copy.deepcopy(found)
        if rest and isinstance(obj.get(head), dict):
            obj[head] = expand(state, obj[head], [rest])
    return obj
