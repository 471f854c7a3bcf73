"""Builders for compliance tests: a valid application form and its documents."""

from __future__ import annotations

from puente.compliance.onboarding_service import UploadedDocument

PDF = b"%PDF-1.7\n% INE de prueba\n"
PNG = b"\x89PNG\r\n\x1a\n" + b"\x00" * 32

FORM = {
    "given_names": "Juana",
    "paternal_surname": "Pérez",
    "maternal_surname": "Martínez",
    "birth_date": "1990-05-15",
    "birth_state": "JC",
    "nationality": "MX",
    "occupation": "Contadora",
    "monthly_income": "20000.00",
    "street": "Av. Juárez",
    "exterior_number": "100",
    "interior_number": "",
    "colonia": "Centro",
    "postal_code": "44100",
    "municipio": "Guadalajara",
    "state": "Jalisco",
    "phone": "3312345678",
    "email": "juana@example.mx",
    "curp": "PEMJ900515MJCRRN09",
    "rfc": "PEMJ900515AB7",
    "clabe": "012180001234567899",
    "own_account": "si",
    "beneficial_owner": "",
    "requested_amount": "12000.00",
    "term_count": "12",
    "proof_of_address_date": "2026-11-01",
}
DOCUMENTS = {
    "id_document": UploadedDocument("application/pdf", PDF),
    "proof_of_address": UploadedDocument("image/png", PNG),
}
BLOCKED_LIST = (
    "lista,id,nombre,alias,curp,rfc,fecha_nacimiento\n"
    "bloqueadas,UIF-77,PEREZ MARTINEZ JUANA,,,,1990-05-15\n"
    "pep,PEP-1,GOMEZ DIAZ EDUARDO,Lalo Gómez,,,\n"
)
