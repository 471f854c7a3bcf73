"""Where each gateway keeps what identifies a received SPEI at Banxico (data + one reader).

Banxico's CEP service finds a transfer by date, clave de rastreo, sending bank (emisor),
receiving bank (receptor), beneficiary account and amount (mexico.md §5.2). STP's abono
names all of them. Gateways that take SPEI for us (Stripe, Openpay, Mercado Pago) show the
CLABE the payer paid into, documented, and the receiving bank follows from that CLABE's
first three digits (the ABM code, ``clabe.BANKS``). Where they keep the *clave de rastreo*
and the sending bank is **not documented** in their public API references:

* Stripe: a ``customer_cash_balance_transaction`` of type ``funded`` has
  ``funded.bank_transfer{type: "mx_bank_transfer", reference}`` (documented) and per-country
  sender details for eu/gb/jp/us only; an ``mx_bank_transfer`` hash like its siblings is
  UNCONFIRMED.
* Openpay: a SPEI charge (``method: bank_account``) documents ``payment_method{type:
  "bank_transfer", agreement, bank, clabe, name}``; nothing about the payer's transfer.
* Mercado Pago: a ``payment_method_id: "clabe"`` payment documents only
  ``transaction_details.external_resource_url``; the ``bank_info`` / ``bank_transfer_id``
  shape it uses for bank transfers elsewhere is UNCONFIRMED for Mexico.

So every path is data on the provider's spec (``ProviderSpec.spei_tracking``) and
``confirmed`` names the ones a public reference documents; change a path there (or give an
institution's own in ``settings["spei_tracking"][provider]``) once the provider confirms
where it puts the clave de rastreo. A payment whose object does not have them stays
``SIN_DATOS`` at the CEP check, never a guess.
"""

from __future__ import annotations

import json
from collections.abc import Mapping
from dataclasses import dataclass, field, replace
from importlib import resources
from typing import Any

from puente.providers.values import ReceivedSpei

__all__ = [
    "CONEKTA_SPEI",
    "MERCADOPAGO_SPEI",
    "OPENPAY_SPEI",
    "STRIPE_SPEI",
    "SpeiTrackingPaths",
    "read_spei_transfer",
    "value_at",
]


@dataclass(frozen=True, slots=True)
class SpeiTrackingPaths:
    """Dotted paths (``a.b.0.c``; digits index lists) into one provider object."""

    object: str  # which object of the provider carries them, in words
    clave_rastreo: str
    sender_bank: str = ""  # 5-digit Banxico code or 3-digit ABM code
    sender_account: str = ""  # the payer's CLABE: gives the sending bank when no code
    sender_name: str = ""
    beneficiary_account: str = ""  # the CLABE paid into: gives the receiving bank
    receiver_bank: str = ""
    confirmed: frozenset[str] = field(default_factory=frozenset)  # documented fields

    def overridden(self, paths: Mapping[str, str]) -> SpeiTrackingPaths:
        """These paths with an institution's own (unknown names ignored)."""
        known = {k: str(v) for k, v in paths.items() if k in _FIELDS}
        return replace(self, **known)  # type: ignore[arg-type]


_FIELDS = (
    "clave_rastreo",
    "sender_bank",
    "sender_account",
    "sender_name",
    "beneficiary_account",
    "receiver_bank",
)


def value_at(obj: Any, path: str) -> Any:
    """The value at a dotted path, or None when any step is missing."""
    if not path:
        return None
    for step in path.split("."):
        if isinstance(obj, Mapping):
            obj = obj.get(step)
        elif isinstance(obj, list) and step.isdigit() and int(step) < len(obj):
            obj = obj[int(step)]
        else:
            return None
        if obj is None:
            return None
    return obj


def _bank_code(value: Any) -> str | None:
    """A participant code as Banxico's CEP form takes it (5 digits)."""
    text = str(value or "").strip()
    if not text.isdigit():
        return None
    if len(text) == 3:  # the ABM code at the head of a CLABE
        return _from_abm(text)
    return text.zfill(5) if len(text) <= 5 else None


def _from_abm(abm: str) -> str | None:
    from clabe import BANKS  # the ABM → Banxico table cuenca-mx keeps

    code = BANKS.get(abm)
    return str(code) if code else None


def _from_clabe(value: Any) -> str | None:
    text = str(value or "").strip()
    return _from_abm(text[:3]) if len(text) == 18 and text.isdigit() else None


def _first(objects: tuple[Mapping[str, Any], ...], path: str) -> str | None:
    """The first object's value at ``path`` (text or number), as text."""
    for obj in objects:
        value = value_at(obj, path)
        if isinstance(value, (str, int)) and not isinstance(value, bool) and str(value).strip():
            return str(value).strip()
    return None


def read_spei_transfer(
    paths: SpeiTrackingPaths, *objects: Mapping[str, Any]
) -> ReceivedSpei | None:
    """What the provider's objects say about the SPEI behind a payment (each field from
    the first object that has it); None when none names a clave de rastreo."""
    clave = _first(objects, paths.clave_rastreo)
    if clave is None:
        return None
    sender_account = _first(objects, paths.sender_account)
    account = _first(objects, paths.beneficiary_account)
    return ReceivedSpei(
        clave_rastreo=clave,
        sender_bank=_bank_code(_first(objects, paths.sender_bank)) or _from_clabe(sender_account),
        receiver_bank=_bank_code(_first(objects, paths.receiver_bank)) or _from_clabe(account),
        beneficiary_account=account,
        sender_name=_first(objects, paths.sender_name),
    )


# -- the built-in gateways (catalogue.py puts each on its spec): the paths are data ----------
def _builtin(provider: str) -> SpeiTrackingPaths:
    row = dict(_BUILTIN[provider])
    confirmed = frozenset(row.pop("confirmed", ()))
    return SpeiTrackingPaths(confirmed=confirmed, **row)


_BUILTIN: dict[str, dict[str, Any]] = json.loads(
    resources.files("puente.providers").joinpath("spei_tracking.json").read_text("utf-8")
)
STRIPE_SPEI = _builtin("stripe")
OPENPAY_SPEI = _builtin("openpay")
MERCADOPAGO_SPEI = _builtin("mercadopago")
CONEKTA_SPEI = _builtin("conekta")
