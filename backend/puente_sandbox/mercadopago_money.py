"""Money after the payment in the Mercado Pago simulator: refunds, chargebacks, search,
withdrawals to the bank and the releases report."""

from __future__ import annotations

import copy
from collections.abc import Callable, Mapping
from datetime import UTC, datetime
from decimal import Decimal
from typing import Any

from puente.money import ZERO
from puente_sandbox import lifecycle
from puente_sandbox.core import SandboxStore
from puente_sandbox.formats import iso_datetime
from puente_sandbox.mercadopago_objects import MERCADOPAGO, MEXICO_CITY, MPError, amount_param

__all__ = ["COLLECTOR_ID", "MercadoPagoMoney", "Obj"]

Obj = dict[str, Any]
COLLECTOR_ID = 1_523_846_091  # the simulated seller's user id
_REPORT_COLUMNS = (
    "DATE,SOURCE_ID,EXTERNAL_REFERENCE,RECORD_TYPE,DESCRIPTION,NET_CREDIT_AMOUNT,"
    "NET_DEBIT_AMOUNT,GROSS_AMOUNT,MP_FEE_AMOUNT,FINANCING_FEE_AMOUNT,SHIPPING_FEE_AMOUNT,"
    "TAXES_AMOUNT,COUPON_AMOUNT,INSTALLMENTS,PAYMENT_METHOD"
)


