"""The simulated bank behind Puente's generic bank API: one account, payments, deposits, tokens.

A payment holds its amount (``available`` drops at once) until it settles, on demand or
``settle_after`` seconds later (checked lazily on each request): ``settled`` books a debit,
``returned`` (beneficiary CLABE in ``returned_clabes``) releases the hold. Deposits wait as
references a person "pays" from the sandbox page; paying books a credit. Every change queues a
webhook event. Amounts are ``Decimal`` inside and decimal strings on the wire.
"""

from __future__ import annotations

import re
import unicodedata
from collections.abc import Mapping
from datetime import UTC, datetime
from decimal import Decimal
from typing import Any

import clabe as clabe_lib

from puente.money import ZERO, parse_amount
from puente_sandbox.core import IncomingTransfers, SandboxError, Simulator, SimulatorState

__all__ = ["HOLDERS", "NOT_FOUND_CLABE", "RETURNED_CLABE", "BankError", "BankState", "iso"]

Obj = dict[str, Any]
_AMOUNT = re.compile(r"[0-9]{1,13}\.[0-9]{2}")  # the contract's decimal string: "150.00"
RETURNED_CLABE = "014180000000000000"  # payments to it come back (account closed)
NOT_FOUND_CLABE = "072580010000000001"  # the bank says no such account
# Account holders the verification endpoint knows (CLABE -> name, RFC).
HOLDERS: dict[str, tuple[str, str]] = {
    "012180001234567899": ("ANA LOPEZ GARCIA", "LOGA800101AB1"),
    "002010077777777771": ("LUIS PEREZ MARTINEZ", "PEML750505CD2"),
    RETURNED_CLABE: ("CUENTA CANCELADA SA DE CV", "CCA010101EF3"),
}


class BankError(Exception):
    """An API refusal: ``{"error": {"code", "message"}}`` with an HTTP status."""

    def __init__(self, status: int, code: str, message: str) -> None:
        super().__init__(message)
        self.status, self.code, self.message = status, code, message

    def body(self, request_id: str | None = None) -> Obj:
        """The contract's error body."""
        return {"error": {"code": self.code, "message": self.message, "request_id": request_id}}


def iso(moment: float) -> str:
    """ISO 8601 UTC with milliseconds and ``Z``, as the contract writes times."""
    text = datetime.fromtimestamp(moment, UTC).isoformat(timespec="milliseconds")
    return text.replace("+00:00", "Z")


def _plain_name(name: str) -> list[str]:
    text = unicodedata.normalize("NFKD", name).encode("ascii", "ignore").decode().upper()
    return [word for word in text.replace(".", " ").split() if word]


def _holder_name(clabe: str) -> str:
    return HOLDERS.get(clabe, ("ORDENANTE DE PRUEBA", ""))[0]


def name_match(given: str, holder: str) -> str:
    """``match`` (same words), ``partial`` (most words), else ``no_match``."""
    want, have = _plain_name(given), set(_plain_name(holder))
    if not want:
        return "no_match"
    if set(want) == have:
        return "match"
    return "partial" if sum(w in have for w in want) * 2 > len(want) else "no_match"


