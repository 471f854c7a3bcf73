"""The regulatory text a statement carries, configurable per institution.

What a SOFOM E.N.R.'s estado de cuenta must show comes from CONDUSEF's transparency rules
(Disposiciones de carácter general en materia de transparencia … SOFOM E.N.R.); the exact
wording below is UNCONFIRMED (../shared/reference/mexico.md): an institution replaces any
of it with ``Institution.settings["statement"]`` = {"notices": [...], "une": "...",
"condusef": "..."} once its compliance officer has checked the current text.
"""

from __future__ import annotations

from puente.institutions.models import Institution

__all__ = ["DEFAULT_NOTICES", "statement_notices"]

DEFAULT_NOTICES = (
    "CAT (Costo Anual Total) para fines informativos y de comparación. Sin IVA.",
    "Incumplir tus obligaciones te puede generar comisiones e intereses moratorios.",
    "Contratar créditos que excedan tu capacidad de pago afecta tu historial crediticio.",
    "Tienes 90 días naturales a partir de la fecha de corte para objetar este estado de "
    "cuenta ante la Unidad Especializada de Atención a Usuarios (UNE) de tu institución.",
)
DEFAULT_CONDUSEF = (
    "CONDUSEF: 55 5340 0999 y 800 999 8080, www.gob.mx/condusef, asesoria@condusef.gob.mx"
)


def statement_notices(institution: Institution) -> tuple[list[str], str, str]:
    """(notices, UNE contact, CONDUSEF contact) for ``institution``'s statements."""
    custom = (institution.settings or {}).get("statement") or {}
    notices = [str(text) for text in custom.get("notices") or DEFAULT_NOTICES]
    une = str(custom.get("une") or f"UNE de {institution.name}: consulta su portal o sucursal.")
    return notices, une, str(custom.get("condusef") or DEFAULT_CONDUSEF)
