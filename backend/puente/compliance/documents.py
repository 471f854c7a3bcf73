"""Checking an uploaded KYC document (pure): kind, real file type and size.

The declared content type is never trusted alone: the first bytes must be a PDF, JPEG or PNG
signature and agree with it. Nothing here logs or echoes the file's content.
"""

from __future__ import annotations

from dataclasses import dataclass
from enum import StrEnum
from typing import Final

__all__ = ["ALLOWED_TYPES", "DocumentKind", "DocumentProblem", "checked_document"]


class DocumentKind(StrEnum):
    IDENTIFICATION = "identificacion"  # INE, pasaporte, cédula, FM2/FM3
    PROOF_OF_ADDRESS = "comprobante_domicilio"  # ≤ 3 months old (policy)


ALLOWED_TYPES: Final = {
    "application/pdf": b"%PDF-",
    "image/jpeg": b"\xff\xd8\xff",
    "image/png": b"\x89PNG\r\n\x1a\n",
}


class DocumentProblem(ValueError):
    """A document refused; ``message`` is Spanish and never repeats the file name."""

    def __init__(self, field: str, message: str) -> None:
        super().__init__(message)
        self.field = field
        self.message = message


@dataclass(frozen=True, slots=True)
class CheckedDocument:
    kind: DocumentKind
    content_type: str
    content: bytes


def _sniff(content: bytes) -> str | None:
    return next((kind for kind, magic in ALLOWED_TYPES.items() if content.startswith(magic)), None)


def checked_document(
    field: str, kind: DocumentKind, declared_type: str, content: bytes, max_bytes: int
) -> CheckedDocument:
    """The document if its type and size are acceptable, else :class:`DocumentProblem`."""
    if not content:
        raise DocumentProblem(field, "Adjunta el archivo.")
    if len(content) > max_bytes:
        raise DocumentProblem(
            field, f"El archivo es demasiado grande (máximo {max_bytes // (1024 * 1024)} MB)."
        )
    sniffed = _sniff(content)
    declared = (declared_type or "").split(";")[0].strip().lower()
    if sniffed is None or (
        declared and declared != sniffed and declared != "application/octet-stream"
    ):
        raise DocumentProblem(field, "Solo se aceptan archivos PDF, JPG o PNG.")
    return CheckedDocument(kind, sniffed, content)
