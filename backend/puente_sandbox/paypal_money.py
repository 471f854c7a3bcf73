"""Money after the capture in the PayPal simulator: refunds, reporting, withdrawals."""

from __future__ import annotations

from collections.abc import Callable, Mapping
from decimal import Decimal
from typing import Any

from puente.money import ZERO, parse_amount
from puente_sandbox.lifecycle import Dialect, LifecycleRefusal, Phase, check_refundable, refund_step
from puente_sandbox.paypal_objects import PayPalError, amount_param, money_obj, report_time

__all__ = ["MERCHANT_ID", "PayPalMoney"]

Obj = dict[str, Any]
MERCHANT_ID = "7QKMZ8SJW4XLA"


# PayPal's dialect of the shared lifecycle (a capture's status).
PAYPAL = Dialect(
    {
        "PENDING": Phase.REQUIRES_ACTION,
        "COMPLETED": Phase.SUCCEEDED,
        "DECLINED": Phase.FAILED,
        "FAILED": Phase.FAILED,
        "PARTIALLY_REFUNDED": Phase.PARTIALLY_REFUNDED,
        "REFUNDED": Phase.REFUNDED,
    }
)


class PayPalMoney:
    """Refunds, the transaction report and withdrawals; mixed into ``PayPalState``."""

    clock: Callable[[], float]
    lines: list[Obj]
    withdrawn: set[str]
    store: Any
    # Provided by PayPalState:
    now: Callable[[], str]
    pid: Callable[[], str]
    base: Callable[[], str]
    get: Callable[[str, str, str], Obj]
    event: Callable[[str, str, Obj, str], None]

    # -- refunds -------------------------------------------------------------------------------
    def refund(self, capture_id: str, body: Mapping[str, Any]) -> Obj:
        """``POST /v2/payments/captures/{id}/refund``; no amount refunds what is left."""
        stored = self.get("captures", capture_id, "capture_id")
        order = self.get("orders", stored["_order"], "order_id")
        payments = order["purchase_units"][0]["payments"]
        capture = payments["captures"][0]
        phase = PAYPAL.phase(capture["status"])
        try:
            check_refundable(phase)
        except LifecycleRefusal as refusal:
            if refusal.reason == "fully_refunded":
                raise PayPalError(
                    422, "CAPTURE_FULLY_REFUNDED", "The capture has already been fully refunded."
                ) from None
            raise PayPalError(
                422, "INVALID_RESOURCE_ID", "The capture cannot be refunded."
            ) from None
        total = parse_amount(capture["amount"]["value"])
        refunds = payments.setdefault("refunds", [])
        done = sum((parse_amount(r["amount"]["value"]) for r in refunds), ZERO)
        given = body.get("amount")
        try:
            step = refund_step(
                phase, total, done, None if given is None else amount_param(given, "/amount")
            )
        except LifecycleRefusal:
            raise PayPalError(
                422,
                "REFUND_AMOUNT_EXCEEDED",
                "The refund amount must be less than or equal to the capture "
                "amount that has not yet been refunded.",
            ) from None
        amount = step.amount
        refund = {
            "id": self.pid(),
            "amount": money_obj(amount),
            "status": "COMPLETED",
            "seller_payable_breakdown": {
                "gross_amount": money_obj(amount),
                "paypal_fee": money_obj(ZERO),
                "net_amount": money_obj(amount),
                "total_refunded_amount": money_obj(done + amount),
            },
            "create_time": self.now(),
            "update_time": self.now(),
            "links": [
                {
                    "href": f"{self.base()}/v2/payments/refunds/{{id}}",
                    "rel": "self",
                    "method": "GET",
                },
                {
                    "href": f"{self.base()}/v2/payments/captures/{capture_id}",
                    "rel": "up",
                    "method": "GET",
                },
            ],
        }
        refund["links"][0]["href"] = refund["links"][0]["href"].replace("{id}", refund["id"])
        if body.get("note_to_payer"):
            refund["note_to_payer"] = str(body["note_to_payer"])
        refunds.append(refund)
        capture.update(status=PAYPAL.status(step.phase), update_time=self.now())
        self.store.put("refunds", refund)
        custom = capture.get("custom_id")
        self._line("T1107", -amount, ZERO, refund["id"], custom, ("TXN", capture["id"]))
        self.event(
            "PAYMENT.CAPTURE.REFUNDED",
            "refund",
            refund,
            f"A MXN {amount} MXN capture payment was refunded",
        )
        return refund

    # -- reporting and withdrawals -------------------------------------------------------------
    def _line(
        self,
        code: str,
        amount: Decimal,
        fee: Decimal,
        transaction_id: str,
        custom: str | None,
        related: tuple[str, str] | None = None,
    ) -> None:
        """A reporting line; ``related`` is PayPal's ``paypal_reference_id`` with its type
        (``ODR``: the order a capture paid; ``TXN``: the capture a refund returns)."""
        reference = (
            {"paypal_reference_id_type": related[0], "paypal_reference_id": related[1]}
            if related
            else {}
        )
        self.lines.append(
            {
                "_ts": int(self.clock()),
                "transaction_info": {
                    "paypal_account_id": MERCHANT_ID,
                    "transaction_id": transaction_id,
                    "transaction_event_code": code,
                    "transaction_initiation_date": report_time(self.clock()),
                    "transaction_updated_date": report_time(self.clock()),
                    "transaction_amount": money_obj(amount),
                    "fee_amount": money_obj(-fee),
                    "transaction_status": "S",
                    "custom_field": custom,
                    "protection_eligibility": "01" if code == "T0006" else None,
                    **reference,
                },
            }
        )

    def withdraw(self) -> Obj:
        """Move the whole balance to the business's bank account (a T0400 line)."""
        pending = [
            line
            for line in self.lines
            if line["transaction_info"]["transaction_id"] not in self.withdrawn
        ]
        balance = sum(
            (
                parse_amount(
                    line["transaction_info"]["transaction_amount"]["value"], allow_negative=True
                )
                + parse_amount(line["transaction_info"]["fee_amount"]["value"], allow_negative=True)
                for line in pending
            ),
            ZERO,
        )
        if balance <= ZERO:
            raise PayPalError(422, "INSUFFICIENT_FUNDS", "There is no balance to withdraw.")
        self.withdrawn.update(line["transaction_info"]["transaction_id"] for line in pending)
        withdrawal_id = self.pid()
        self.withdrawn.add(withdrawal_id)
        self._line("T0400", -balance, ZERO, withdrawal_id, None)
        return self.lines[-1]["transaction_info"]

    def report(self, params: Mapping[str, str], parse: Callable[[str], float]) -> Obj:
        """``GET /v1/reporting/transactions`` (start/end at most 31 days apart)."""
        try:
            start, end = parse(params["start_date"]), parse(params["end_date"])
        except (KeyError, ValueError):
            raise PayPalError(
                400, "INVALID_REQUEST", "start_date and end_date are required dates."
            ) from None
        if end < start or end - start > 31 * 86400:
            raise PayPalError(400, "INVALID_REQUEST", "Date range is greater than 31 days")
        found = [line for line in self.lines if start <= line["_ts"] <= end]
        if params.get("transaction_type"):
            found = [
                line
                for line in found
                if line["transaction_info"]["transaction_event_code"] == params["transaction_type"]
            ]
        size = max(1, min(int(params.get("page_size") or 100), 500))
        page = max(1, int(params.get("page") or 1))
        pages = max(1, -(-len(found) // size))
        return {
            "transaction_details": [
                {k: v for k, v in line.items() if k != "_ts"}
                for line in found[(page - 1) * size : page * size]
            ],
            "account_number": MERCHANT_ID,
            "start_date": params["start_date"],
            "end_date": params["end_date"],
            "last_refreshed_datetime": report_time(self.clock()),
            "page": page,
            "total_items": len(found),
            "total_pages": pages,
            "links": [],
        }
