"""PUE or PPD, and the Complemento para recepción de pagos 2.0 (pure).

SAT's rule (Anexo 20 guide, RMF 2.7.1.32): a CFDI is **PUE** (pago en una sola exhibición)
when it is paid when it is issued, and **PPD** (pago en parcialidades o diferido) when it is
issued before it is paid; every payment then received on a PPD CFDI needs a CFDI of type
**P** with the Pagos 2.0 complement, naming each document paid (``DoctoRelacionado``: its
UUID, the installment number, the balance before, the amount paid, the balance after and
the taxes of what was paid).

Puente invoices what a payment collected by default (cash-basis IVA, LIVA art. 1-B: the
ledger moves IVA to *cobrado* per payment), so its CFDI are PUE. An institution that wants
each installment's interest invoiced when it falls due (the ledger's BILLING entry) sets
``settings["cfdi"]["metodo_pago"] = "PPD"``: the billed interest, IVA and fees of an
installment get a PPD ingreso, and each payment a complement for what it paid of them, with
the ledger's centavos. What a payment collects that was not billed that way (moratorium
interest, installments billed before the switch) is still invoiced PUE.
"""

from __future__ import annotations

from collections.abc import Collection, Iterable, Mapping, Sequence
from dataclasses import dataclass
from datetime import datetime
from decimal import Decimal

from satcfdi.create.cfd import cfdi40, pago20

from puente.invoicing.cfdi import Issuer, Recipient, parties
from puente.invoicing.lines import (
    VAT_RATE,
    LineProblem,
    split_vat_included,
    vat_within_sat_limits,
)
from puente.loans.engine import Component
from puente.money import ZERO, from_centavos

__all__ = [
    "BASE_OF",
    "METODOS_PAGO",
    "COMPLEMENT_CANCEL_REASONS",
    "BilledDocument",
    "PaidDocument",
    "billed_components",
    "build_payment_complement",
    "complement_cancel_reason",
    "metodo_pago",
    "paid_after_refund",
    "split_payment",
]

METODOS_PAGO = ("PUE", "PPD")
# Each IVA component and the base it is the tax of.
BASE_OF = {
    Component.INTEREST_VAT: Component.INTEREST,
    Component.FEE_VAT: Component.FEE,
    Component.LATE_INTEREST_VAT: Component.LATE_INTEREST,
}


def metodo_pago(settings: Mapping[str, object] | None) -> str:
    """The institution's choice (``settings["cfdi"]["metodo_pago"]``); PUE by default."""
    cfdi = (settings or {}).get("cfdi")
    value = str((cfdi or {}).get("metodo_pago") or "PUE").upper() if isinstance(cfdi, dict) else ""
    return value if value in METODOS_PAGO else "PUE"


# The motivo of a Complemento de Pagos cancelled because what it said was paid went back
# (nothing replaces it). UNCONFIRMED (shared/reference/mexico.md has no CFDI section): 02
# (errores sin relación) is the usual reading for a complement of a payment that did not
# stand; 03 (la operación no se llevó a cabo) is how Puente cancels a PUE ingreso refunded in
# full. The tax advisor chooses; 02 by default.
COMPLEMENT_CANCEL_REASONS = ("02", "03")


def complement_cancel_reason(settings: Mapping[str, object] | None) -> str:
    """``settings["cfdi"]["motivo_cancelacion_complemento"]``: 02 (default) or 03."""
    cfdi = (settings or {}).get("cfdi")
    value = (cfdi or {}).get("motivo_cancelacion_complemento") if isinstance(cfdi, dict) else None
    reason = str(value or "02").strip()
    if reason not in COMPLEMENT_CANCEL_REASONS:
        raise LineProblem(
            "cfdi.motivo_cancelacion_complemento debe ser 02 o 03 "
            "(un complemento sustituido se cancela con 01)."
        )
    return reason


@dataclass(frozen=True, slots=True)
class BilledDocument:
    """A stamped PPD ingreso of one installment, and what earlier payments paid of it."""

    invoice_id: int
    uuid: str
    serie: str
    folio: str
    installment: int
    components: frozenset[Component]  # what it billed (bases and their IVA)
    total: Decimal
    paid_before: Decimal = ZERO
    payments_before: int = 0


