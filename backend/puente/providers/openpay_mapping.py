"""Reading Openpay objects into Puente's normalised values; pure functions.

Openpay amounts are decimal pesos (read as ``Decimal``, never float: bodies are parsed with
``parse_float=Decimal``), timestamps ISO-8601 with a Mexico City offset. A payment is a
*charge* transaction whose ``method`` is ``card``, ``bank_account`` (SPEI) or ``store``
(Paynet: OXXO, 7-Eleven...). Error bodies and codes live in ``openpay_errors.py``.
"""

from __future__ import annotations

from collections.abc import Mapping
from datetime import datetime
from decimal import Decimal
from typing import Any

from puente.money import ZERO, parse_amount
from puente.providers import values
from puente.providers.errors import (
    MalformedResponse,
    reading_response,
    unknown_status,
)
from puente.providers.openpay_errors import openpay_error_class
from puente.providers.openpay_tables import OPENPAY_TABLES
from puente.providers.openpay_webhooks import openpay_datetime
from puente.providers.spei_tracking import OPENPAY_SPEI, read_spei_transfer
from puente.providers.values import PaymentMethod, PaymentStatus

__all__ = [
    "OPENPAY_METHODS",
    "VoucherLinks",
    "created_between",
    "openpay_card",
    "openpay_customer",
    "openpay_payment",
    "openpay_refund",
    "openpay_refunds",
    "openpay_settlement",
    "openpay_transactions",
]

PROVIDER = "openpay"
OPENPAY_METHODS = OPENPAY_TABLES.methods
_REFUNDED = {"refunded"}
_CHARGEBACK = {"chargeback_pending", "chargeback_accepted", "chargeback_adjustment"}


def _amount(value: Any) -> Decimal:
    return parse_amount(value)  # floats never reach here: bodies are read with Decimal


def openpay_refunds(charge: Mapping[str, Any]) -> list[Mapping[str, Any]]:
    """Every refund of a charge, oldest first (``refunds`` list, else the single ``refund``)."""
    refunds = charge.get("refunds")
    if isinstance(refunds, list) and refunds:
        return [r for r in refunds if isinstance(r, Mapping)]
    single = charge.get("refund")
    return [single] if isinstance(single, Mapping) else []


def _refunded(charge: Mapping[str, Any]) -> Decimal:
    return sum((_amount(r["amount"]) for r in openpay_refunds(charge)), ZERO)


def _status(charge: Mapping[str, Any], method: PaymentMethod) -> PaymentStatus:
    raw = charge["status"]
    waiting = method in (PaymentMethod.SPEI, PaymentMethod.CASH)
    if raw == "completed":
        refunded = _refunded(charge)
        if refunded and refunded >= _amount(charge["amount"]):
            return PaymentStatus.REFUNDED
        return PaymentStatus.PARTIALLY_REFUNDED if refunded else PaymentStatus.SUCCEEDED
    if raw in _REFUNDED:
        return PaymentStatus.REFUNDED
    if raw == "in_progress":
        return PaymentStatus.REQUIRES_ACTION if waiting else PaymentStatus.PENDING
    if raw == "charge_pending":  # e.g. 3-D Secure: the payer must visit payment_method.url
        url = (charge.get("payment_method") or {}).get("url")
        return PaymentStatus.REQUIRES_ACTION if url else PaymentStatus.PENDING
    if raw == "failed":
        return PaymentStatus.FAILED
    if raw == "expired" or (raw == "cancelled" and waiting):
        # Openpay cancels store/SPEI references that pass their due_date unpaid.
        return PaymentStatus.EXPIRED
    if raw == "cancelled":
        return PaymentStatus.CANCELED
    if raw in _CHARGEBACK:
        return PaymentStatus.CHARGED_BACK
    raise unknown_status("charge status", raw, provider=PROVIDER)


class VoucherLinks:
    """Where Openpay's dashboard renders printable receipts (Paynet and SPEI instructions)."""

    def __init__(self, dashboard_url: str, merchant_id: str) -> None:
        self.base = f"{dashboard_url.rstrip('/')}"
        self.merchant_id = merchant_id

    def store(self, reference: str) -> str:
        """The Paynet voucher for a store reference."""
        return f"{self.base}/paynet-pdf/{self.merchant_id}/{reference}"

    def spei(self, transaction_id: str) -> str:
        """The SPEI instructions for a bank_account charge."""
        return f"{self.base}/spei-pdf/{self.merchant_id}/{transaction_id}"


def _next_action(
    charge: Mapping[str, Any], method: PaymentMethod, links: VoucherLinks | None
) -> values.NextAction:
    pm = charge.get("payment_method") or {}
    due = openpay_datetime(charge.get("due_date"))
    if method is PaymentMethod.CASH:
        reference = pm.get("reference")
        return values.NextAction(
            reference=reference,
            expires_at=due,
            barcode_url=pm.get("barcode_url"),
            voucher_url=links.store(reference) if links and reference else None,
        )
    if method is PaymentMethod.SPEI:
        return values.NextAction(
            clabe=pm.get("clabe"),
            bank=pm.get("bank"),
            reference=pm.get("name"),  # Openpay's "name" is the SPEI concept/reference
            expires_at=due,
            voucher_url=links.spei(charge["id"]) if links else None,
        )
    return values.NextAction(redirect_url=pm.get("url"))