class MercadoPagoMoney:
    """Refunds, chargebacks, search and reports; mixed into ``MercadoPagoState``."""

    store: SandboxStore
    clock: Callable[[], float]
    settled: set[str]

    # Provided by MercadoPagoState:
    now: Callable[[], str]
    notify: Callable[[str, str, str], None]
    get: Callable[..., Obj]
    _number: Callable[[], int]

    # -- refunds and chargebacks -------------------------------------------------------------
    def refund(self, payment_id: str, body: Mapping[str, Any]) -> Obj:
        """``POST /v1/payments/{id}/refunds``: empty body refunds what is left."""
        payment = self.get("payments", payment_id, "Payment")
        phase = MERCADOPAGO.phase(payment["status"])
        try:
            lifecycle.check_refundable(phase)
        except lifecycle.LifecycleRefusal:
            raise MPError(
                400,
                f"Payment status {payment['status']} can't be refunded",
                causes=[(4040, "invalid payment status")],
            ) from None
        try:
            step = lifecycle.refund_step(
                phase,
                payment["transaction_amount"],
                payment["transaction_amount_refunded"],
                amount_param(body, "amount", required=False) or None,
            )
        except lifecycle.LifecycleRefusal:
            raise MPError(
                400,
                "Invalid refund amount: it exceeds what is left to refund",
                causes=[(4041, "amount exceeds the refundable amount")],
            ) from None
        amount = step.amount
        refund = {
            "id": self._number(),
            "payment_id": payment["id"],
            "amount": amount,
            "metadata": dict(body.get("metadata") or {}),
            "source": {"id": str(COLLECTOR_ID), "name": "Puente Sandbox", "type": "collector"},
            "date_created": self.now(),
            "unique_sequence_number": None,
            "refund_mode": "standard",
            "adjustment_amount": ZERO,
            "status": "approved",
            "reason": None,
        }
        payment["refunds"].append(copy.deepcopy(refund))
        payment["transaction_amount_refunded"] = step.refunded
        payment.update(
            # Mercado Pago keeps a partly refunded payment approved and says so in the detail.
            status=MERCADOPAGO.status(step.phase),
            status_detail=step.phase.value,
            date_last_updated=self.now(),
        )
        self.store.put("refunds", {**refund, "id": str(refund["id"])})
        self.notify("payment", "payment.updated", str(payment["id"]))
        return refund

    def chargeback(self, payment_id: str) -> Obj:
        """The payer's bank reverses the payment (admin helper)."""
        payment = self.get("payments", payment_id, "Payment")
        try:
            lifecycle.disputed_amount(
                MERCADOPAGO.phase(payment["status"]),
                payment["transaction_amount"],
                payment["transaction_amount_refunded"],
            )
        except lifecycle.LifecycleRefusal:
            raise MPError(409, f"payment {payment_id} is {payment['status']}") from None
        chargeback = {
            "id": str(self._number()),
            "payments": [payment["id"]],
            "currency": "MXN",
            "amount": payment["transaction_amount"],
            "coverage_applied": False,
            "documentation_required": True,
            "date_created": self.now(),
        }
        payment.update(
            status="charged_back", status_detail="reimbursed", date_last_updated=self.now()
        )
        self.store.put("chargebacks", chargeback)
        self.notify("chargebacks", "created", chargeback["id"])
        self.notify("payment", "payment.updated", str(payment["id"]))
        return chargeback

    # -- search, payouts, releases report ----------------------------------------------------
    def search(self, params: Mapping[str, str]) -> Obj:
        """``GET /v1/payments/search`` with range/begin_date/end_date, sort, limit, offset."""
        found = self.store.all("payments")
        for name in ("external_reference", "status"):
            if params.get(name):
                found = [p for p in found if str(p.get(name)) == params[name]]
        field = params.get("range") or "date_created"
        begin, end = self._bound(params.get("begin_date")), self._bound(params.get("end_date"))
        if begin or end:

            def inside(p: Obj) -> bool:
                when = iso_datetime(p.get(field))
                return (
                    when is not None and (not begin or when >= begin) and (not end or when <= end)
                )

            found = [p for p in found if inside(p)]
        sort = params.get("sort") or "date_created"
        found.sort(
            key=lambda p: (str(iso_datetime(p.get(sort)) or ""), p["id"]),
            reverse=params.get("criteria") == "desc",
        )
        try:
            limit = min(int(params.get("limit") or 30), 1000)
            offset = int(params.get("offset") or 0)
        except ValueError:
            raise MPError(400, "limit and offset must be numbers") from None
        return {
            "paging": {"total": len(found), "limit": limit, "offset": offset},
            "results": found[offset : offset + limit],
        }

    def _bound(self, text: str | None) -> datetime | None:
        if not text:
            return None
        if text.startswith("NOW"):
            days = text.removeprefix("NOW").removesuffix("DAYS")
            return datetime.fromtimestamp(self.clock() + int(days or 0) * 86400, UTC)
        when = iso_datetime(text)
        if when is None:
            raise MPError(400, f"invalid date {text}")
        return when

    def _lines(self) -> list[tuple[str, Decimal, Obj, str]]:
        """(line id, net, source object, kind) of every balance movement so far."""
        lines: list[tuple[str, Decimal, Obj, str]] = []
        for payment in self.store.all("payments"):
            if payment.get("date_approved"):
                net = payment["transaction_amount"] - sum(
                    (f["amount"] for f in payment["fee_details"]), ZERO
                )
                lines.append((f"p{payment['id']}", net, payment, "payment"))
            for refund in payment["refunds"]:
                lines.append((f"r{refund['id']}", -refund["amount"], refund, "refund"))
        return lines

    def payout(self) -> Obj:
        """Withdraw the whole available balance to the seller's bank account."""
        pending = [line for line in self._lines() if line[0] not in self.settled]
        total = sum((net for _, net, _, _ in pending), ZERO)
        if total <= ZERO:
            raise MPError(409, "there is no available balance to withdraw")
        self.settled.update(line_id for line_id, _, _, _ in pending)
        payout = {"id": str(self._number()), "amount": total, "date_created": self.now()}
        for _, _, source, _ in pending:  # each payment and refund names its withdrawal
            source["payout_id"] = payout["id"]
        return self.store.put("payouts", payout)

    def create_report(self, body: Mapping[str, Any]) -> Obj:
        """``POST /v1/account/release_report``: generated at once in the sandbox."""
        begin, end = self._bound(body.get("begin_date")), self._bound(body.get("end_date"))
        if begin is None or end is None or begin > end:
            raise MPError(400, "begin_date and end_date are required")
        number = self._number()
        report = {
            "id": str(number),
            "account_id": COLLECTOR_ID,
            "begin_date": body["begin_date"],
            "end_date": body["end_date"],
            "created_from": "manual",
            "date_created": self.now(),
            "file_name": f"release-report-{COLLECTOR_ID}-{number}.csv",
            "content": self._report_csv(begin, end),
        }
        self.store.put("reports", {**report, "id": report["file_name"]})
        return {k: v for k, v in report.items() if k != "content"}

    def _report_csv(self, begin: datetime, end: datetime) -> str:
        rows = [_REPORT_COLUMNS]

        def row(
            when: str,
            source: Any,
            ref: Any,
            kind: str,
            credit: Decimal,
            debit: Decimal,
            gross: Decimal,
            fee: Decimal,
            method: str,
        ) -> None:
            stamp = iso_datetime(when)
            if stamp is None or not begin <= stamp <= end:
                return
            date = stamp.astimezone(MEXICO_CITY).strftime("%Y-%m-%dT%H:%M:%S%z")
            rows.append(
                f"{date},{source},{ref or ''},release,{kind},{credit},{debit},{gross},"
                f"{fee},0.00,0.00,0.00,0.00,1,{method}"
            )

        for _, net, obj, kind in self._lines():
            if kind == "payment":
                fee = obj["transaction_amount"] - net
                row(
                    obj["date_approved"],
                    obj["id"],
                    obj.get("external_reference"),
                    "payment",
                    net,
                    ZERO,
                    obj["transaction_amount"],
                    -fee,
                    obj["payment_method_id"],
                )
            else:
                row(
                    obj["date_created"],
                    obj["payment_id"],
                    None,
                    "refund",
                    ZERO,
                    -net,
                    net,
                    ZERO,
                    "",
                )
        for payout in self.store.all("payouts"):
            row(
                payout["date_created"],
                payout["id"],
                None,
                "payout",
                ZERO,
                payout["amount"],
                -payout["amount"],
                ZERO,
                "",
            )
        return "\n".join(rows) + "\n"
