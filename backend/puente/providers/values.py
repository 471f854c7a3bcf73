"""Normalised values every connector returns: what the rest of Puente sees of a provider.

Amounts are ``Decimal`` pesos (``puente.money``); each connector converts to and from its
provider's unit (centavos for Stripe and Conekta, decimal strings for PayPal) at its edge.
Datetimes are timezone-aware UTC. ``raw`` keeps the provider's own object for support and
audit; it is left out of ``repr`` and equality.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from datetime import datetime
from decimal import Decimal
from enum import StrEnum
from typing import Any

from puente.money import ZERO, parse_amount

__all__ = [
    "AccountHolder",
    "BankBalance",
    "BankMovement",
    "ChargeRequest",
    "CustomerInfo",
    "EventKind",
    "MovementDirection",
    "NextAction",
    "NormalisedEvent",
    "PUENTE_PAYMENT_KEY",
    "PaymentMethod",
    "PaymentStatus",
    "ProviderCustomer",
    "ProviderPayment",
    "ReceivedSpei",
    "ProviderRefund",
    "ProviderSettlement",
    "ProviderTransaction",
    "ReferenceRequest",
    "RefundRequest",
    "OrderRequest",
    "RefundStatus",
    "SavedPaymentMethod",
    "SpeiTransfer",
    "SpeiTransferRequest",
    "TransferStatus",
    "WebhookDelivery",
    "puente_payment_in",
]

# Puente sends its own payment id with every payment it starts: as metadata
# ``puente_payment`` where the provider keeps metadata, and inside the idempotency key
# ``puente-payment-<id>`` that PayPal keeps as ``custom_id`` (Mercado Pago as
# ``external_reference``). A webhook or lookup that echoes it finds a payment whose creation
# answer was lost, before Puente knows the provider's own id.
PUENTE_PAYMENT_KEY = "puente_payment"
_KEY_PREFIX = "puente-payment-"


def puente_payment_in(metadata: Mapping[str, Any] | None) -> str | None:
    """The Puente payment id a provider echoed in ``metadata``, or None."""
    if not isinstance(metadata, Mapping):
        return None
    value = metadata.get(PUENTE_PAYMENT_KEY)
    if isinstance(value, str | int) and not isinstance(value, bool) and str(value).isdigit():
        return str(value)
    for name in ("custom_id", "external_reference"):
        echoed = metadata.get(name)
        if isinstance(echoed, str) and echoed.startswith(_KEY_PREFIX):
            rest = echoed.removeprefix(_KEY_PREFIX)
            return rest if rest.isdigit() else None
    return None


def _raw() -> Any:
    return field(default_factory=dict, repr=False, compare=False)


class PaymentStatus(StrEnum):
    """Where a payment stands, whatever the provider calls it."""

    PENDING = "pending"  # created or processing; nothing for the payer to do right now
    REQUIRES_ACTION = "requires_action"  # payer must act: pay a SPEI/OXXO reference, 3-D Secure
    SUCCEEDED = "succeeded"  # money captured ("paid")
    FAILED = "failed"
    EXPIRED = "expired"  # a SPEI/OXXO reference nobody paid in time
    CANCELED = "canceled"
    REFUNDED = "refunded"
    PARTIALLY_REFUNDED = "partially_refunded"
    CHARGED_BACK = "charged_back"

    @property
    def is_final(self) -> bool:
        """True once the provider will not move the payment on by itself."""
        return self not in (PaymentStatus.PENDING, PaymentStatus.REQUIRES_ACTION)


class PaymentMethod(StrEnum):
    """How the payer pays."""

    CARD = "card"
    SPEI = "spei"  # Mexican interbank transfer to a CLABE
    CASH = "cash"  # OXXO and other convenience stores, with a printed reference
    PAYPAL = "paypal"


class RefundStatus(StrEnum):
    """Where a refund stands."""

    PENDING = "pending"
    REQUIRES_ACTION = "requires_action"
    SUCCEEDED = "succeeded"
    FAILED = "failed"
    CANCELED = "canceled"


class EventKind(StrEnum):
    """What a webhook means for Puente; ``unknown`` is acknowledged and logged, never fatal."""

    PAYMENT_PENDING = "payment.pending"
    PAYMENT_REQUIRES_ACTION = "payment.requires_action"
    PAYMENT_SUCCEEDED = "payment.succeeded"
    PAYMENT_FAILED = "payment.failed"
    PAYMENT_EXPIRED = "payment.expired"
    PAYMENT_CANCELED = "payment.canceled"
    PAYMENT_REFUNDED = "payment.refunded"
    CHARGEBACK = "chargeback"
    PAYOUT_PAID = "payout.paid"
    PAYOUT_FAILED = "payout.failed"
    TRANSFER_RECEIVED = "transfer.received"  # incoming SPEI (abono) on a bank/STP account
    TRANSFER_SUCCEEDED = "transfer.succeeded"  # our outgoing SPEI settled
    TRANSFER_FAILED = "transfer.failed"  # our outgoing SPEI was returned or rejected
    IGNORED = "ignored"  # a known type that repeats another event (e.g. charge.succeeded)
    UNKNOWN = "unknown"


class TransferStatus(StrEnum):
    """An outgoing SPEI transfer (disbursement)."""

    PENDING = "pending"
    SUCCEEDED = "succeeded"  # liquidada
    RETURNED = "returned"  # devuelta by the receiving bank
    FAILED = "failed"  # rejected before it left (cancelada, rechazada)


class MovementDirection(StrEnum):
    """Money into or out of a bank account."""

    CREDIT = "credit"
    DEBIT = "debit"


@dataclass(frozen=True, slots=True)
class CustomerInfo:
    """Who pays, as Puente knows them; connectors send what their provider accepts."""

    name: str
    email: str | None = None
    phone: str | None = None
    external_id: str | None = None  # Puente's own id, stored in provider metadata
    metadata: Mapping[str, str] = field(default_factory=dict)

    def provider_metadata(self) -> dict[str, str]:
        """``metadata`` plus Puente's id as ``puente_id``, for providers that keep metadata."""
        if not self.external_id:
            return dict(self.metadata)
        return {**self.metadata, "puente_id": self.external_id}