def openpay_payment(
    charge: Mapping[str, Any], links: VoucherLinks | None = None
) -> values.ProviderPayment:
    """A charge transaction as a ``ProviderPayment``."""
    with reading_response(PROVIDER, "charge"):
        method = OPENPAY_METHODS.get(charge.get("method") or "")
        if method is None:
            raise MalformedResponse(
                f"unsupported Openpay method {charge.get('method')!r}", provider=PROVIDER
            )
        status = _status(charge, method)
        code = charge.get("error_code")
        failure = None
        if status is PaymentStatus.FAILED:
            failure = openpay_error_class(code, 402).code.value
        return values.ProviderPayment(
            provider=PROVIDER,
            provider_id=charge["id"],
            status=status,
            amount=_amount(charge["amount"]),
            method=method,
            currency=str(charge.get("currency") or "MXN").upper(),
            raw_status=charge["status"],
            next_action=_next_action(charge, method, links)
            if status is PaymentStatus.REQUIRES_ACTION
            else None,
            failure_code=failure,
            failure_message=charge.get("error_message"),
            provider_failure_code=str(code) if code is not None else None,
            amount_refunded=_refunded(charge),
            customer_id=charge.get("customer_id"),
            created_at=openpay_datetime(charge.get("creation_date")),
            metadata={str(k): str(v) for k, v in (charge.get("metadata") or {}).items()},
            raw=charge,
            spei=read_spei_transfer(OPENPAY_SPEI, charge) if method is PaymentMethod.SPEI else None,
        )


def openpay_refund(refund: Mapping[str, Any], charge_id: str) -> values.ProviderRefund:
    """One refund transaction of a charge."""
    with reading_response(PROVIDER, "refund"):
        raw = refund.get("status") or "completed"
        status = OPENPAY_TABLES.refund_status(raw)
        return values.ProviderRefund(
            PROVIDER,
            refund["id"],
            charge_id,
            _amount(refund["amount"]),
            status,
            raw_status=raw,
            currency=str(refund.get("currency") or "MXN").upper(),
            created_at=openpay_datetime(
                refund.get("operation_date") or refund.get("creation_date")
            ),
            raw=refund,
        )


def _fee(obj: Mapping[str, Any]) -> Decimal:
    fee = obj.get("fee")
    if not isinstance(fee, Mapping):
        return ZERO
    return _amount(fee.get("amount") or 0) + _amount(fee.get("tax") or 0)


def _payout_of(obj: Mapping[str, Any]) -> str | None:
    # The payout that carried a charge or refund to the bank (UNCONFIRMED field name: the
    # simulator's; Openpay's payout report /reports/payout/{id}/detail says the same).
    payout = obj.get("payout_id")
    return str(payout) if payout else None


def openpay_transactions(charge: Mapping[str, Any]) -> list[values.ProviderTransaction]:
    """The balance lines of one charge: the charge itself, then one line per refund."""
    with reading_response(PROVIDER, "charge"):
        if charge["status"] not in ("completed", "refunded", *_CHARGEBACK):
            return []  # no money moved (failed, pending, cancelled)
        created = openpay_datetime(charge.get("operation_date") or charge.get("creation_date"))
        if created is None:
            raise MalformedResponse("charge without a date", provider=PROVIDER)
        amount, fee = _amount(charge["amount"]), _fee(charge)
        lines = [
            values.ProviderTransaction(
                PROVIDER,
                charge["id"],
                "charge",
                amount,
                fee,
                amount - fee,
                charge["status"],
                created,
                source_id=charge["id"],
                settlement_id=_payout_of(charge),
                raw=charge,
            )
        ]
        for refund in openpay_refunds(charge):
            when = openpay_datetime(refund.get("operation_date") or refund.get("creation_date"))
            refunded, refund_fee = -_amount(refund["amount"]), _fee(refund)
            lines.append(
                values.ProviderTransaction(
                    PROVIDER,
                    refund["id"],
                    "refund",
                    refunded,
                    refund_fee,
                    refunded - refund_fee,
                    str(refund.get("status") or "completed"),
                    when or created,
                    source_id=charge["id"],
                    settlement_id=_payout_of(refund),
                    raw=refund,
                )
            )
        return lines


def openpay_settlement(payout: Mapping[str, Any]) -> values.ProviderSettlement:
    """A payout from the Openpay balance to the institution's bank account."""
    return OPENPAY_TABLES.settlement_from(payout)


def openpay_customer(body: Mapping[str, Any]) -> values.ProviderCustomer:
    """An Openpay customer (``name`` and ``last_name`` joined)."""
    with reading_response(PROVIDER, "customer"):
        name = " ".join(p for p in (body.get("name"), body.get("last_name")) if p) or None
        return values.ProviderCustomer(PROVIDER, body["id"], name, body.get("email"), raw=body)


def openpay_card(body: Mapping[str, Any]) -> values.SavedPaymentMethod:
    """A card stored for a customer; Openpay masks the number as ``411111XXXXXX1111``."""
    with reading_response(PROVIDER, "card"):
        number = str(body.get("card_number") or "")
        year = body.get("expiration_year")
        return values.SavedPaymentMethod(
            PROVIDER,
            body["id"],
            body.get("customer_id"),
            PaymentMethod.CARD,
            brand=body.get("brand"),
            last4=number[-4:] or None,
            exp_month=int(body["expiration_month"]) if body.get("expiration_month") else None,
            exp_year=2000 + int(year)
            if year and int(year) < 100
            else (int(year) if year else None),
            raw=body,
        )


def created_between(obj: Mapping[str, Any], since: datetime, until: datetime | None) -> bool:
    """True when an Openpay object's ``creation_date`` lies in [since, until]."""
    created = openpay_datetime(obj.get("creation_date"))
    return created is not None and created >= since and (until is None or created <= until)