@dataclass(frozen=True, slots=True)
class PaidDocument:
    """One ``DoctoRelacionado``: what a payment paid of a PPD ingreso."""

    invoice_id: int
    uuid: str
    serie: str
    folio: str
    number: int  # NumParcialidad
    balance_before: Decimal  # ImpSaldoAnt
    taxed_base: Decimal  # paid bases whose IVA the document charged
    vat: Decimal  # the IVA paid (the ledger's)
    exempt_base: Decimal = ZERO  # paid bases billed without IVA

    @property
    def paid(self) -> Decimal:
        return self.taxed_base + self.vat + self.exempt_base

    @classmethod
    def from_dict(cls, item: Mapping[str, object], serie: str, folio: str) -> PaidDocument:
        """A ``DoctoRelacionado`` as ``as_dict`` stored it on the complement's row."""
        return cls(
            invoice_id=int(str(item["invoice"])),
            uuid=str(item["uuid"]),
            serie=serie,
            folio=folio,
            number=int(str(item["number"])),
            balance_before=Decimal(str(item["before"])),
            taxed_base=Decimal(str(item["base"])),
            vat=Decimal(str(item["vat"])),
            exempt_base=Decimal(str(item.get("exempt") or "0")),
        )

    def as_dict(self) -> dict[str, str | int]:
        return {
            "invoice": self.invoice_id,
            "uuid": self.uuid,
            "number": self.number,
            "before": str(self.balance_before),
            "paid": str(self.paid),
            "base": str(self.taxed_base),
            "vat": str(self.vat),
            "exempt": str(self.exempt_base),
        }


def split_payment(
    collected: Iterable[tuple[int | None, str | None, int]],
    billed: Mapping[int, BilledDocument],
) -> tuple[list[PaidDocument], dict[Component, Decimal]]:
    """What a payment paid of each PPD document, and the rest (for a PUE ingreso).

    ``collected``: the payment's postings on the loan's receivables, ``(installment,
    component, centavos)`` (credits negative, as the ledger keeps them).
    """
    per: dict[int | None, dict[Component, int]] = {}
    for installment, component, centavos in collected:
        if component is None or component == Component.PRINCIPAL.value:
            continue
        sums = per.setdefault(installment, {})
        sums[Component(component)] = sums.get(Component(component), 0) - centavos
    paid: list[PaidDocument] = []
    rest: dict[Component, int] = {}
    for installment in sorted(per, key=lambda n: -1 if n is None else n):
        document = billed.get(installment) if installment is not None else None
        for component, centavos in per[installment].items():
            if document is None or component not in document.components:
                rest[component] = rest.get(component, 0) + centavos
        if document is not None:
            mine = {c: v for c, v in per[installment].items() if c in document.components}
            if any(mine.values()):
                paid.append(_paid(document, mine))
    return paid, {c: from_centavos(v) for c, v in rest.items() if v}


def _paid(document: BilledDocument, amounts: Mapping[Component, int]) -> PaidDocument:
    vat = sum((amounts.get(c, 0) for c in BASE_OF), 0)
    taxed = sum(
        (amounts.get(base, 0) for tax, base in BASE_OF.items() if tax in document.components), 0
    )
    bases = {c for c in amounts if c not in BASE_OF}
    exempt = sum((amounts[c] for c in bases), 0) - taxed
    base, tax = from_centavos(taxed), from_centavos(vat)
    if (taxed or vat) and not vat_within_sat_limits(base, tax):
        # Only after a refund: it took an IVA line back before its base, so the payment that
        # pays the installment again pays them in another proportion. The total paid stays
        # the ledger's; its split is the credit note's (16 % of the base, SAT's limits).
        base, tax = split_vat_included(base + tax)
    return PaidDocument(
        invoice_id=document.invoice_id,
        uuid=document.uuid,
        serie=document.serie,
        folio=document.folio,
        number=document.payments_before + 1,
        balance_before=document.total - document.paid_before,
        taxed_base=base,
        vat=tax,
        exempt_base=from_centavos(exempt),
    )


