"""A provider's tables as data, and the shared code that reads them.

Each provider has a data module (``<name>_tables.py``) holding one ``ProviderTables``: its
payment-method names, status, refund-status and transfer-status tables, decline codes,
event kinds, and where its settlement (payout) and balance-line objects keep their fields.
Its ``ProviderSpec`` carries it (``spec.tables``); the mapping and webhook modules read it
through the methods here, so a provider's names live in one place and the reading of them
in another, shared by every provider.

The rules that are more than a lookup (Stripe's "requires_payment_method" meaning three
things, a refunded amount turning a succeeded payment into a refund) stay in the mapping
modules, beside the provider's documentation they follow.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from datetime import datetime
from decimal import Decimal
from types import MappingProxyType
from typing import Any

from puente.providers.errors import (
    MalformedResponse,
    PaymentDeclined,
    ProviderError,
    known_status,
    reading_response,
)
from puente.providers.values import (
    EventKind,
    PaymentMethod,
    PaymentStatus,
    ProviderSettlement,
    ProviderTransaction,
    RefundStatus,
    TransferStatus,
)

__all__ = ["DeclineTable", "ProviderTables", "RecordFields"]

# code -> (normalised decline, the provider's own name or a message for people)
DeclineTable = Mapping[str, tuple[type[PaymentDeclined], str]]


def _frozen(mapping: Mapping[Any, Any]) -> Mapping[Any, Any]:
    return MappingProxyType(dict(mapping))


def _empty() -> Any:
    return field(default_factory=lambda: MappingProxyType({}))


@dataclass(frozen=True, slots=True)
class RecordFields:
    """Where a payout or a balance line keeps its fields, and how its amounts and times read.

    ``amount`` and ``time`` convert the provider's raw values (integer centavos or decimal
    strings; unix seconds or ISO 8601). ``what`` names the object in error messages.
    """

    what: str
    created: str
    amount: Callable[[Any], Decimal]
    time: Callable[[Any], datetime | None]
    id: str = "id"
    value: str = "amount"
    status: str = "status"
    currency: str = "currency"
    arrival: str | None = None  # a payout's arrival date
    type: str = "type"  # a balance line's kind (charge, refund, fee...)
    fee: str = "fee"
    net: str = "net"
    available: str | None = None  # when a balance line's money becomes available
    source: str | None = None  # the field naming the charge a balance line comes from
    # A balance line's payment as ``charge`` names it: a dotted path ("source.payment_intent"
    # when the source is expanded); None: the source is the payment.
    payment: str | None = None
    settlement: str | None = None  # a balance line's field naming the payout that carried it


def _currency(obj: Mapping[str, Any], name: str) -> str:
    return str(obj.get(name) or "MXN").upper()


def _at(item: Mapping[str, Any], path: str | None) -> str | None:
    """The string at a dotted ``path`` of ``item`` (None when absent or not expanded)."""
    value: Any = item
    for name in (path or "").split(".") if path else ():
        value = value.get(name) if isinstance(value, Mapping) else None
    return str(value) if path and value not in (None, "") else None


def _source_id(value: Any) -> Any:
    # Expanded objects ({"id": ...}) and bare ids both name the source.
    return value.get("id") if isinstance(value, Mapping) else value


@dataclass(frozen=True, slots=True)
class ProviderTables:
    """One provider's names for things, as data (see the module docstring)."""

    provider: str
    methods: Mapping[str, PaymentMethod] = _empty()
    statuses: Mapping[str, PaymentStatus] = _empty()
    refund_statuses: Mapping[str, RefundStatus] = _empty()
    transfer_statuses: Mapping[str, TransferStatus] = _empty()
    declines: DeclineTable = _empty()
    # error code -> normalised error, for providers that answer with numeric/text codes
    errors: Mapping[Any, type[ProviderError]] = _empty()
    event_kinds: Mapping[str, EventKind] = _empty()
    # Event families that never change a payment in Puente's eyes (known, so not logged).
    ignored_prefixes: tuple[str, ...] = ()
    settlement: RecordFields | None = None
    transaction: RecordFields | None = None

    def __post_init__(self) -> None:
        for name in (
            "methods",
            "statuses",
            "refund_statuses",
            "transfer_statuses",
            "declines",
            "errors",
            "event_kinds",
        ):
            object.__setattr__(self, name, _frozen(getattr(self, name)))

    def status(self, raw: Any, *, what: str = "payment status") -> PaymentStatus:
        """A payment status from the table; one the table lacks is ``MalformedResponse``."""
        return known_status(self.statuses, raw, what=what, provider=self.provider)

    def refund_status(self, raw: Any) -> RefundStatus:
        """A refund status from the table; one the table lacks is ``MalformedResponse``."""
        return known_status(self.refund_statuses, raw, what="refund status", provider=self.provider)

    def transfer_status(self, raw: Any, *, what: str = "transfer status") -> TransferStatus:
        """A transfer status from the table; one the table lacks is ``MalformedResponse``."""
        return known_status(self.transfer_statuses, raw, what=what, provider=self.provider)

    def decline(
        self, code: str | None, default_name: str = ""
    ) -> tuple[type[PaymentDeclined], str]:
        """(decline class, name) for a decline code; an unknown code is a generic decline."""
        return self.declines.get(code or "", (PaymentDeclined, default_name))

    def event_kind(self, event_type: str) -> EventKind:
        """The kind of a plain event type: the table, else ignored by family, else unknown."""
        kind = self.event_kinds.get(event_type)
        if kind is not None:
            return kind
        return (
            EventKind.IGNORED if event_type.startswith(self.ignored_prefixes) else EventKind.UNKNOWN
        )

    def settlement_from(self, item: Mapping[str, Any]) -> ProviderSettlement:
        """A payout object read through ``self.settlement``."""
        fields = self._fields(self.settlement, "settlement")
        with reading_response(self.provider, fields.what):
            return ProviderSettlement(
                self.provider,
                item[fields.id],
                fields.amount(item[fields.value]),
                item[fields.status],
                self._created(fields, item),
                currency=_currency(item, fields.currency),
                arrival_date=fields.time(item.get(fields.arrival)) if fields.arrival else None,
                raw=item,
            )

    def transaction_from(
        self, item: Mapping[str, Any], settlement_id: str | None = None
    ) -> ProviderTransaction:
        """A balance line read through ``self.transaction``; ``settlement_id`` is the payout
        that carried it, when the caller listed it from one."""
        fields = self._fields(self.transaction, "transaction")
        with reading_response(self.provider, fields.what):
            return ProviderTransaction(
                self.provider,
                item[fields.id],
                item[fields.type],
                fields.amount(item[fields.value]),
                fields.amount(item.get(fields.fee) or 0),
                fields.amount(item[fields.net]),
                item[fields.status],
                self._created(fields, item),
                currency=_currency(item, fields.currency),
                available_on=fields.time(item.get(fields.available)) if fields.available else None,
                source_id=_source_id(item.get(fields.source)) if fields.source else None,
                settlement_id=settlement_id or _at(item, fields.settlement),
                payment_id=_at(item, fields.payment),
                raw=item,
            )

    def _fields(self, fields: RecordFields | None, kind: str) -> RecordFields:
        if fields is None:
            raise TypeError(f"{self.provider} has no {kind} fields in its tables")
        return fields

    def _created(self, fields: RecordFields, item: Mapping[str, Any]) -> datetime:
        created = fields.time(item.get(fields.created))
        if created is None:
            raise MalformedResponse(
                f"{fields.what} without '{fields.created}'", provider=self.provider
            )
        return created