class BankState(SimulatorState):
    """One institution's account at the bank, in memory."""

    def __init__(
        self,
        simulator: Simulator,
        *,
        account_id: str,
        clabe: str,
        balance: Decimal,
        settle_after: float | None,
        returned_clabes: frozenset[str],
        not_found_clabes: frozenset[str],
    ) -> None:
        super().__init__(simulator)
        self.account_id, self.clabe = account_id, clabe
        self.ledger = balance
        self.settle_after = settle_after
        self.returned_clabes, self.not_found_clabes = returned_clabes, not_found_clabes
        self.deposits = IncomingTransfers(self.store, "deposits", "deposit")

    def event(self, event_type: str, obj: Obj) -> None:
        public = {k: v for k, v in obj.items() if not k.startswith("_")}
        self.emit(
            {
                "id": self.ids("evt_", 20),
                "type": event_type,
                "created_at": int(self.clock()),
                "data": {"object": public},
            }
        )

    def holds(self) -> Decimal:
        return sum(
            (p["_amount"] for p in self.store.all("payments") if p["status"] == "pending"), ZERO
        )

    def balance(self) -> Obj:
        return {
            "account_id": self.account_id,
            "clabe": self.clabe,
            "available": str(self.ledger - self.holds()),
            "ledger": str(self.ledger),
            "currency": "MXN",
            "as_of": iso(self.clock()),
        }

    # -- payments -------------------------------------------------------------------------------
    def create_payment(self, body: Mapping[str, Any]) -> Obj:
        beneficiary = body.get("beneficiary")
        if body.get("account_id") != self.account_id:
            raise BankError(404, "not_found", "No such account")
        if not isinstance(beneficiary, Mapping) or not beneficiary.get("name"):
            raise BankError(400, "invalid_request", "beneficiary with clabe and name is required")
        raw_amount = body.get("amount")
        if not isinstance(raw_amount, str) or not _AMOUNT.fullmatch(raw_amount):
            raise BankError(400, "invalid_request", 'amount must be a string like "150.00"')
        amount = parse_amount(raw_amount)
        if amount <= 0 or body.get("currency", "MXN") != "MXN":
            raise BankError(400, "invalid_request", "amount must be a positive MXN amount")
        clabe = str(beneficiary.get("clabe") or "")
        if not clabe_lib.validate_clabe(clabe):
            raise BankError(400, "invalid_clabe", "beneficiary.clabe is not a valid CLABE")
        if clabe in self.not_found_clabes:
            raise BankError(422, "account_not_found", "The beneficiary account does not exist")
        if amount > self.ledger - self.holds():
            raise BankError(422, "insufficient_funds", "Not enough available balance")
        payment: Obj = {
            "id": self.ids("pay_", 20),
            "object": "spei_payment",
            "account_id": self.account_id,
            "status": "pending",
            "amount": str(amount),
            "currency": "MXN",
            "beneficiary": {
                "clabe": clabe,
                "name": str(beneficiary["name"]),
                "rfc": beneficiary.get("rfc"),
                "bank": clabe_lib.get_bank_name(clabe),
            },
            "concept": str(body.get("concept") or ""),
            "reference": body.get("reference"),
            "clave_rastreo": "PTB" + self.ids.digits(17),
            "created_at": iso(self.clock()),
            "settled_at": None,
            "failure": None,
            "_amount": amount,
            "_created": self.clock(),
        }
        self.store.put("payments", payment)
        self.event("payment.created", payment)
        if self.settle_after == 0:
            self.settle(payment)
        return payment

    def payment(self, payment_id: str) -> Obj:
        found = self.store.get("payments", payment_id)
        if found is None:
            raise BankError(404, "not_found", f"No such payment: {payment_id}")
        return found

    def settle_due(self) -> None:
        if self.settle_after is None:
            return
        for payment in self.store.all("payments"):
            due = payment["_created"] + self.settle_after <= self.clock()
            if payment["status"] == "pending" and due:
                self.settle(payment)

    def settle(self, payment: Obj, *, return_it: bool = False) -> None:
        """SPEI settles the payment, or the receiving bank sends it back."""
        if payment["status"] != "pending":
            raise SandboxError(f"payment {payment['id']} is {payment['status']}", 409)
        payment["settled_at"] = iso(self.clock())
        if return_it or payment["beneficiary"]["clabe"] in self.returned_clabes:
            payment["status"] = "returned"
            payment["failure"] = {"code": "account_closed", "message": "Cuenta cancelada"}
            self.event("payment.returned", payment)
            return
        payment["status"] = "settled"
        self.ledger -= payment["_amount"]
        beneficiary = payment["beneficiary"]
        self._book("debit", payment["_amount"], payment["clave_rastreo"], beneficiary, payment)
        self.event("payment.settled", payment)

    def _book(
        self, direction: str, amount: Decimal, clave: str, party: Mapping[str, Any], source: Obj
    ) -> Obj:
        line: Obj = {
            "id": self.ids("tx_", 20),
            "direction": direction,
            "amount": str(amount),
            "currency": "MXN",
            "booked_at": iso(self.clock()),
            "clave_rastreo": clave,
            "counterparty": {"name": party.get("name"), "clabe": party.get("clabe")},
            "concept": source.get("concept"),
            "reference": source.get("reference"),
            "payment_id": source["id"] if direction == "debit" else None,
            "_at": self.clock(),
        }
        return self.store.put("transactions", line)

    # -- deposits -------------------------------------------------------------------------------
    def new_deposit(self, params: Mapping[str, Any]) -> Obj:
        amount = parse_amount(str(params.get("amount") or ""))
        if amount <= 0:
            raise SandboxError("amount must be positive")
        payer = str(params.get("payer_clabe") or "012180001234567899")
        if not clabe_lib.validate_clabe(payer):
            raise SandboxError("payer_clabe is not a valid CLABE")
        deposit: Obj = {
            "id": "dep_" + self.ids.digits(12),
            "payer": {"name": str(params.get("payer_name") or _holder_name(payer)), "clabe": payer},
            "concept": str(params.get("concept") or "PAGO COLEGIATURA"),
            "reference": str(params.get("reference") or self.ids.digits(7)),
            "_due": amount,
        }
        return self.store.put("deposits", deposit)

    def pay_deposit(self, deposit_id: str, amount: Decimal | None = None) -> Obj:
        deposit, paid = self.deposits.pay(deposit_id, amount)
        self.ledger += paid
        clave = "SBXB" + self.ids.digits(16)
        line = self._book("credit", paid, clave, deposit["payer"], deposit)
        self.event("deposit.received", line)
        return line

    # -- account verification -----------------------------------------------------------------
    def verify(self, body: Mapping[str, Any]) -> Obj:
        clabe = str(body.get("clabe") or "")
        if not clabe_lib.validate_clabe(clabe):
            raise BankError(400, "invalid_clabe", "clabe is not a valid CLABE")
        known = clabe not in self.not_found_clabes
        holder, rfc = HOLDERS.get(clabe, (None, None))
        answer: Obj = {
            "clabe": clabe,
            "valid": known,
            "holder_name": holder if known else None,
            "bank": clabe_lib.get_bank_name(clabe),
            "name_match": None,
            "rfc_match": None,
        }
        if known and holder and body.get("name"):
            answer["name_match"] = name_match(str(body["name"]), holder)
        if known and rfc and body.get("rfc"):
            answer["rfc_match"] = str(body["rfc"]).upper() == rfc
        return answer
