"""Gateway payouts: what each one carried (charges, refunds) and what the gateway kept.

``breakdown`` is pure: from the payout's balance lines it derives gross, fee and the IVA on
the fee (IVA acreditable). Stripe itemises the IVA (``fee_details`` of type ``tax``); for a
gateway that does not, the IVA is taken out of the fee at ``vat_rate`` (the fee is quoted
IVA included, as Mexican gateways bill it).
``fetch_settlements`` asks a connector for its payouts through the public listing methods
the connectors already have (``list_settlements``, ``list_settlement_transactions``).
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass
from datetime import date, datetime
from decimal import Decimal
from typing import Any

from tortoise.exceptions import IntegrityError

from puente.audit.service import record_audit
from puente.money import round_centavos, to_centavos
from puente.providers.values import ProviderSettlement, ProviderTransaction
from puente.reconciliation.models import GatewaySettlement
from puente.runtime import MEXICO_CITY

__all__ = [
    "Breakdown",
    "breakdown",
    "fetch_settlements",
    "payout_breakdowns",
    "record_settlement",
]

# Payout statuses of money that reached the bank (each provider's word for it).
_ARRIVED = frozenset({"paid", "completed", "succeeded"})
# Balance lines that are the payout itself, not money it carried.
_PAYOUT_TYPES = {"payout", "payout_cancel", "payout_failure"}


@dataclass(frozen=True, slots=True)
class Breakdown:
    """What one payout is made of, in centavos: ``gross - fee - fee_vat == net``."""

    gross: int
    fee: int
    fee_vat: int
    net: int
    payment_references: tuple[str, ...]


def _fee_vat(line: ProviderTransaction, vat_rate: Decimal) -> int:
    details: Sequence[Mapping[str, Any]] = line.raw.get("fee_details") or ()
    taxes = [d for d in details if d.get("type") == "tax"]
    if taxes:
        return sum(int(d.get("amount", 0)) for d in taxes)  # Stripe: centavos
    fee = line.fee
    return to_centavos(fee - round_centavos(fee / (1 + vat_rate)))


def breakdown(
    lines: Iterable[ProviderTransaction], vat_rate: Decimal = Decimal("0.16")
) -> Breakdown:
    """Gross, fee (without IVA), IVA on the fee and net of a payout's balance lines."""
    gross = fee = fee_vat = 0
    references: list[str] = []
    for line in lines:
        if line.type in _PAYOUT_TYPES:
            continue
        vat = _fee_vat(line, vat_rate)
        gross += to_centavos(line.amount)
        fee += to_centavos(line.fee) - vat
        fee_vat += vat
        reference = line.payment_id or line.source_id
        if reference and line.amount > 0:  # money in: a payment the payout carried
            references.append(reference)
    return Breakdown(gross, fee, fee_vat, gross - fee - fee_vat, tuple(references))


def _arrival(settlement: ProviderSettlement) -> date | None:
    when: datetime | None = settlement.arrival_date
    return when.astimezone(MEXICO_CITY).date() if when else None


async def record_settlement(
    institution_id: int,
    settlement: ProviderSettlement,
    parts: Breakdown,
) -> tuple[GatewaySettlement, bool]:
    """Store a payout once (a second fetch finds it); True when it is new."""
    existing = await GatewaySettlement.filter(
        institution_id=institution_id,
        provider=settlement.provider,
        provider_id=settlement.provider_id,
    ).first()
    if existing is not None:
        return existing, False
    if parts.net != to_centavos(settlement.amount):
        raise ValueError(
            f"el pago {settlement.provider_id} no cuadra: neto {parts.net} centavos según sus "
            f"movimientos, {to_centavos(settlement.amount)} según el proveedor"
        )
    try:
        row = await GatewaySettlement.create(
            institution_id=institution_id,
            provider=settlement.provider,
            provider_id=settlement.provider_id,
            status=settlement.status,
            net_centavos=parts.net,
            gross_centavos=parts.gross,
            fee_centavos=parts.fee,
            fee_vat_centavos=parts.fee_vat,
            arrival_date=_arrival(settlement),
            payment_references=list(parts.payment_references),
        )
    except IntegrityError:
        return await GatewaySettlement.get(
            institution_id=institution_id,
            provider=settlement.provider,
            provider_id=settlement.provider_id,
        ), False
    await record_audit(
        "reconciliation.settlement_recorded",
        institution_id=institution_id,
        subject_type="gateway_settlement",
        subject_id=row.id,
        data={"provider": settlement.provider, "payout": settlement.provider_id, "net": parts.net},
    )
    return row, True


async def payout_breakdowns(
    connector: Any, since: datetime
) -> list[tuple[ProviderSettlement, Breakdown]]:
    """Every payout since ``since`` that reached the bank, with what it carried (no storage).

    Uses the connector's payout breakdown where it has one (Stripe's
    ``list_settlement_transactions``), else its balance lines tagged with the payout.
    """
    found: list[tuple[ProviderSettlement, Breakdown]] = []
    settlements = await connector.list_settlements(since)
    by_payout: dict[str, list[ProviderTransaction]] | None = None
    for settlement in settlements:
        if settlement.status not in _ARRIVED:
            continue  # only money that reached the bank is expected there
        if hasattr(connector, "list_settlement_transactions"):
            lines = await connector.list_settlement_transactions(settlement.provider_id)
        else:
            if by_payout is None:
                by_payout = _by_payout(await connector.list_transactions(since), settlements)
            lines = by_payout.get(settlement.provider_id, [])
        found.append((settlement, breakdown(lines)))
    return found


def _by_payout(
    lines: Sequence[ProviderTransaction], settlements: Sequence[ProviderSettlement]
) -> dict[str, list[ProviderTransaction]]:
    """Balance lines grouped by the payout that carried them.

    Lines that name their payout (``settlement_id``: Conekta, Openpay, Mercado Pago) are
    grouped by it. Where none does (PayPal's report), a withdrawal takes the whole balance,
    so it carries every line since the previous withdrawal (UNCONFIRMED for a partial
    withdrawal made by hand: its payout will not add up and is refused, not guessed).
    """
    grouped: dict[str, list[ProviderTransaction]] = {}
    if any(line.settlement_id for line in lines):
        for line in lines:
            grouped.setdefault(line.settlement_id or "", []).append(line)
        return grouped
    payouts = {s.provider_id for s in settlements}
    rest = sorted((x for x in lines if x.provider_id not in payouts), key=lambda x: x.created_at)
    for settlement in sorted(settlements, key=lambda s: s.created_at):
        grouped[settlement.provider_id] = [x for x in rest if x.created_at <= settlement.created_at]
        rest = [x for x in rest if x.created_at > settlement.created_at]
    return grouped


async def fetch_settlements(
    connector: Any, institution_id: int, since: datetime
) -> list[tuple[GatewaySettlement, bool]]:
    """Every paid payout since ``since`` with its breakdown, stored once."""
    return [
        await record_settlement(institution_id, settlement, parts)
        for settlement, parts in await payout_breakdowns(connector, since)
    ]
