"""Reading Mercado Pago payments, refunds, reports and error bodies; pure functions.

Mercado Pago's JSON carries amounts as decimal *numbers* in pesos (``"transaction_amount":
150.5``). We read them with ``parse_float=Decimal`` so no float ever holds money, and write
them with ``json_number``, which hands the JSON encoder an ``int`` or a float proven to print
as exactly the same decimal (Python's ``json`` can only write numbers from those types).
"""

from __future__ import annotations

import csv
import io
from collections.abc import Mapping, Sequence
from decimal import Decimal
from typing import Any

import httpx

from puente.money import ZERO, parse_amount
from puente.providers import values
from puente.providers.answers import error_body, first_mapping, json_amount, json_number
from puente.providers.errors import (
    InvalidRequest,
    MalformedResponse,
    PaymentDeclined,
    ProviderError,
    error_class_for_status,
    reading_response,
    unknown_status,
)
from puente.providers.mercadopago_tables import MERCADOPAGO_TABLES
from puente.providers.spei_tracking import MERCADOPAGO_SPEI, read_spei_transfer
from puente.providers.timestamps import iso_utc
from puente.providers.values import PaymentMethod, PaymentStatus

__all__ = [
    "DEFAULT_BANK_PATH",
    "DEFAULT_CLABE_PATH",
    "decline_class",
    "json_number",
    "mp_card",
    "mp_customer",
    "mp_datetime",
    "mp_error",
    "mp_payment",
    "mp_refund",
    "mp_settlements_from_report",
    "mp_transactions",
]

PROVIDER = "mercadopago"
# Where the CLABE of a SPEI (payment_method_id "clabe") payment sits in the answer. Mercado
# Pago documents only ``transaction_details.external_resource_url`` (the hosted instructions)
# for MX SPEI; this is the ``bank_info`` shape it uses for bank transfers elsewhere.
# UNCONFIRMED: the connector takes another dotted path as ``clabe_path``.
DEFAULT_CLABE_PATH = "point_of_interaction.transaction_data.bank_info.collector.account_id"
DEFAULT_BANK_PATH = "point_of_interaction.transaction_data.bank_info.collector.long_name"

_OFFLINE_WAITING = {"pending_waiting_payment", "pending_waiting_transfer"}


def _money(value: Any) -> Decimal:
    return json_amount(value)


# ``2024-05-10T13:43:14.586-04:00`` (or ``-0400``) as an aware UTC datetime.
mp_datetime = iso_utc


def _path(obj: Any, dotted: str) -> Any:
    for part in dotted.split("."):
        if not isinstance(obj, Mapping):
            return None
        obj = obj.get(part)
    return obj


def decline_class(status_detail: str | None) -> type[PaymentDeclined]:
    """The normalised decline for a rejected payment's ``status_detail``."""
    return MERCADOPAGO_TABLES.decline(status_detail)[0]


def _status(payment: Mapping[str, Any], method: PaymentMethod) -> PaymentStatus:
    status, detail = payment["status"], payment.get("status_detail") or ""
    if status == "approved":
        return (
            PaymentStatus.PARTIALLY_REFUNDED
            if detail == "partially_refunded"
            else (PaymentStatus.SUCCEEDED)
        )
    if status == "pending":
        waiting = detail in _OFFLINE_WAITING or method is not PaymentMethod.CARD
        return PaymentStatus.REQUIRES_ACTION if waiting else PaymentStatus.PENDING
    if status in ("in_process", "authorized"):
        return PaymentStatus.PENDING
    if status == "rejected":
        return PaymentStatus.FAILED
    if status == "cancelled":
        # An OXXO/SPEI reference nobody paid is cancelled with status_detail "expired".
        return PaymentStatus.EXPIRED if detail == "expired" else PaymentStatus.CANCELED
    if status == "refunded":
        return PaymentStatus.REFUNDED
    if status in ("charged_back", "in_mediation"):
        return PaymentStatus.CHARGED_BACK
    raise unknown_status("payment status", status, provider=PROVIDER)


