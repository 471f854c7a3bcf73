"""The simulated STP account: registered orders, incoming abonos, the balance, the callbacks.

Orders live from ``registra`` (estado ``A``) until they settle: on demand or ``settle_after``
seconds later, checked lazily on every request. Settling pays out (``LQ``, callback
``Exito``), returns the order for a CLABE in ``return_clabes`` (``D`` with causa 1, callback
``Devuelto``) or cancels it when the balance cannot cover it (``CN``, ``Cancelado``).
Incoming abonos are *pending* until a person "pays" them from the sandbox page; paying credits
the balance and sends the abono callback. Amounts are ``Decimal``; the JSON number on the wire
comes from ``formats.stp_monto``, written from STP's documentation.
"""

from __future__ import annotations

import re
from collections.abc import Mapping
from decimal import Decimal, InvalidOperation
from typing import Any

import clabe as clabe_lib

from puente.money import parse_amount
from puente_sandbox.core import IncomingTransfers, SandboxError, Simulator, SimulatorState
from puente_sandbox.formats import stp_fecha_operacion, stp_monto

__all__ = ["RETURN_CLABE", "StpError", "StpState", "public_row"]

Obj = dict[str, Any]
STP = "90646"
# The test CLABE whose transfers come back as "Cuenta inexistente" (causa 1).
RETURN_CLABE = "014180000000000000"
_CLAVE = re.compile(r"[A-Za-z0-9]{1,30}")
MANDATORY = (
    "empresa",
    "claveRastreo",
    "conceptoPago",
    "cuentaBeneficiario",
    "cuentaOrdenante",
    "institucionContraparte",
    "institucionOperante",
    "monto",
    "nombreBeneficiario",
    "tipoCuentaBeneficiario",
    "tipoPago",
    "firma",
)


class StpError(Exception):
    """A registra refusal: ``{"resultado": {"id": code, "descripcionError": message}}``."""

    def __init__(self, code: int, message: str) -> None:
        super().__init__(message)
        self.code = code
        self.message = message

    def body(self) -> Obj:
        """STP's error body."""
        return {"resultado": {"descripcionError": self.message, "id": self.code}}


