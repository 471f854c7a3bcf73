"""Saved cards: keep a card at the provider, list, make default, delete (there too).

Puente stores the provider's customer and card ids, the brand, the last four digits and
the expiry; the card number and CVV never reach it (the provider's script tokenises them).
"""

from __future__ import annotations

import hashlib
import logging

from tortoise.transactions import in_transaction

from puente.accounts.models import User
from puente.audit.service import record_audit
from puente.collections.errors import CollectionRefused
from puente.collections.mandates import stop_mandates_of_card
from puente.collections.models import MandateStatus
from puente.enums import PaymentMethodType, Role
from puente.institutions.models import Institution
from puente.payments.gateways import GatewayDirectory, NoProviderAccount
from puente.payments.models import PaymentMethod
from puente.providers.errors import PaymentDeclined, ProviderError
from puente.providers.registry import UnknownProvider, provider_spec
from puente.providers.values import CustomerInfo
from puente.providers.vault import CardVault, card_vault

__all__ = ["delete_card", "list_cards", "make_default", "save_card"]

# Who pays a loan and so may keep a card: a borrower, or a parent paying tuition.
PAYERS = frozenset({Role.BORROWER, Role.GUARDIAN, Role.STUDENT})

log = logging.getLogger("puente.collections")

NOT_AVAILABLE = "Ese proveedor no guarda tarjetas."


async def _vault(gateways: GatewayDirectory, user: User, provider: str) -> CardVault:
    # The spec says whether the provider keeps cards at all (a plug-in's as a built-in's);
    # a name no registered provider has is refused the same way, before any account lookup.
    try:
        keeps_cards = provider_spec(provider).card_vault is not None
    except UnknownProvider:
        keeps_cards = False
    if not keeps_cards:
        raise CollectionRefused("PROVIDER_NOT_AVAILABLE", NOT_AVAILABLE, "provider")
    institution = await Institution.get(id=user.institution_id)
    try:
        connector = await gateways.gateway(institution, provider)
    except NoProviderAccount:
        raise CollectionRefused("PROVIDER_NOT_AVAILABLE", NOT_AVAILABLE, "provider") from None
    vault = card_vault(connector)
    if vault is None:
        raise CollectionRefused("PROVIDER_NOT_AVAILABLE", NOT_AVAILABLE, "provider")
    return vault


async def _customer_id(vault: CardVault, user: User, provider: str) -> str:
    """The borrower's customer at the provider: the one a saved card already names, or new."""
    known = (
        await PaymentMethod.filter(
            user_id=user.id, provider=provider, provider_customer_id__not_isnull=True
        )
        .order_by("id")
        .values_list("provider_customer_id", flat=True)
    )
    if known:
        return str(known[0])
    customer = await vault.open_customer(
        CustomerInfo(name=user.full_name, email=user.email, external_id=str(user.id)),
        idempotency_key=f"puente-customer-{user.id}-{provider}",
    )
    return customer.provider_id