def _next_action(
    payment: Mapping[str, Any], method: PaymentMethod, clabe_path: str
) -> values.NextAction | None:
    if method is PaymentMethod.CARD:
        return None
    details = payment.get("transaction_details") or {}
    data = _path(payment, "payment_method.data") or {}
    reference = data.get("reference_id") or details.get("payment_method_reference_id")
    if method is PaymentMethod.CASH and not reference:
        reference = _path(payment, "barcode.content")
    clabe = _path(payment, clabe_path) if method is PaymentMethod.SPEI else None
    bank = _path(payment, DEFAULT_BANK_PATH) if method is PaymentMethod.SPEI else None
    return values.NextAction(
        clabe=str(clabe) if clabe else None,
        bank=str(bank) if bank else None,
        reference=str(reference) if reference else None,
        expires_at=mp_datetime(payment.get("date_of_expiration")),
        voucher_url=details.get("external_resource_url"),
        amount_remaining=_money(payment["transaction_amount"])
        if method is PaymentMethod.SPEI
        else None,
    )


def mp_payment(
    payment: Mapping[str, Any], *, clabe_path: str = DEFAULT_CLABE_PATH
) -> values.ProviderPayment:
    """A ``/v1/payments`` object as a ``ProviderPayment``."""
    with reading_response(PROVIDER, "payment"):
        method = MERCADOPAGO_TABLES.methods.get(payment.get("payment_type_id") or "")
        if method is None:
            raise MalformedResponse(
                f"unsupported payment_type_id {payment.get('payment_type_id')!r}",
                provider=PROVIDER,
            )
        status = _status(payment, method)
        detail = payment.get("status_detail")
        failure_code = failure_message = None
        if status is PaymentStatus.FAILED:
            cls, message = MERCADOPAGO_TABLES.decline(detail, "Payment rejected.")
            failure_code, failure_message = cls.code.value, message or "Payment rejected."
        payer = payment.get("payer") or {}
        customer = payer.get("id") if payer.get("type") == "customer" else None
        return values.ProviderPayment(
            provider=PROVIDER,
            provider_id=str(payment["id"]),
            status=status,
            amount=_money(payment["transaction_amount"]),
            method=method,
            currency=str(payment.get("currency_id") or "MXN").upper(),
            raw_status=f"{payment['status']}/{detail}" if detail else payment["status"],
            next_action=_next_action(payment, method, clabe_path)
            if status is PaymentStatus.REQUIRES_ACTION
            else None,
            failure_code=failure_code,
            failure_message=failure_message,
            provider_failure_code=detail if status is PaymentStatus.FAILED else None,
            amount_refunded=_money(payment.get("transaction_amount_refunded") or 0),
            customer_id=str(customer) if customer else None,
            created_at=mp_datetime(payment.get("date_created")),
            metadata={str(k): str(v) for k, v in (payment.get("metadata") or {}).items()},
            raw=payment,
            spei=read_spei_transfer(MERCADOPAGO_SPEI, payment)
            if method is PaymentMethod.SPEI
            else None,
        )


def mp_error(response: httpx.Response) -> ProviderError:
    """A non-2xx answer (``{message, error, status, cause[{code, description}]}``)."""
    status = response.status_code
    body = error_body(response, decimals=True)
    first = first_mapping(body, "cause")
    code = first.get("code") or body.get("error") or body.get("code")
    message = body.get("message") or first.get("description") or f"HTTP {status}"
    # A card refusal is a created payment (HTTP 201), never an error answer: 402 is our mistake.
    cls = error_class_for_status(status, payment_required=InvalidRequest)
    return cls.answered(status, body, provider=PROVIDER, message=message, code=code)


def mp_refund(body: Mapping[str, Any], payment_id: str) -> values.ProviderRefund:
    """A ``/v1/payments/{id}/refunds`` object; unknown statuses are ``MalformedResponse``."""
    with reading_response(PROVIDER, "refund"):
        status = MERCADOPAGO_TABLES.refund_status(body["status"])
        return values.ProviderRefund(
            PROVIDER,
            str(body["id"]),
            str(body.get("payment_id") or payment_id),
            _money(body["amount"]),
            status,
            raw_status=body["status"],
            created_at=mp_datetime(body.get("date_created")),
            raw=body,
        )