class StpState(SimulatorState):
    """One empresa at STP: its CLABE, its balance, its orders and abonos."""

    def __init__(
        self,
        simulator: Simulator,
        *,
        empresa: str,
        cuenta: str,
        balance: Decimal,
        return_clabes: frozenset[str],
        settle_after: float | None,
    ) -> None:
        super().__init__(simulator)
        self.empresa, self.cuenta = empresa, cuenta
        self.balance = balance  # liquidated money; pending orders are "cargos pendientes"
        self.return_clabes = return_clabes
        self.settle_after = settle_after
        self._next_id = 7_000_001
        self.abonos = IncomingTransfers(self.store, "referencias", "abono", due="_monto")

    # -- helpers ------------------------------------------------------------------------------
    def _id(self) -> int:
        self._next_id += 1
        return self._next_id

    def now_ms(self) -> int:
        return int(self.clock() * 1000)

    def today(self) -> int:
        return stp_fecha_operacion(self.clock())

    def orders(self) -> list[Obj]:
        return self.store.all("ordenes")

    def pending_charges(self) -> Decimal:
        """Money promised to registered orders that have not settled yet."""
        return sum((o["_monto"] for o in self.orders() if o["estado"] == "A"), Decimal("0.00"))

    # -- registra ----------------------------------------------------------------------------
    def registra(self, body: Mapping[str, Any]) -> Obj:
        """Validate a signed order (firma already checked) and record it; STP's checks, in order."""
        clave = str(body["claveRastreo"])
        if not _CLAVE.fullmatch(clave):
            raise StpError(-34, f"Clave rastreo invalida : {clave}")
        try:
            monto = parse_amount(Decimal(str(body["monto"])).quantize(Decimal("0.01")))
        except (InvalidOperation, ValueError):
            raise StpError(-20, f"El monto {body['monto']} no es valido") from None
        if monto <= 0:
            raise StpError(-20, f"El monto {body['monto']} no es valido")
        if str(body["cuentaOrdenante"]) != self.cuenta:
            raise StpError(-7, f"La cuenta {body['cuentaOrdenante']} no existe")
        tipo = body["tipoCuentaBeneficiario"]
        if str(tipo) not in ("3", "10", "40"):
            raise StpError(-11, f"El tipo de cuenta {tipo} es invalido")
        institucion = str(body["institucionContraparte"])
        if institucion not in clabe_lib.BANKS.values():
            raise StpError(-9, f"La Institucion {institucion} no es valida")
        cuenta = str(body["cuentaBeneficiario"])
        if str(tipo) == "40":
            if not clabe_lib.validate_clabe(cuenta):
                raise StpError(-7, f"La cuenta {cuenta} no existe")
            if clabe_lib.BANKS.get(cuenta[:3]) != institucion:
                raise StpError(
                    -22, f"La cuenta {cuenta} no coincide para la institucion operante {STP}"
                )
        if cuenta == self.cuenta:
            raise StpError(-24, f"Cuenta {{{cuenta}}} - {{MISMA_CUENTA}}")
        today = self.today()
        if any(o["claveRastreo"] == clave and o["fechaOperacion"] == today for o in self.orders()):
            raise StpError(-1, f"La clave de rastreo {clave} ya fue utilizada")
        order: Obj = {
            "id": self._id(),
            "claveRastreo": clave,
            "conceptoPago": body.get("conceptoPago"),
            "cuentaBeneficiario": cuenta,
            "cuentaOrdenante": self.cuenta,
            "empresa": self.empresa,
            "estado": "A",
            "fechaOperacion": today,
            "folioOrigen": clave,
            "institucionContraparte": int(institucion),
            "institucionOperante": int(STP),
            "medioEntrega": body.get("medioEntrega"),
            "nombreBeneficiario": body.get("nombreBeneficiario"),
            "nombreOrdenante": body.get("nombreOrdenante"),
            "referenciaNumerica": body.get("referenciaNumerica"),
            "rfcCurpBeneficiario": body.get("rfcCurpBeneficiario"),
            "rfcCurpOrdenante": body.get("rfcCurpOrdenante"),
            "tipoCuentaBeneficiario": int(tipo),
            "tipoCuentaOrdenante": 40,
            "tipoPago": body.get("tipoPago"),
            "tsCaptura": self.now_ms(),
            "tsLiquidacion": None,
            "causaDevolucion": None,
            "_monto": monto,
        }
        self.store.put("ordenes", order)
        if self.settle_after == 0:
            self.settle(order)
        return {"resultado": {"id": order["id"]}}

    # -- settlement -----------------------------------------------------------------------------
    def settle_due(self) -> None:
        """Settle orders older than ``settle_after`` (the lazy stand-in for STP's clock)."""
        if self.settle_after is None:
            return
        due = self.now_ms() - int(self.settle_after * 1000)
        for order in self.orders():
            if order["estado"] == "A" and order["tsCaptura"] <= due:
                self.settle(order)

    def settle(self, order: Obj, *, devolver: bool = False) -> None:
        """Liquidate, return or cancel one registered order and send its cambio de estado."""
        if order["estado"] != "A":
            raise SandboxError(f"order {order['id']} is {order['estado']}, not pending", 409)
        order["tsLiquidacion"] = self.now_ms()
        if order["_monto"] > self.balance:
            order["estado"], callback = "CN", "Cancelado"  # saldo insuficiente
        elif devolver or order["cuentaBeneficiario"] in self.return_clabes:
            order["estado"], order["causaDevolucion"], callback = "D", 1, "Devuelto"
        else:
            order["estado"], callback = "LQ", "Exito"
            self.balance -= order["_monto"]
        self.emit(
            {
                "id": order["id"],
                "empresa": self.empresa,
                "folioOrigen": order["folioOrigen"],
                "estado": callback,
                "causaDevolucion": order["causaDevolucion"],
                "tsLiquidacion": order["tsLiquidacion"],
            }
        )

    def order(self, order_id: int) -> Obj:
        found = self.store.get("ordenes", order_id)
        if found is None:
            raise SandboxError(f"no order {order_id}", 404)
        return found

    # -- abonos -------------------------------------------------------------------------------
    def new_abono(self, params: Mapping[str, Any]) -> Obj:
        """A pending incoming transfer a person can "pay" from the sandbox page."""
        cuenta = str(params.get("cuentaBeneficiario") or params.get("clabe") or "")
        if not cuenta:
            body = self.cuenta[:10] + self.ids.digits(7)
            cuenta = body + clabe_lib.compute_control_digit(body)
        if not clabe_lib.validate_clabe(cuenta):
            raise SandboxError("cuentaBeneficiario is not a valid CLABE")
        ordenante = str(params.get("cuentaOrdenante") or "012180001234567899")
        if not clabe_lib.validate_clabe(ordenante):
            raise SandboxError("cuentaOrdenante is not a valid CLABE")
        monto = parse_amount(str(params.get("monto") or params.get("amount") or ""))
        if monto <= 0:
            raise SandboxError("monto must be positive")
        reference = {
            "id": "ab" + self.ids.digits(10),
            "cuentaBeneficiario": cuenta,
            "cuentaOrdenante": ordenante,
            "nombreOrdenante": str(params.get("nombreOrdenante") or "ANA LOPEZ GARCIA"),
            "conceptoPago": str(params.get("conceptoPago") or "PAGO COLEGIATURA"),
            "referenciaNumerica": int(params.get("referenciaNumerica") or self.ids.digits(7)),
            "_monto": monto,
        }
        return self.store.put("referencias", reference)

    def pay_abono(self, reference_id: str, amount: Decimal | None = None) -> Obj:
        """The payer's bank sends the transfer: credit the account, send the abono callback."""
        reference, monto = self.abonos.pay(reference_id, amount)
        ordenante = reference["cuentaOrdenante"]
        abono: Obj = {
            "id": self._id(),
            "fechaOperacion": self.today(),
            "institucionOrdenante": int(clabe_lib.BANKS[ordenante[:3]]),
            "institucionBeneficiaria": int(STP),
            "claveRastreo": "SBX" + self.ids.digits(12),
            "monto": stp_monto(monto),
            "nombreOrdenante": reference["nombreOrdenante"],
            "tipoCuentaOrdenante": 40,
            "cuentaOrdenante": ordenante,
            "rfcCurpOrdenante": "ND",
            "nombreBeneficiario": self.empresa,
            "tipoCuentaBeneficiario": 40,
            "cuentaBeneficiario": reference["cuentaBeneficiario"],
            "rfcCurpBeneficiario": "ND",
            "conceptoPago": reference["conceptoPago"],
            "referenciaNumerica": reference["referenciaNumerica"],
            "empresa": self.empresa,
            "tipoPago": 1,
            "tsLiquidacion": self.now_ms(),
        }
        self.balance += monto
        self.store.put("abonos", {**abono, "estado": "LQ", "_monto": monto})
        self.emit(abono)
        return abono

    # -- consultas ----------------------------------------------------------------------------
    def find_order(self, tipo: str, clave: str, fecha: int) -> Obj | None:
        kind = "ordenes" if tipo == "E" else "abonos"
        for obj in self.store.all(kind):
            if obj["claveRastreo"] == clave and obj["fechaOperacion"] == fecha:
                return obj
        return None

    def rows(self, tipo: str, fecha: int) -> list[Obj]:
        kind = "ordenes" if tipo == "E" else "abonos"
        return [o for o in self.store.all(kind) if o["fechaOperacion"] == fecha]


def public_row(obj: Mapping[str, Any]) -> Obj:
    """An order or abono as consultas show it: ``idEF``, ``monto`` as a JSON number."""
    row = {k: v for k, v in obj.items() if not k.startswith("_") and k != "id"}
    row["idEF"] = obj["id"]
    row["monto"] = stp_monto(obj["_monto"])
    return row
