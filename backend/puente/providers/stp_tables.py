"""STP's names for things, as data (``ProviderTables``, read by ``tables.py``)."""

from __future__ import annotations

from puente.providers.errors import InvalidRequest, NotFound, PaymentDeclined
from puente.providers.tables import ProviderTables
from puente.providers.values import TransferStatus as T

__all__ = ["STP_TABLES"]

STP_TABLES = ProviderTables(
    provider="stp",
    # Estado of an order in consultas: enviada (C, PL, L, PA, A, E), liquidada (LQ), cancelada
    # (CN), devuelta (D), rechazada por Banxico (RB), retornada (RE), recibida (R).
    transfer_statuses={
        **dict.fromkeys(("C", "PL", "L", "PA", "A", "E", "R"), T.PENDING),
        "LQ": T.SUCCEEDED,
        "D": T.RETURNED,
        "RE": T.RETURNED,
        "CN": T.FAILED,
        "RB": T.FAILED,
    },
    # resultado.id -> normalised error; id 0 is split by its text (stp_mapping).
    errors={
        -1: InvalidRequest,  # claveRastreo ya utilizada (the connector resolves this one)
        -7: InvalidRequest,  # cuenta no existe
        -9: InvalidRequest,  # institución inválida
        -11: InvalidRequest,  # tipo de cuenta inválido
        -20: InvalidRequest,  # monto inválido
        -22: InvalidRequest,  # CLABE no coincide con la institución
        -24: InvalidRequest,  # misma cuenta ordenante y beneficiaria
        -34: InvalidRequest,  # clave de rastreo inválida
        -100: NotFound,  # no se encontraron órdenes
        -200: PaymentDeclined,  # rechazada por PLD (anti-money-laundering screening)
    },
)