def mp_customer(body: Mapping[str, Any]) -> values.ProviderCustomer:
    """A ``/v1/customers`` object."""
    with reading_response(PROVIDER, "customer"):
        name = " ".join(p for p in (body.get("first_name"), body.get("last_name")) if p)
        return values.ProviderCustomer(
            PROVIDER, str(body["id"]), name or None, body.get("email"), raw=body
        )


def mp_card(body: Mapping[str, Any]) -> values.SavedPaymentMethod:
    """A ``/v1/customers/{id}/cards`` object: brand and last four only."""
    with reading_response(PROVIDER, "card"):
        return values.SavedPaymentMethod(
            PROVIDER,
            str(body["id"]),
            str(body["customer_id"]) if body.get("customer_id") else None,
            PaymentMethod.CARD,
            brand=(body.get("payment_method") or {}).get("id"),
            last4=body.get("last_four_digits"),
            exp_month=body.get("expiration_month"),
            exp_year=body.get("expiration_year"),
            raw=body,
        )


def _payout_of(obj: Mapping[str, Any]) -> str | None:
    # The withdrawal that carried a payment or refund to the bank (UNCONFIRMED field name:
    # the simulator's; the release report lists the same per withdrawal).
    payout = obj.get("payout_id")
    return str(payout) if payout else None


def mp_transactions(payment: Mapping[str, Any]) -> list[values.ProviderTransaction]:
    """Balance lines of one payment: the collection (gross, fee, net) and each refund."""
    with reading_response(PROVIDER, "payment lines"):
        lines: list[values.ProviderTransaction] = []
        approved = mp_datetime(payment.get("date_approved"))
        if approved is None:
            return lines  # nothing was ever collected (pending, rejected, expired)
        amount = _money(payment["transaction_amount"])
        fee = sum(
            (
                _money(item["amount"])
                for item in payment.get("fee_details") or []
                if item.get("fee_payer", "collector") == "collector"
            ),
            ZERO,
        )
        pid = str(payment["id"])
        status = str(payment.get("money_release_status") or payment["status"])
        lines.append(
            values.ProviderTransaction(
                PROVIDER,
                pid,
                "payment",
                amount,
                fee,
                amount - fee,
                status,
                approved,
                available_on=mp_datetime(payment.get("money_release_date")),
                source_id=pid,
                settlement_id=_payout_of(payment),
                raw=payment,
            )
        )
        for refund in payment.get("refunds") or []:
            if refund.get("status") != "approved":
                continue
            value = -_money(refund["amount"])
            created = mp_datetime(refund.get("date_created"))
            if created is None:
                raise MalformedResponse("refund without date_created", provider=PROVIDER)
            lines.append(
                values.ProviderTransaction(
                    PROVIDER,
                    str(refund["id"]),
                    "refund",
                    value,
                    ZERO,
                    value,
                    "approved",
                    created,
                    source_id=pid,
                    settlement_id=_payout_of(refund),
                    raw=refund,
                )
            )
        return lines


def mp_settlements_from_report(text: str) -> list[values.ProviderSettlement]:
    """Withdrawals to the bank (``DESCRIPTION`` ``payout``) in a releases report CSV."""
    lines = text.lstrip("\ufeff").splitlines()
    if not lines:
        return []
    # The report's separator is a per-account setting (comma by default).
    delimiter = ";" if lines[0].count(";") > lines[0].count(",") else ","
    rows: Sequence[Mapping[str, str]] = list(
        csv.DictReader(io.StringIO("\n".join(lines)), delimiter=delimiter)
    )
    found: list[values.ProviderSettlement] = []
    with reading_response(PROVIDER, "releases report"):
        for row in rows:
            if (row.get("DESCRIPTION") or "").strip().lower() != "payout":
                continue
            created = mp_datetime((row.get("DATE") or "").strip())
            if created is None:
                raise MalformedResponse("payout row without DATE", provider=PROVIDER)
            debit = (row.get("NET_DEBIT_AMOUNT") or "").strip() or "0"
            found.append(
                values.ProviderSettlement(
                    PROVIDER,
                    (row.get("SOURCE_ID") or "").strip(),
                    parse_amount(debit),
                    "paid",
                    created,
                    raw=dict(row),
                )
            )
    return found