@dataclass(frozen=True, slots=True)
class ProviderCustomer:
    """A customer record at the provider (needed for saved cards and Stripe SPEI)."""

    provider: str
    provider_id: str
    name: str | None = None
    email: str | None = None
    raw: Mapping[str, Any] = _raw()


@dataclass(frozen=True, slots=True)
class SavedPaymentMethod:
    """A reusable payment method attached to a customer; never a full card number."""

    provider: str
    provider_id: str
    customer_id: str | None
    method: PaymentMethod = PaymentMethod.CARD
    brand: str | None = None
    last4: str | None = None
    exp_month: int | None = None
    exp_year: int | None = None
    raw: Mapping[str, Any] = _raw()


@dataclass(frozen=True, slots=True)
class ChargeRequest:
    """Charge a one-time card ``token`` or a saved ``payment_method_id`` (exactly one)."""

    amount: Decimal
    idempotency_key: str
    token: str | None = None
    payment_method_id: str | None = None
    customer_id: str | None = None
    description: str = ""
    metadata: Mapping[str, str] = field(default_factory=dict)
    return_url: str | None = None  # where 3-D Secure sends the payer back
    # The antifraud id a gateway's script took from the payer's browser (Openpay's
    # openpay-data.js ``deviceData.setup``); gateways that take none ignore it.
    device_session_id: str | None = None

    def __post_init__(self) -> None:
        object.__setattr__(self, "amount", parse_amount(self.amount))
        if self.amount <= ZERO:
            raise ValueError("a charge needs a positive amount")
        if (self.token is None) == (self.payment_method_id is None):
            raise ValueError("give exactly one of token or payment_method_id")
        if not self.idempotency_key:
            raise ValueError("every charge needs an idempotency_key")


@dataclass(frozen=True, slots=True)
class ReferenceRequest:
    """Ask for a SPEI (CLABE) or cash (OXXO) reference the payer pays later."""

    amount: Decimal
    idempotency_key: str
    customer_id: str | None = None
    customer: CustomerInfo | None = None  # used when the provider needs one and no id is given
    description: str = ""
    expires_after_days: int | None = None  # provider default when None
    metadata: Mapping[str, str] = field(default_factory=dict)

    def __post_init__(self) -> None:
        object.__setattr__(self, "amount", parse_amount(self.amount))
        if self.amount <= ZERO:
            raise ValueError("a reference needs a positive amount")
        if not self.idempotency_key:
            raise ValueError("every reference needs an idempotency_key")