def paid_after_refund(
    paid: Sequence[PaidDocument], given_back: Sequence[PaidDocument]
) -> list[PaidDocument]:
    """The ``DoctoRelacionado`` of a complement once a refund took back ``given_back`` (what
    ``split_payment`` makes of the refund entry's postings): per document the same number
    and balance before, paid less the ledger's centavos given back; a document paid nothing
    any more is left out (none left: the complement is cancelled, not replaced).

    The taxed part left is split into base and IVA by ``split_vat_included``, the rule of a
    credit note: a refund takes an IVA line before its base, so what is left of each is not
    16 % of the other any more, but their sum is the ledger's.
    """
    back = {document.invoice_id: document for document in given_back}
    unknown = set(back) - {document.invoice_id for document in paid}
    if unknown:
        raise LineProblem("El reembolso devuelve lo pagado de un CFDI que el complemento no pagó.")
    left = []
    for document in paid:
        taken = back.get(document.invoice_id)
        if taken is None:
            left.append(document)
            continue
        taxed = document.taxed_base + document.vat - taken.taxed_base - taken.vat
        exempt = document.exempt_base - taken.exempt_base
        if taxed < 0 or exempt < 0:
            raise LineProblem(
                f"El reembolso devuelve más de lo pagado del CFDI {document.uuid}; "
                "revisa el asiento."
            )
        if taxed + exempt == 0:
            continue
        is_taxed = document.taxed_base > 0 or document.vat > 0
        base, vat = split_vat_included(taxed) if is_taxed else (taxed, ZERO)
        left.append(
            PaidDocument(
                invoice_id=document.invoice_id,
                uuid=document.uuid,
                serie=document.serie,
                folio=document.folio,
                number=document.number,
                balance_before=document.balance_before,
                taxed_base=base,
                vat=vat,
                exempt_base=exempt,
            )
        )
    return left


def _taxes(document: PaidDocument) -> pago20.ImpuestosDR:
    traslados = []
    if document.taxed_base > 0 or document.vat > 0:
        if not vat_within_sat_limits(document.taxed_base, document.vat):
            raise LineProblem(
                f"El IVA pagado ({document.vat}) no es el 16 % de lo pagado "
                f"({document.taxed_base}) del CFDI {document.uuid}; revisa el asiento."
            )
        traslados.append(
            pago20.TrasladoDR(
                base_dr=document.taxed_base,
                impuesto_dr="002",
                tipo_factor_dr="Tasa",
                tasa_o_cuota_dr=VAT_RATE,
                importe_dr=document.vat,
            )
        )
    if document.exempt_base > 0:
        traslados.append(
            pago20.TrasladoDR(
                base_dr=document.exempt_base, impuesto_dr="002", tipo_factor_dr="Exento"
            )
        )
    return pago20.ImpuestosDR(traslados_dr=traslados)


def build_payment_complement(
    *,
    issuer: Issuer,
    recipient: Recipient,
    documents: Sequence[PaidDocument],
    paid_at: datetime,
    payment_form: str,
    folio: str,
    issued_at: datetime,
    replaces: str | None = None,
) -> cfdi40.Comprobante:
    """A CFDI of type P with Pagos 2.0 for one payment of PPD ingresos (satcfdi computes
    Monto, ImpuestosP, Totales and ImpSaldoInsoluto from the documents). ``replaces``: the
    complement it substitutes (TipoRelacion 04, the only relation a CFDI de pago takes;
    that one is then cancelled with motivo 01 naming this one)."""
    if not documents:
        raise LineProblem("El pago no cubre ningún CFDI en parcialidades.")
    for document in documents:
        if document.paid <= 0 or document.paid > document.balance_before:
            raise LineProblem(
                f"Lo pagado ({document.paid}) excede el saldo ({document.balance_before}) "
                f"del CFDI {document.uuid}."
            )
    related = [
        pago20.DoctoRelacionado(
            id_documento=document.uuid.upper(),
            serie=document.serie or None,
            folio=document.folio or None,
            moneda_dr="MXN",
            equivalencia_dr=Decimal(1),
            num_parcialidad=document.number,
            imp_saldo_ant=document.balance_before,
            imp_pagado=document.paid,
            objeto_imp_dr="02",
            impuestos_dr=_taxes(document),
        )
        for document in documents
    ]
    payment = pago20.Pago(
        fecha_pago=paid_at.replace(tzinfo=None, microsecond=0),
        forma_de_pago_p=payment_form,
        moneda_p="MXN",
        tipo_cambio_p=Decimal(1),
        docto_relacionado=related,
    )
    emisor, receptor = parties(issuer, recipient)
    return cfdi40.Comprobante.pago(
        emisor=emisor,
        lugar_expedicion=issuer.postal_code,
        receptor=receptor,
        complemento_pago=pago20.Pagos(pago=[payment]),
        cfdi_relacionados=(
            cfdi40.CfdiRelacionados(tipo_relacion="04", cfdi_relacionado=replaces.upper())
            if replaces
            else None
        ),
        serie=f"{issuer.series}REP",
        folio=folio,
        fecha=issued_at.replace(tzinfo=None, microsecond=0),
    )


def billed_components(rows: Collection[tuple[str | None, int]]) -> frozenset[Component]:
    """The components a billing entry made receivable (debits on the loan's receivables)."""
    return frozenset(Component(c) for c, cents in rows if c and cents > 0)
