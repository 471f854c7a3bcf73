"""Reading a watch-list file (pure): UTF-8 CSV, one person per row.

Header (Spanish, any column order; ``docs/compliance.md`` documents it)::

    lista,id,nombre,alias,curp,rfc,fecha_nacimiento

``lista`` is ``bloqueadas`` (UIF Lista de Personas Bloqueadas), ``pep`` or ``sanciones``;
``id`` the list's own id (unique per lista); ``alias`` other names separated by ``|``;
``curp``, ``rfc`` and ``fecha_nacimiento`` (AAAA-MM-DD) may be empty. A file with any bad
row is refused whole, naming the line, so a list is never half loaded.
"""

from __future__ import annotations

import csv
import io
from datetime import date
from typing import Final

from puente.compliance.screening import ListEntry, ListKind

__all__ = ["COLUMNS", "WatchlistFileError", "parse_watchlist"]

COLUMNS: Final = ("lista", "id", "nombre", "alias", "curp", "rfc", "fecha_nacimiento")


class WatchlistFileError(ValueError):
    """The file is malformed; the message names the line (never a person's data)."""


def _row(line: int, row: dict[str, str]) -> ListEntry:
    def cell(name: str) -> str:
        return (row.get(name) or "").strip()

    try:
        kind = ListKind(cell("lista").lower())
    except ValueError:
        raise WatchlistFileError(
            f"línea {line}: lista debe ser bloqueadas, pep o sanciones"
        ) from None
    if not cell("id") or len(cell("id")) > 64:
        raise WatchlistFileError(f"línea {line}: falta el id (máximo 64 caracteres)")
    if not cell("nombre") or len(cell("nombre")) > 300:
        raise WatchlistFileError(f"línea {line}: falta el nombre (máximo 300 caracteres)")
    born: date | None = None
    if cell("fecha_nacimiento"):
        try:
            born = date.fromisoformat(cell("fecha_nacimiento"))
        except ValueError:
            raise WatchlistFileError(f"línea {line}: fecha_nacimiento no es AAAA-MM-DD") from None
    curp, rfc = cell("curp").upper() or None, cell("rfc").upper() or None
    if (curp and len(curp) != 18) or (rfc and len(rfc) not in (12, 13)):
        raise WatchlistFileError(f"línea {line}: curp o rfc con longitud no válida")
    aliases = tuple(alias.strip() for alias in cell("alias").split("|") if alias.strip())
    return ListEntry(kind, cell("id"), cell("nombre"), aliases, curp, rfc, born)


def parse_watchlist(text: str) -> list[ListEntry]:
    """Every entry of the file, or :class:`WatchlistFileError` for the first bad line."""
    reader = csv.DictReader(io.StringIO(text.lstrip("\ufeff")))
    missing = [name for name in ("lista", "id", "nombre") if name not in (reader.fieldnames or [])]
    if missing:
        raise WatchlistFileError(f"línea 1: faltan columnas {', '.join(missing)}")
    entries: list[ListEntry] = []
    seen: set[tuple[ListKind, str]] = set()
    for line, row in enumerate(reader, start=2):
        if None in row:
            raise WatchlistFileError(f"línea {line}: más columnas que el encabezado")
        entry = _row(line, row)
        if (entry.kind, entry.entry_id) in seen:
            raise WatchlistFileError(f"línea {line}: id repetido en la lista {entry.kind.value}")
        seen.add((entry.kind, entry.entry_id))
        entries.append(entry)
    return entries
