"""Building, sealing and checking CFDI 4.0 documents with ``satcfdi``.

``satcfdi`` knows SAT's Anexo 20: its ``Comprobante`` computes SubTotal/Total from the
concepts, its ``to_xml(validate=True)`` checks the document against SAT's XSD (shipped with
the library), ``sign`` computes the cadena original (SAT's XSLT) and the RSA-SHA256 sello
with the issuer's CSD. Here: the shapes Puente issues (an ingreso for a collected payment, an
egreso credit note for a refund) and the checks a document must pass before it goes to a PAC.
"""

from __future__ import annotations

import base64
import functools
import os
import threading
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime
from decimal import Decimal
from typing import Any

from lxml import etree
from satcfdi.cfdi import CFDI
from satcfdi.create.cfd import cfdi40, iedu10
from satcfdi.models import Signer
from satcfdi.transform import SCHEMA_ROOT, SchemaCollector, cfdi_schemas
from satcfdi.utils import parser as xsd_parser

from puente.enums import PaymentMethodType
from puente.invoicing.lines import InvoiceLine

__all__ = [
    "GENERIC_RFC",
    "CfdiProblem",
    "Issuer",
    "Recipient",
    "StudentData",
    "build_credit_note",
    "build_invoice",
    "checked_cfdi",
    "forma_pago",
    "load_signer",
    "parties",
    "stamp_data",
    "validate_sat_schema",
    "verify_seal",
]

# SAT's RFC for the general public (Anexo 20 guide): a borrower who gave no RFC.
GENERIC_RFC = "XAXX010101000"
VAT_RATE = Decimal("0.160000")


class CfdiProblem(ValueError):
    """A CFDI that must not be sent to a PAC; the message says why (Spanish)."""


@dataclass(frozen=True, slots=True)
class Issuer:
    """The institution as emisor: RFC, name as registered, régimen fiscal, CP of issue."""

    rfc: str
    name: str
    regimen: str  # c_RegimenFiscal, e.g. 601 General de Ley Personas Morales
    postal_code: str  # LugarExpedicion
    series: str = "P"
    rvoe: str = ""  # schools: the RVOE / clave de centro de trabajo (IEDU AutRVOE)


@dataclass(frozen=True, slots=True)
class Recipient:
    """The borrower as receptor. Without an RFC: the general public's."""

    rfc: str
    name: str
    postal_code: str
    regimen: str = "616"  # sin obligaciones fiscales
    use: str = "S01"  # sin efectos fiscales

    @classmethod
    def general_public(cls, issuer: Issuer) -> Recipient:
        return cls(GENERIC_RFC, "PUBLICO EN GENERAL", issuer.postal_code)


@dataclass(frozen=True, slots=True)
class StudentData:
    """What the IEDU complement needs (Decreto DOF 26-12-2013: deductible tuition)."""

    name: str
    curp: str
    level: (
        str  # Preescolar, Primaria, Secundaria, Profesional técnico, Bachillerato o su equivalente
    )
    payer_rfc: str | None = None


# c_FormaPago per how the money arrived.
_FORMA_PAGO = {
    PaymentMethodType.CASH: "01",  # efectivo (OXXO/Paynet cash)
    PaymentMethodType.SPEI: "03",  # transferencia electrónica de fondos
    PaymentMethodType.PAYPAL: "31",  # intermediario pagos
}


def forma_pago(method: PaymentMethodType, provider: str, card_funding: str = "") -> str:
    """The c_FormaPago of a payment: cash 01, SPEI 03, PayPal 31, cards 04/28."""
    if method is PaymentMethodType.CARD:
        return "28" if card_funding == "debit" else "04"
    return _FORMA_PAGO.get(method, "99")


def load_signer(certificate: bytes, key: bytes, password: str) -> Signer:
    """The CSD as satcfdi's signer; refuses a key that does not match its certificate."""
    try:
        return Signer.load(certificate=certificate, key=key, password=password)
    except Exception as exc:  # noqa: BLE001 - cryptography raises several types here
        raise CfdiProblem("El CSD no es válido (certificado, llave o contraseña).") from exc


def _concept(line: InvoiceLine, student: StudentData | None, issuer: Issuer) -> cfdi40.Concepto:
    taxes: dict[str, Any]
    if line.vat is None:
        taxes = {"Traslados": cfdi40.Traslado(impuesto="002", tipo_factor="Exento", base=line.base)}
    else:
        taxes = {
            "Traslados": cfdi40.Traslado(
                impuesto="002",
                tipo_factor="Tasa",
                tasa_o_cuota=VAT_RATE,
                base=line.base,
                importe=line.vat,  # the ledger's IVA, never recomputed
            )
        }
    complement = None
    if student is not None and line.kind.value == "colegiatura":
        complement = iedu10.InstEducativas(
            nombre_alumno=student.name,
            curp=student.curp,
            nivel_educativo=student.level,
            aut_rvoe=issuer.rvoe,
            rfc_pago=student.payer_rfc,
        )
    return cfdi40.Concepto(
        clave_prod_serv=line.clave_prod_serv,
        cantidad=Decimal(1),
        clave_unidad=line.clave_unidad,
        descripcion=line.description,
        valor_unitario=line.base,
        objeto_imp="02",
        impuestos=taxes,
        complemento_concepto=complement,
    )


def parties(issuer: Issuer, recipient: Recipient) -> tuple[cfdi40.Emisor, cfdi40.Receptor]:
    emisor = cfdi40.Emisor(rfc=issuer.rfc, nombre=issuer.name, regimen_fiscal=issuer.regimen)
    receptor = cfdi40.Receptor(
        rfc=recipient.rfc,
        nombre=recipient.name,
        domicilio_fiscal_receptor=recipient.postal_code,
        regimen_fiscal_receptor=recipient.regimen,
        uso_cfdi=recipient.use,
    )
    return emisor, receptor


