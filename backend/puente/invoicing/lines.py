"""What a CFDI of a collected payment says (pure): its concepts, from the ledger's components.

IVA on interest is caused when the interest is effectively collected (LIVA art. 1-B), and
that is how the ledger books it (``loans/postings.allocation_lines`` moves IVA from
*no cobrado* to *cobrado* per payment). So the invoice of a payment is made from what the
payment's journal entries credited, per component: ordinary interest, moratorium interest,
fees, each with the IVA the ledger collected for it — the same centavos, never recomputed.
Principal is a return of the money lent, not income: it is never invoiced, except in a
tuition plan, where the ``FEE`` component *is* the colegiatura (``tuition/engine.py``).
"""

from __future__ import annotations

from collections.abc import Collection, Iterable, Mapping
from dataclasses import dataclass, field
from decimal import ROUND_CEILING, ROUND_FLOOR, Decimal
from enum import StrEnum
from typing import Final

from puente.loans.engine import Component
from puente.money import ZERO, from_centavos

__all__ = [
    "DEFAULT_CATALOG",
    "ConceptKind",
    "InvoiceCatalog",
    "InvoiceLine",
    "LineProblem",
    "collected_by_component",
    "credit_note_lines",
    "invoice_lines",
    "split_vat_included",
    "vat_within_sat_limits",
]

VAT_RATE: Final = Decimal("0.160000")


class ConceptKind(StrEnum):
    INTEREST = "intereses"
    LATE_INTEREST = "intereses_moratorios"
    FEE = "comisiones"
    TUITION = "colegiatura"
    TUITION_SURCHARGE = "recargo_colegiatura"


@dataclass(frozen=True, slots=True)
class CatalogEntry:
    """The SAT keys of one kind of concept (c_ClaveProdServ, c_ClaveUnidad) and its text."""

    clave_prod_serv: str
    description: str
    clave_unidad: str = "E48"  # unidad de servicio


# Defaults, overridable per institution (``settings["cfdi"]["conceptos"]``): which ClaveProdServ
# a lender uses is the tax advisor's call (UNCONFIRMED, mexico.md §2.2).
DEFAULT_CATALOG: Final[Mapping[ConceptKind, CatalogEntry]] = {
    ConceptKind.INTEREST: CatalogEntry("84101700", "Intereses ordinarios"),
    ConceptKind.LATE_INTEREST: CatalogEntry("84101700", "Intereses moratorios"),
    ConceptKind.FEE: CatalogEntry("84101700", "Comisiones"),
    ConceptKind.TUITION: CatalogEntry("86121500", "Colegiatura"),
    ConceptKind.TUITION_SURCHARGE: CatalogEntry("86121500", "Recargo por pago tardío"),
}


@dataclass(frozen=True, slots=True)
class InvoiceCatalog:
    entries: Mapping[ConceptKind, CatalogEntry] = field(default_factory=lambda: DEFAULT_CATALOG)

    def __getitem__(self, kind: ConceptKind) -> CatalogEntry:
        return self.entries[kind]


class LineProblem(ValueError):
    """The ledger's amounts cannot be expressed as a valid CFDI (message in Spanish)."""


@dataclass(frozen=True, slots=True)
class InvoiceLine:
    """One concept: its base and the IVA collected on it (None: no IVA object, 0 rate)."""

    kind: ConceptKind
    clave_prod_serv: str
    clave_unidad: str
    description: str
    base: Decimal
    vat: Decimal | None  # None: IVA exento (RVOE tuition, LIVA art. 15 fr. XII)

    @property
    def total(self) -> Decimal:
        return self.base + (self.vat or ZERO)


def collected_by_component(rows: Iterable[tuple[str | None, int]]) -> dict[Component, Decimal]:
    """What a payment collected per component, from its postings on the loan's receivables
    (``(component, amount_centavos)``; credits are negative, so collected = −sum)."""
    sums: dict[Component, int] = {}
    for component, centavos in rows:
        if component is None:
            continue
        key = Component(component)
        sums[key] = sums.get(key, 0) - centavos
    return {key: from_centavos(value) for key, value in sums.items() if value}