@dataclass(frozen=True, slots=True)
class OrderRequest:
    """An order the payer approves on the provider's page (PayPal), then captured."""

    amount: Decimal
    idempotency_key: str
    description: str = ""
    metadata: Mapping[str, str] = field(default_factory=dict)
    return_url: str | None = None  # where the provider sends the payer after approving
    cancel_url: str | None = None  # ... and after giving up (return_url when None)


@dataclass(frozen=True, slots=True)
class RefundRequest:
    """Refund all (``amount`` None) or part of the payment ``provider_id``."""

    provider_id: str
    amount: Decimal | None
    idempotency_key: str
    reason: str | None = None  # free text; each connector maps it to what its API takes


@dataclass(frozen=True, slots=True)
class NextAction:
    """What the payer must do next; only the fields for the method at hand are set."""

    redirect_url: str | None = None  # 3-D Secure, PayPal approval
    clabe: str | None = field(default=None, repr=False)  # SPEI: 18-digit account to pay into
    bank: str | None = None  # SPEI: receiving bank name
    reference: str | None = None  # SPEI concept/reference or OXXO number
    expires_at: datetime | None = None
    voucher_url: str | None = None  # printable OXXO voucher or hosted SPEI instructions
    barcode_url: str | None = None
    amount_remaining: Decimal | None = None  # SPEI paid in parts


@dataclass(frozen=True, slots=True)
class ReceivedSpei:
    """The SPEI that paid a payment, as Banxico's CEP service finds it: the clave de
    rastreo (assigned by the sending bank), both participants' 5-digit codes and the
    CLABE paid into. Where each gateway keeps them: ``providers/spei_tracking.py``."""

    clave_rastreo: str
    sender_bank: str | None = None
    receiver_bank: str | None = None
    beneficiary_account: str | None = field(default=None, repr=False)
    sender_name: str | None = field(default=None, repr=False)

    @property
    def complete(self) -> bool:
        """Enough to ask Banxico (date and amount come from the payment)."""
        return bool(self.sender_bank and self.receiver_bank and self.beneficiary_account)


@dataclass(frozen=True, slots=True)
class ProviderPayment:
    """One payment at a provider, normalised."""

    provider: str
    provider_id: str
    status: PaymentStatus
    amount: Decimal
    method: PaymentMethod
    currency: str = "MXN"
    raw_status: str = ""
    next_action: NextAction | None = None
    failure_code: str | None = None  # an ErrorCode value
    failure_message: str | None = None
    provider_failure_code: str | None = None  # theirs, e.g. Stripe's decline_code
    amount_refunded: Decimal = ZERO
    customer_id: str | None = None
    created_at: datetime | None = None
    metadata: Mapping[str, str] = field(default_factory=dict)
    raw: Mapping[str, Any] = _raw()
    spei: ReceivedSpei | None = None  # a SPEI received: what identifies it at Banxico (CEP)

    @property
    def puente_payment_id(self) -> str | None:
        """The Puente payment this provider payment was started for, when it says."""
        return puente_payment_in(self.metadata)


@dataclass(frozen=True, slots=True)
class ProviderRefund:
    """A full or partial refund of a payment."""

    provider: str
    provider_id: str
    payment_id: str
    amount: Decimal
    status: RefundStatus
    raw_status: str = ""
    currency: str = "MXN"
    created_at: datetime | None = None
    raw: Mapping[str, Any] = _raw()


@dataclass(frozen=True, slots=True)
class ProviderTransaction:
    """A line of the provider's balance (charge, refund, fee, adjustment) for reconciliation."""

    provider: str
    provider_id: str
    type: str  # the provider's own type, e.g. "charge", "refund", "adjustment"
    amount: Decimal  # gross, negative for money out
    fee: Decimal
    net: Decimal
    status: str  # the provider's, e.g. "pending" or "available"
    created_at: datetime
    currency: str = "MXN"
    available_on: datetime | None = None
    source_id: str | None = None  # the charge/refund/payment behind the line
    settlement_id: str | None = None  # the payout that carried it to the bank, once known
    # The payment behind the line as the connector's ``charge`` names it (what Puente keeps
    # as ``provider_reference``), when it differs from ``source_id`` (Stripe: the charge's
    # PaymentIntent): lets a payout name the payments it carried.
    payment_id: str | None = None
    raw: Mapping[str, Any] = _raw()


