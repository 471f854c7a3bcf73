"""The Mercado Pago simulator's state machine: card tokens, customers, cards, payments.

No HTTP here: methods take decoded JSON, change the store, queue notifications and return
what Mercado Pago would answer, or raise ``MPError``. Amounts are ``Decimal`` pesos. Money
after the payment (refunds, chargebacks, search, payouts, reports) is ``mercadopago_money``.
"""

from __future__ import annotations

import copy
from collections.abc import Mapping
from decimal import Decimal
from typing import Any

from puente.money import ZERO
from puente_sandbox.core import Simulator, SimulatorState
from puente_sandbox.formats import iso_datetime
from puente_sandbox.lifecycle import lapsed
from puente_sandbox.mercadopago_money import COLLECTOR_ID, MercadoPagoMoney, Obj
from puente_sandbox.mercadopago_objects import (
    BY_NUMBER,
    HOLDER_OUTCOMES,
    MERCADOPAGO,
    MPError,
    TestCard,
    amount_param,
    end_of_day,
    mp_fee,
    mp_time,
    parse_test_token,
)

__all__ = ["COLLECTOR_ID", "MercadoPagoState", "Obj"]

OFFLINE = {"oxxo": "ticket", "paycash": "ticket", "clabe": "bank_transfer"}


class MercadoPagoState(MercadoPagoMoney, SimulatorState):
    """Everything one simulated Mercado Pago seller account holds."""

    def __init__(self, simulator: Simulator) -> None:
        super().__init__(simulator)
        # token -> (test card, cardholder outcome name, saved card id)
        self.tokens: dict[str, tuple[TestCard, str, str | None]] = {}
        self.cards_seen: dict[str, tuple[TestCard, str]] = {}  # saved card id -> card, holder
        self.settled: set[str] = set()  # balance lines already carried to the bank
        self._next_id = 1_316_000_000 + int(self.ids.digits(6))

    def now(self) -> str:
        """Mercado Pago's timestamp for now."""
        return mp_time(self.clock())

    def _number(self) -> int:
        self._next_id += 1 + int(self.ids.digits(1))
        return self._next_id

    def notify(self, topic: str, action: str, data_id: str) -> None:
        """Queue a Webhooks notification (the body names the object, nothing more)."""
        self.emit(
            {
                "id": self._number(),
                "live_mode": False,
                "type": topic,
                "date_created": self.now(),
                "user_id": COLLECTOR_ID,
                "api_version": "v1",
                "action": action,
                "data": {"id": data_id},
            }
        )

    def get(self, kind: str, object_id: str, label: str, code: int = 2000) -> Obj:
        """An object or Mercado Pago's 404."""
        found = self.store.get(kind, str(object_id))
        if found is None and str(object_id).isdigit():  # payments are keyed by their number
            found = self.store.get(kind, int(object_id))  # type: ignore[arg-type]
        if found is None:
            raise MPError.not_found(label, code)
        return found

    # -- card tokens, customers, cards --------------------------------------------------------
    def create_card_token(self, body: Mapping[str, Any]) -> Obj:
        """``POST /v1/card_tokens`` from a card number (what MercadoPago.js does) or a card_id."""
        card_id = body.get("card_id")
        if card_id:
            saved = self.get("cards", str(card_id), "Card", 2062)
            card, holder = self.cards_seen[saved["id"]]
        else:
            card = BY_NUMBER.get(str(body.get("card_number") or ""))
            if card is None:
                raise MPError(400, "invalid card_number", causes=[(205, "invalid card_number")])
            holder = str((body.get("cardholder") or {}).get("name") or "APRO").upper()
            if holder not in HOLDER_OUTCOMES:
                holder = "APRO"  # any other name is an ordinary, approved payer
        token = self.ids("", 32).lower()
        self.tokens[token] = (card, holder, str(card_id) if card_id else None)
        return {
            "id": token,
            "card_id": str(card_id) if card_id else None,
            "first_six_digits": card.number[:6],
            "last_four_digits": card.last4,
            "expiration_month": 11,
            "expiration_year": 2030,
            "cardholder": {"name": holder},
            "status": "active",
            "date_created": self.now(),
            "date_due": mp_time(self.clock() + 7 * 86400),
            "luhn_validation": True,
            "live_mode": False,
        }

    def use_token(self, token: str) -> tuple[TestCard, str, str | None]:
        """The card behind a token; made tokens work once, ``test_*`` tokens always."""
        test = parse_test_token(token)
        if test is not None:
            return test[0], test[1], None
        found = self.tokens.pop(token, None)
        if found is None:
            raise MPError(400, "Card Token not found", causes=[(2006, "Card Token not found")])
        return found

    def create_customer(self, body: Mapping[str, Any]) -> Obj:
        """``POST /v1/customers``; the email is required and unique per seller."""
        email = body.get("email")
        if not email:
            raise MPError(
                400, "email is required", causes=[(100, "the attribute email is required")]
            )
        if any(c["email"] == email for c in self.store.all("customers")):
            raise MPError(400, "the customer already exist", causes=[(101, "customer exists")])
        customer = {
            "id": f"{self.ids.digits(10)}-{self.ids('', 14)}",
            "email": email,
            "first_name": body.get("first_name"),
            "last_name": body.get("last_name"),
            "description": body.get("description"),
            "date_created": self.now(),
            "default_card": None,
            "cards": [],
            "live_mode": False,
        }
        return self.store.put("customers", customer)

    def create_card(self, customer_id: str, body: Mapping[str, Any]) -> Obj:
        """``POST /v1/customers/{id}/cards`` with a token."""
        customer = self.get("customers", customer_id, "Customer", 2002)
        if not body.get("token"):
            raise MPError(400, "token is required", causes=[(2006, "Card Token not found")])
        card, holder, _ = self.use_token(str(body["token"]))
        saved = {
            "id": self.ids.digits(10),
            "customer_id": customer["id"],
            "user_id": COLLECTOR_ID,
            "expiration_month": 11,
            "expiration_year": 2030,
            "first_six_digits": card.number[:6],
            "last_four_digits": card.last4,
            "payment_method": {
                "id": card.payment_method_id,
                "name": card.name,
                "payment_type_id": card.payment_type_id,
            },
            "security_code": {"length": card.security_code_length, "card_location": "back"},
            "issuer": {"id": card.issuer_id, "name": card.name},
            "cardholder": {"name": holder},
            "date_created": self.now(),
        }
        self.cards_seen[saved["id"]] = (card, holder)
        customer["cards"].append(copy.deepcopy(saved))
        customer["default_card"] = customer["default_card"] or saved["id"]
        return self.store.put("cards", saved)

    def card_of(self, customer_id: str, card_id: str) -> Obj:
        """``GET /v1/customers/{id}/cards/{card_id}``."""
        card = self.get("cards", card_id, "Card", 2062)
        if card["customer_id"] != customer_id:
            raise MPError.not_found("Card", 2062)
        return card

    # -- payments ----------------------------------------------------------------------------
    def _base_payment(self, body: Mapping[str, Any], amount: Decimal) -> Obj:
        payer = dict(body.get("payer") or {})
        return {
            "id": self._number(),
            "date_created": self.now(),
            "date_approved": None,
            "date_last_updated": self.now(),
            "date_of_expiration": None,
            "money_release_date": None,
            "money_release_status": None,
            "operation_type": "regular_payment",
            "collector_id": COLLECTOR_ID,
            "currency_id": "MXN",
            "description": body.get("description"),
            "external_reference": body.get("external_reference"),
            "metadata": dict(body.get("metadata") or {}),
            "live_mode": False,
            "payer": {
                "type": payer.get("type"),
                "id": payer.get("id"),
                "email": payer.get("email"),
                "first_name": payer.get("first_name"),
                "last_name": payer.get("last_name"),
            },
            "transaction_amount": amount,
            "transaction_amount_refunded": ZERO,
            "coupon_amount": ZERO,
            "installments": int(body.get("installments") or 1),
            "fee_details": [],
            "refunds": [],
            "captured": True,
            "binary_mode": bool(body.get("binary_mode")),
            "notification_url": body.get("notification_url"),
            "transaction_details": {
                "net_received_amount": ZERO,
                "total_paid_amount": amount,
                "overpaid_amount": ZERO,
                "installment_amount": amount,
                "external_resource_url": None,
                "payment_method_reference_id": None,
                "financial_institution": None,
            },
        }

    def create_payment(self, body: Mapping[str, Any], public_url: str) -> Obj:
        """``POST /v1/payments``: a card token, or an OXXO/Paycash ticket, or SPEI (clabe)."""
        amount = amount_param(body, "transaction_amount")
        assert amount is not None
        method_id = body.get("payment_method_id")
        if body.get("token"):
            payment = self._card_payment(body, amount)
        elif method_id in OFFLINE:
            payment = self._offline_payment(body, amount, str(method_id), public_url)
        else:
            raise MPError(
                400,
                "payment_method_id or token is required",
                causes=[(4020, "payment_method_id required")],
            )
        self.store.put("payments", payment)
        self.notify("payment", "payment.created", str(payment["id"]))
        return payment

    def _card_payment(self, body: Mapping[str, Any], amount: Decimal) -> Obj:
        card, holder, card_id = self.use_token(str(body["token"]))
        method_id = body.get("payment_method_id") or card.payment_method_id
        if method_id != card.payment_method_id:
            raise MPError(
                400, "Invalid payment_method_id", causes=[(3003, "Invalid card_token_id")]
            )
        status, detail = HOLDER_OUTCOMES[holder]
        if body.get("binary_mode") and status == "in_process":
            status, detail = "rejected", "cc_rejected_other_reason"  # binary: no pending
        payment = self._base_payment(body, amount)
        payment.update(
            payment_method_id=card.payment_method_id,
            payment_type_id=card.payment_type_id,
            issuer_id=str(card.issuer_id),
            payment_method={"id": card.payment_method_id, "type": card.payment_type_id},
            card={
                "id": card_id,
                "first_six_digits": card.number[:6],
                "last_four_digits": card.last4,
                "expiration_month": 11,
                "expiration_year": 2030,
                "cardholder": {"name": holder},
            },
            status=status,
            status_detail=detail,
        )
        if status == "approved":
            self._approve(payment)
        return payment

    def _offline_payment(
        self, body: Mapping[str, Any], amount: Decimal, method_id: str, public_url: str
    ) -> Obj:
        if not (body.get("payer") or {}).get("email"):
            raise MPError(400, "payer.email must be a valid email", causes=[(4050, "payer.email")])
        payment = self._base_payment(body, amount)
        expires = body.get("date_of_expiration") or end_of_day(self.clock(), 3)
        if iso_datetime(expires) is None:
            raise MPError(400, "Invalid date_of_expiration", causes=[(4035, "date")])
        url = f"{public_url}/_hosted/ticket/{payment['id']}"
        kind = OFFLINE[method_id]
        payment.update(
            payment_method_id=method_id,
            payment_type_id=kind,
            status="pending",
            date_of_expiration=expires,
        )
        payment["transaction_details"]["external_resource_url"] = url
        if kind == "ticket":
            reference = self.ids.digits(14)
            payment["transaction_details"]["payment_method_reference_id"] = reference
            payment["barcode"] = {"content": "0" + reference + self.ids.digits(15)}
            payment["payment_method"] = {"id": method_id, "type": kind}
            payment["status_detail"] = "pending_waiting_payment"
        else:
            from clabe import compute_control_digit  # SPEI only; keeps import cost local

            body_digits = "646180" + self.ids.digits(11)
            clabe = body_digits + compute_control_digit(body_digits)
            payment["payment_method"] = {
                "id": method_id,
                "type": kind,
                "data": {"reference_id": self.ids.digits(7), "external_reference_id": None},
            }
            payment["point_of_interaction"] = {
                "type": "SPEI",
                "transaction_data": {
                    "ticket_url": url,
                    "bank_info": {
                        "collector": {
                            "account_id": clabe,
                            "long_name": "STP",
                            "account_holder_name": "Mercado Pago - Puente Sandbox",
                        }
                    },
                },
            }
            payment["status_detail"] = "pending_waiting_transfer"
        return payment

    def _approve(self, payment: Obj) -> None:
        fee = mp_fee(payment["transaction_amount"])
        payment.update(
            status="approved",
            status_detail="accredited",
            date_approved=self.now(),
            date_last_updated=self.now(),
            money_release_date=self.now(),
            money_release_status="released",
            fee_details=[{"type": "mercadopago_fee", "amount": fee, "fee_payer": "collector"}],
        )
        payment["transaction_details"]["net_received_amount"] = payment["transaction_amount"] - fee

    def waiting(self, payment_id: str) -> Obj:
        """A payment whose OXXO ticket or SPEI transfer is still awaited."""
        payment = self.get("payments", payment_id, "Payment")
        if payment["status"] != "pending" or payment["payment_type_id"] not in (
            "ticket",
            "bank_transfer",
        ):
            raise MPError(409, f"payment {payment_id} is {payment['status']}; nothing to pay")
        return payment

    def pay(self, payment_id: str, amount: Decimal | None = None) -> None:
        """The payer pays the ticket or transfers to the CLABE (the exact amount only)."""
        payment = self.waiting(payment_id)
        due = iso_datetime(payment["date_of_expiration"])
        if due is not None and due.timestamp() < self.clock():
            raise MPError(409, "the reference has expired")
        if amount is not None and amount != payment["transaction_amount"]:
            raise MPError(409, "Mercado Pago accepts only the exact amount of the reference")
        if payment["payment_type_id"] == "bank_transfer":
            self._spei_landed(payment)
        self._approve(payment)
        self.notify("payment", "payment.updated", str(payment["id"]))

    def _spei_landed(self, payment: Obj) -> None:
        """The payer's transfer beside the collector's CLABE in ``bank_info`` (UNCONFIRMED
        names: ``puente.providers.spei_tracking.MERCADOPAGO_SPEI``)."""
        from puente_sandbox.spei_payers import payer_transfer  # SPEI only

        bank_info = payment["point_of_interaction"]["transaction_data"]["bank_info"]
        payer = payment.get("payer") or {}
        name = " ".join(filter(None, (payer.get("first_name"), payer.get("last_name"))))
        sent = payer_transfer(
            self.store,
            self.ids,
            self.clock(),
            beneficiary_clabe=bank_info["collector"]["account_id"],
            amount=Decimal(str(payment["transaction_amount"])),
            payer_name=name,
        )
        bank_info["payer"] = {
            "account_id": sent["ordenante_cuenta"],
            "long_name": sent["ordenante_nombre"],
            "tracking_key": sent["clave_rastreo"],
        }

    def expire(self, payment_id: str) -> None:
        """The reference lapses unpaid: cancelled/expired."""
        payment = self.waiting(payment_id)
        payment.update(status="cancelled", status_detail="expired", date_last_updated=self.now())
        self.notify("payment", "payment.updated", str(payment["id"]))

    def expire_due(self) -> None:
        """Lapse every reference past its date_of_expiration (runs before each request)."""
        for payment in self.store.all("payments"):
            due = iso_datetime(payment.get("date_of_expiration"))
            due_at = due.timestamp() if due is not None else None
            if lapsed(MERCADOPAGO.phase(payment["status"]), due_at, self.clock()):
                self.expire(str(payment["id"]))
