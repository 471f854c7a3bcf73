"""Asking Banxico for the CEP of a SPEI transfer, with the ``cepmex`` client.

``cepmex`` (cuenca-mx/cep-python) replays Banxico's public form: ``POST {base}/valida.do``
(form: ``tipoCriterio=T``, ``fecha=dd-mm-yyyy``, ``criterio`` = clave de rastreo, ``emisor``,
``receptor``, ``cuenta``, ``monto``, ``receptorParticipante``, ``tipoConsulta=1``), then
``GET {base}/descarga.do?formato=XML`` with the session cookie. There is no official API:
Banxico rate-limits and the pages change, so every failure here is "try again later" except
a transfer Banxico says it has not (yet) got — and even that is retried, never fraud.

``cepmex`` is synchronous (``requests``) and keeps its base URL on a class: the call runs in a
worker thread under a lock, with ``Client.base_url`` set from ``PUENTE_CEP_BASE_URL`` (the
simulator in the demo and the tests).
"""

from __future__ import annotations

import asyncio
import threading
from dataclasses import dataclass
from datetime import date

from cep import Transferencia
from cep.client import BASE_URL, Client
from cep.exc import CepError, CepNotAvailableError, MaxRequestError, TransferNotFoundError
from lxml import etree

__all__ = ["BanxicoCep", "CepFound", "CepNotYet", "CepQuery", "CepUnavailable"]

_LOCK = threading.Lock()


class CepNotYet(Exception):
    """Banxico has no CEP for the transfer yet (not found, or found without a CEP)."""


class CepUnavailable(Exception):
    """Banxico could not be asked (network, rate limit, a page we do not understand)."""


@dataclass(frozen=True, slots=True)
class CepQuery:
    """What identifies a SPEI at Banxico (mexico.md §5.2)."""

    fecha: date
    clave_rastreo: str
    emisor: str  # 5-digit participant code of the sending bank
    receptor: str  # 5-digit participant code of the receiving bank
    cuenta: str  # the beneficiary's CLABE
    monto_centavos: int

    def as_dict(self) -> dict[str, object]:
        return {
            "fecha": self.fecha.isoformat(),
            "clave_rastreo": self.clave_rastreo,
            "emisor": self.emisor,
            "receptor": self.receptor,
            "cuenta": self.cuenta,
            "monto_centavos": self.monto_centavos,
        }

    @classmethod
    def from_dict(cls, data: dict[str, object]) -> CepQuery:
        return cls(
            date.fromisoformat(str(data["fecha"])),
            str(data["clave_rastreo"]),
            str(data["emisor"]),
            str(data["receptor"]),
            str(data["cuenta"]),
            int(str(data["monto_centavos"])),
        )


@dataclass(frozen=True, slots=True)
class CepFound:
    xml: bytes
    ordenante_name: str
    ordenante_rfc: str
    ordenante_account: str


def _ordenante(xml: bytes) -> tuple[str, str, str]:
    root = etree.fromstring(xml)
    node = root.find("Ordenante")
    if node is None:
        raise CepUnavailable("CEP sin nodo Ordenante")
    return node.get("Nombre", ""), node.get("RFC", ""), node.get("Cuenta", "")


class BanxicoCep:
    """Banxico's CEP service at ``base_url`` (``https://www.banxico.org.mx/cep`` by default)."""

    def __init__(self, base_url: str | None = None) -> None:
        self.base_url = (base_url or BASE_URL).rstrip("/")

    def _lookup_sync(self, query: CepQuery) -> CepFound:
        with _LOCK:
            Client.base_url = self.base_url
            try:
                transfer = Transferencia.validar(
                    fecha=query.fecha,
                    clave_rastreo=query.clave_rastreo,
                    emisor=query.emisor,
                    receptor=query.receptor,
                    cuenta=query.cuenta,
                    monto=query.monto_centavos,
                )
                xml = transfer.descargar("XML")
            except (TransferNotFoundError, CepNotAvailableError) as exc:
                raise CepNotYet(type(exc).__name__) from exc
            except (MaxRequestError, CepError) as exc:
                raise CepUnavailable(type(exc).__name__) from exc
            except AssertionError as exc:  # cepmex asserts the bank codes it knows
                raise CepUnavailable("clave de banco desconocida") from exc
            except Exception as exc:  # noqa: BLE001 - network errors, changed pages
                raise CepUnavailable(type(exc).__name__) from exc
        name, rfc, account = _ordenante(xml)
        return CepFound(xml, name, rfc, account)

    async def lookup(self, query: CepQuery) -> CepFound:
        """The CEP of the transfer; ``CepNotYet`` or ``CepUnavailable`` otherwise."""
        return await asyncio.to_thread(self._lookup_sync, query)