@dataclass(frozen=True, slots=True)
class ProviderSettlement:
    """A payout/settlement from the provider to the institution's bank account."""

    provider: str
    provider_id: str
    amount: Decimal
    status: str  # the provider's, e.g. "pending", "in_transit", "paid", "failed"
    created_at: datetime
    currency: str = "MXN"
    arrival_date: datetime | None = None
    raw: Mapping[str, Any] = _raw()


@dataclass(frozen=True, slots=True)
class NormalisedEvent:
    """A verified webhook, reduced to what Puente acts on; dedupe on (provider, event_id)."""

    provider: str
    event_id: str
    type: str  # the provider's own event type
    kind: EventKind
    occurred_at: datetime
    provider_payment_id: str | None = None
    amount: Decimal | None = None
    puente_payment_id: str | None = None  # Puente's id echoed in metadata (puente_payment_in)
    raw: Mapping[str, Any] = _raw()
    # True only when the provider's scheme authenticates the *body* (a signature over it:
    # Stripe, Conekta, PayPal, bank API). Openpay's HTTP Basic and STP's allowlist vouch for
    # the sender only, and Mercado Pago signs only ``data.id``: such a body's status and
    # amount are hints, confirmed with the provider's API before any money moves.
    body_authenticated: bool = False


@dataclass(frozen=True, slots=True)
class WebhookDelivery:
    """One webhook as it reached us: the exact bytes, the headers, when and from where.

    ``now`` is the clock replay windows are measured with (``None``: the current time);
    ``client_ip`` is the sender's address, which a provider that signs nothing (STP) is
    authenticated by.
    """

    raw_body: bytes
    headers: Mapping[str, str]
    now: datetime | None = None
    client_ip: str | None = None


@dataclass(frozen=True, slots=True)
class BankBalance:
    """Money in a bank account right now."""

    provider: str
    account: str  # masked CLABE or account alias, never the full CLABE in logs
    available: Decimal
    as_of: datetime
    ledger: Decimal | None = None
    currency: str = "MXN"
    raw: Mapping[str, Any] = _raw()


@dataclass(frozen=True, slots=True)
class BankMovement:
    """One movement on a bank account (an abono or a cargo)."""

    provider: str
    provider_id: str
    direction: MovementDirection
    amount: Decimal  # always positive; ``direction`` says which way
    occurred_at: datetime
    currency: str = "MXN"
    clave_rastreo: str | None = None  # SPEI tracking key assigned by the sending bank
    counterparty_name: str | None = None
    counterparty_clabe: str | None = field(default=None, repr=False)
    concept: str | None = None
    reference: str | None = None  # referencia numérica
    raw: Mapping[str, Any] = _raw()


@dataclass(frozen=True, slots=True)
class SpeiTransferRequest:
    """Send money out by SPEI (a disbursement); ``idempotency_key`` doubles as clave de rastreo."""

    amount: Decimal
    clabe: str = field(repr=False)  # STYLE: never a CLABE in a log line
    beneficiary_name: str = field(repr=False)
    concept: str
    idempotency_key: str
    beneficiary_rfc: str | None = None
    reference: str | None = None  # referencia numérica, up to 7 digits

    def __post_init__(self) -> None:
        object.__setattr__(self, "amount", parse_amount(self.amount))
        if self.amount <= ZERO:
            raise ValueError("a transfer needs a positive amount")
        if not (self.clabe.isdigit() and len(self.clabe) == 18):
            raise ValueError("a CLABE has 18 digits")


@dataclass(frozen=True, slots=True)
class SpeiTransfer:
    """An outgoing SPEI transfer as the bank reports it."""

    provider: str
    provider_id: str
    status: TransferStatus
    amount: Decimal
    clave_rastreo: str | None = None
    raw_status: str = ""
    failure_message: str | None = None
    raw: Mapping[str, Any] = _raw()


@dataclass(frozen=True, slots=True)
class AccountHolder:
    """The result of checking who owns a CLABE before sending money to it."""

    clabe: str = field(repr=False)
    valid: bool = False
    holder_name: str | None = None
    bank_name: str | None = None
    name_matches: bool | None = None  # None when the bank does not say
    raw: Mapping[str, Any] = _raw()