def vat_within_sat_limits(base: Decimal, vat: Decimal, rate: Decimal = VAT_RATE) -> bool:
    """Whether SAT accepts ``vat`` as the IVA of ``base`` (Anexo 20, Traslado Importe:
    between (Base − 0.005) × Tasa truncated and (Base + 0.005) × Tasa rounded up)."""
    half = Decimal("0.005")
    low = ((base - half) * rate).quantize(Decimal("0.01"), rounding=ROUND_FLOOR)
    high = ((base + half) * rate).quantize(Decimal("0.01"), rounding=ROUND_CEILING)
    return low <= vat <= high


def split_vat_included(total: Decimal, rate: Decimal = VAT_RATE) -> tuple[Decimal, Decimal]:
    """Base and IVA of an amount given back with its IVA included: Base = total / 1.16 to the
    centavo, IVA = the rest, so the two add up to the ledger's total and SAT accepts the IVA.

    A refund unwinds the last-applied money first (``payments/refunds.py``), which takes an
    IVA line before its base: what was given back of a concept is the ledger's to the
    centavo, but not already split at 16 %. Credit notes and the Complemento de Pagos that
    replaces one after a refund both split it here."""
    base = (total / (1 + rate)).quantize(Decimal("0.01"))
    return base, total - base


def _line(
    kind: ConceptKind, catalog: InvoiceCatalog, base: Decimal, vat: Decimal | None
) -> InvoiceLine:
    entry = catalog[kind]
    if vat is not None and not vat_within_sat_limits(base, vat):
        raise LineProblem(
            f"El IVA cobrado ({vat}) no corresponde al 16 % de {entry.description.lower()} "
            f"({base}); revisa el asiento antes de facturar."
        )
    return InvoiceLine(
        kind, entry.clave_prod_serv, entry.clave_unidad, entry.description, base, vat
    )


def _pairs(tuition: bool) -> tuple[tuple[ConceptKind, Component, Component], ...]:
    return (
        (
            ConceptKind.TUITION if tuition else ConceptKind.FEE,
            Component.FEE,
            Component.FEE_VAT,
        ),
        (
            ConceptKind.TUITION_SURCHARGE if tuition else ConceptKind.LATE_INTEREST,
            Component.LATE_INTEREST,
            Component.LATE_INTEREST_VAT,
        ),
        (ConceptKind.INTEREST, Component.INTEREST, Component.INTEREST_VAT),
    )


def credit_note_lines(
    given_back: Mapping[Component, Decimal],
    taxed: Collection[ConceptKind],
    *,
    tuition: bool = False,
    catalog: InvoiceCatalog | None = None,
) -> list[InvoiceLine]:
    """The concepts of a credit note for what a refund took back (``taxed``: the concepts the
    ingreso charged IVA on).

    Per concept the total given back is the ledger's to the centavo, split into base and
    16 % IVA by ``split_vat_included``. A concept that was exempt stays exempt.
    """
    catalog = catalog or InvoiceCatalog()
    lines = []
    for kind, base_component, vat_component in _pairs(tuition):
        total = given_back.get(base_component, ZERO) + given_back.get(vat_component, ZERO)
        if total <= 0:
            continue
        if kind in taxed:
            lines.append(_line(kind, catalog, *split_vat_included(total)))
        else:
            lines.append(_line(kind, catalog, total, None))
    return lines


def invoice_lines(
    collected: Mapping[Component, Decimal],
    *,
    tuition: bool = False,
    catalog: InvoiceCatalog | None = None,
) -> list[InvoiceLine]:
    """The concepts of the CFDI for what one payment collected (empty: nothing to invoice).

    A base whose IVA the ledger collected is taxed at 16 %; a base without IVA is exempt
    (RVOE tuition, exempt credit): the product's ``vat_rate`` decided it when it was billed.
    """
    catalog = catalog or InvoiceCatalog()
    lines = []
    for kind, base_component, vat_component in _pairs(tuition):
        base = collected.get(base_component, ZERO)
        vat = collected.get(vat_component, ZERO)
        if base <= 0 and vat <= 0:
            continue
        if base <= 0:
            raise LineProblem("Se cobró IVA sin su base; revisa el asiento antes de facturar.")
        lines.append(_line(kind, catalog, base, vat if vat > 0 else None))
    return lines