def _comprobante(
    issuer: Issuer,
    recipient: Recipient,
    lines: Sequence[InvoiceLine],
    *,
    tipo: str,
    serie: str,
    folio: str,
    payment_form: str,
    issued_at: datetime,
    student: StudentData | None = None,
    related: cfdi40.CfdiRelacionados | None = None,
    metodo_pago: str = "PUE",
) -> cfdi40.Comprobante:
    if not lines:
        raise CfdiProblem("No hay conceptos que facturar.")
    emisor, receptor = parties(issuer, recipient)
    return cfdi40.Comprobante(
        emisor=emisor,
        lugar_expedicion=issuer.postal_code,
        receptor=receptor,
        conceptos=[_concept(line, student, issuer) for line in lines],
        tipo_de_comprobante=tipo,
        serie=serie,
        folio=folio,
        forma_pago=payment_form,
        metodo_pago=metodo_pago,
        cfdi_relacionados=related,
        fecha=issued_at.replace(tzinfo=None, microsecond=0),
    )


def build_invoice(
    *,
    issuer: Issuer,
    recipient: Recipient,
    lines: Sequence[InvoiceLine],
    folio: str,
    payment_form: str,
    issued_at: datetime,
    student: StudentData | None = None,
    metodo_pago: str = "PUE",
) -> cfdi40.Comprobante:
    """An ingreso CFDI: PUE for money already collected (paid in one exhibition at issue,
    Anexo 20 guide: no Complemento de Pagos is due for it), or PPD for an installment
    billed before it is paid (FormaPago 99, por definir; each payment gets a complement,
    ``payments_complement.py``)."""
    return _comprobante(
        issuer,
        recipient,
        lines,
        tipo="I",
        serie=issuer.series,
        folio=folio,
        payment_form="99" if metodo_pago == "PPD" else payment_form,
        issued_at=issued_at,
        student=student,
        metodo_pago=metodo_pago,
    )


def build_credit_note(
    *,
    issuer: Issuer,
    recipient: Recipient,
    lines: Sequence[InvoiceLine],
    related_uuid: str,
    folio: str,
    payment_form: str,
    issued_at: datetime,
) -> cfdi40.Comprobante:
    """An egreso CFDI (nota de crédito, TipoRelacion 01) for money given back."""
    return _comprobante(
        issuer,
        recipient,
        lines,
        tipo="E",
        serie=f"{issuer.series}NC",
        folio=folio,
        payment_form=payment_form,
        issued_at=issued_at,
        related=cfdi40.CfdiRelacionados(tipo_relacion="01", cfdi_relacionado=related_uuid.upper()),
    )


@functools.cache
def _sat_schema(base: tuple[str, ...]) -> etree.XMLSchema:
    """SAT's XSD for a set of namespaces, compiled once (``satcfdi.transform.validate_xsd``
    compiles it on every call: most of a CFDI's cost)."""
    root = etree.fromstring(
        '<xs:schema xmlns:xs="http://www.w3.org/2001/XMLSchema"/>',
        base_url=os.path.join(SCHEMA_ROOT, "schema.xsd"),
        parser=xsd_parser,
    )
    for location in base:
        etree.SubElement(
            root,
            "{http://www.w3.org/2001/XMLSchema}import",
            attrib={"namespace": "", "schemaLocation": location},
        )
    return etree.XMLSchema(root)


_SCHEMA_LOCK = threading.Lock()  # an lxml validator keeps its error log: one user at a time


def validate_sat_schema(document: CFDI) -> None:
    """Refuse a document SAT's XSD refuses (the namespaces its complements need included)."""
    collector = SchemaCollector()
    cfdi_schemas[document.tag](collector, document)
    schema = _sat_schema(tuple(collector.base))
    with _SCHEMA_LOCK:
        if not schema.validate(document.to_xml()):
            raise CfdiProblem(f"El CFDI no cumple el esquema del SAT: {schema.error_log}")


def checked_cfdi(document: CFDI, signer: Signer) -> bytes:
    """Seal ``document`` with the CSD and return its XML once it passes SAT's XSD and its
    sello verifies against the certificate it carries (what a PAC checks first)."""
    document.sign(signer)
    validate_sat_schema(document)
    xml: bytes = document.xml_bytes()
    verify_seal(xml)
    return xml


def verify_seal(xml: bytes) -> None:
    """Refuse a CFDI whose Sello does not verify with its own Certificado."""
    from satcfdi.models.certificate import Certificate

    document = CFDI.from_xml(etree.fromstring(xml))
    certificate = Certificate.load_certificate(base64.b64decode(document["Certificado"]))
    if certificate.certificate_number != document["NoCertificado"]:
        raise CfdiProblem("El número de certificado no corresponde al certificado.")
    original = document.cadena_original().encode()
    if not certificate.verify_sha256(original, base64.b64decode(document["Sello"])):
        raise CfdiProblem("El sello del CFDI no corresponde a su cadena original.")


def stamp_data(xml: bytes) -> dict[str, str]:
    """The TimbreFiscalDigital of a stamped CFDI: UUID, FechaTimbrado, RfcProvCertif…"""
    document = CFDI.from_xml(etree.fromstring(xml))
    timbre = (document.get("Complemento") or {}).get("TimbreFiscalDigital")
    if not timbre:
        raise CfdiProblem("El CFDI no trae TimbreFiscalDigital.")
    return {key: str(value) for key, value in timbre.items() if value is not None}