async def save_card(
    gateways: GatewayDirectory,
    user: User,
    provider: str,
    card_token: str,
    *,
    make_default: bool = True,
) -> PaymentMethod:
    """Keep ``card_token`` (single-use, from the provider's script) as the user's card."""
    if Role(user.role) not in PAYERS:
        raise CollectionRefused("FORBIDDEN", "Solo quien paga un crédito guarda tarjetas.")
    token = (card_token or "").strip()
    if not token or len(token) > 200:
        raise CollectionRefused("CARD_REQUIRED", "Falta la tarjeta.", "cardToken")
    vault = await _vault(gateways, user, provider)
    try:
        customer_id = await _customer_id(vault, user, provider)
        # Keyed by the token (the same token sent again is the same card) but never showing
        # it: idempotency keys end up in the provider's logs and ours.
        digest = hashlib.sha256(token.encode()).hexdigest()[:24]
        card = await vault.keep_card(
            customer_id, token, idempotency_key=f"puente-card-{user.id}-{digest}"
        )
    except PaymentDeclined as exc:
        raise CollectionRefused(
            "CARD_DECLINED", "El banco rechazó la tarjeta; prueba con otra.", "cardToken"
        ) from exc
    except ProviderError as exc:
        log.warning("saving a %s card failed (%s)", provider, exc.code)
        raise CollectionRefused(
            "CARD_NOT_SAVED", "No pudimos guardar la tarjeta; inténtalo de nuevo.", "cardToken"
        ) from exc
    same = await PaymentMethod.filter(
        user_id=user.id, provider=provider, provider_token=card.provider_id, is_active=True
    ).first()
    if same is not None:  # the same token sent again (a reloaded form): the same card
        return same
    async with in_transaction() as tx:
        has_default = (
            await PaymentMethod.filter(user_id=user.id, is_active=True, is_default=True)
            .using_db(tx)
            .exists()
        )
        default = make_default or not has_default
        if default:
            await PaymentMethod.filter(user_id=user.id).using_db(tx).update(is_default=False)
        label = f"{(card.brand or 'tarjeta').capitalize()} •••• {card.last4 or '????'}"
        method = await PaymentMethod.create(
            institution_id=user.institution_id,
            user_id=user.id,
            provider=provider,
            method=PaymentMethodType.CARD,
            provider_token=card.provider_id,
            provider_customer_id=card.customer_id or customer_id,
            card_brand=(card.brand or "")[:20] or None,
            card_last4=(card.last4 or "")[-4:] or None,
            card_exp_month=card.exp_month,
            card_exp_year=card.exp_year,
            label=label[:100],
            is_default=default,
            using_db=tx,
        )
        await record_audit(
            "payment_method.saved",
            actor_id=user.id,
            institution_id=user.institution_id,
            subject_type="payment_method",
            subject_id=method.id,
            data={"provider": provider, "last4": method.card_last4},
            conn=tx,
        )
    return method


async def list_cards(user: User) -> list[PaymentMethod]:
    """The user's active saved methods, the default first."""
    return await PaymentMethod.filter(user_id=user.id, is_active=True).order_by("-is_default", "id")


async def _own(user: User, method_id: int) -> PaymentMethod:
    method = await PaymentMethod.filter(id=method_id, user_id=user.id, is_active=True).first()
    if method is None:
        raise CollectionRefused("PAYMENT_METHOD_NOT_FOUND", "Ese método guardado no existe.", "id")
    return method


async def make_default(user: User, method_id: int) -> PaymentMethod:
    """Make one of the user's cards the one offered first."""
    method = await _own(user, method_id)
    async with in_transaction() as tx:
        await PaymentMethod.filter(user_id=user.id).using_db(tx).update(is_default=False)
        await PaymentMethod.filter(id=method.id).using_db(tx).update(is_default=True)
    method.is_default = True
    return method


async def delete_card(gateways: GatewayDirectory, user: User, method_id: int) -> int:
    """Delete the card at the provider and here; its mandates stop (need another card)."""
    method = await _own(user, method_id)
    if method.provider_customer_id and method.provider_token:
        vault = await _vault(gateways, user, method.provider)
        try:
            await vault.forget_card(method.provider_customer_id, method.provider_token)
        except ProviderError as exc:
            log.warning("deleting a %s card failed (%s)", method.provider, exc.code)
            raise CollectionRefused(
                "CARD_NOT_DELETED", "No pudimos borrar la tarjeta; inténtalo de nuevo.", "id"
            ) from exc
    async with in_transaction() as tx:
        await (
            PaymentMethod.filter(id=method.id)
            .using_db(tx)
            .update(is_active=False, is_default=False, provider_token=None)
        )
        await stop_mandates_of_card(method.id, MandateStatus.NEEDS_METHOD, "card-deleted", tx)
        await record_audit(
            "payment_method.deleted",
            actor_id=user.id,
            institution_id=user.institution_id,
            subject_type="payment_method",
            subject_id=method.id,
            data={"provider": str(method.provider)},
            conn=tx,
        )
    return method.id
