"""The built-in providers, each described once (``ProviderSpec``, see ``spec.py``).

Adding a built-in provider is one spec here, one connector module and one entry point in
``pyproject.toml`` (``docs/providers.md``); a third-party provider ships its spec beside its
connector (``Connector.spec``) and only the entry point. Everything else that lists
providers reads these specs through ``puente.providers.registry``.
"""

from __future__ import annotations

from decimal import Decimal

from puente.providers.bank_tables import BANK_TABLES
from puente.providers.conekta_tables import CONEKTA_TABLES
from puente.providers.conekta_vault import CONEKTA_VAULT
from puente.providers.mercadopago_tables import MERCADOPAGO_TABLES
from puente.providers.mercadopago_vault import MERCADOPAGO_VAULT
from puente.providers.openpay_tables import OPENPAY_TABLES
from puente.providers.openpay_vault import OPENPAY_VAULT
from puente.providers.paypal_tables import PAYPAL_TABLES
from puente.providers.spec import (
    ConnectorKind,
    HostedCardForm,
    ProviderSpec,
    TransferAnswers,
    WebhookScheme,
)
from puente.providers.spei_tracking import (
    CONEKTA_SPEI,
    MERCADOPAGO_SPEI,
    OPENPAY_SPEI,
    STRIPE_SPEI,
)
from puente.providers.stp_tables import STP_TABLES
from puente.providers.stripe_tables import STRIPE_TABLES
from puente.providers.stripe_vault import STRIPE_VAULT
from puente.providers.values import PaymentMethod as M

__all__ = [
    "BANK",
    "BUILTIN_SPECS",
    "CONEKTA",
    "MERCADOPAGO",
    "OPENPAY",
    "PAYPAL",
    "STP",
    "STRIPE",
]

# Each gateway's own tokenisation: its script with the institution's public key in
# production; its simulator's page at ``path`` under /sandbox/<provider> in the demo; or an
# institution's own hosted page (``card_form_url``). See ``HostedCardForm``.
SIMULATOR_CARD_PAGE = "/_checkout/card"
STRIPE_CARD_FORM = HostedCardForm(SIMULATOR_CARD_PAGE, script="https://js.stripe.com/v3/")
CONEKTA_CARD_FORM = HostedCardForm(
    SIMULATOR_CARD_PAGE, script="https://cdn.conekta.io/js/latest/conekta.js"
)
OPENPAY_CARD_FORM = HostedCardForm(
    SIMULATOR_CARD_PAGE,
    script="https://js.openpay.mx/openpay.v1.min.js",
    # openpay-data.v1.min.js (device session id) is served from the same origin.
    script_credentials=("merchant_id",),
)
MERCADOPAGO_CARD_FORM = HostedCardForm(
    SIMULATOR_CARD_PAGE, script="https://sdk.mercadopago.com/js/v2"
)
OXXO_LIMIT = Decimal("10000.00")  # mexico.md §6: OXXO takes at most 10,000.00 per operation
PAYNET_LIMIT = Decimal("9999.99")  # mexico.md §6: Paynet (Openpay's stores), 9,999.99

STRIPE = ProviderSpec(
    name="stripe",
    label="Stripe",
    connector="puente.providers.stripe:StripeConnector",
    kind=ConnectorKind.GATEWAY,
    credential_fields=("secret_key", "webhook_secret"),
    optional_credentials=STRIPE_CARD_FORM.credentials,
    methods=frozenset({M.CARD, M.CASH, M.SPEI}),
    cash_limit=OXXO_LIMIT,
    webhook=WebhookScheme("HMAC-SHA256 over t.body (Stripe-Signature)", body_authenticated=True),
    card_form=STRIPE_CARD_FORM,
    tables=STRIPE_TABLES,
    card_vault=STRIPE_VAULT,
    spei_tracking=STRIPE_SPEI,
)
CONEKTA = ProviderSpec(
    name="conekta",
    label="Conekta",
    connector="puente.providers.conekta:ConektaConnector",
    kind=ConnectorKind.GATEWAY,
    credential_fields=("private_key", "webhook_key"),
    optional_credentials=CONEKTA_CARD_FORM.credentials,
    methods=frozenset({M.CARD, M.CASH, M.SPEI}),
    cash_limit=OXXO_LIMIT,
    webhook=WebhookScheme("RSA Digest over the body", body_authenticated=True),
    card_form=CONEKTA_CARD_FORM,
    tables=CONEKTA_TABLES,
    card_vault=CONEKTA_VAULT,
    spei_tracking=CONEKTA_SPEI,
)
OPENPAY = ProviderSpec(
    name="openpay",
    label="Openpay",
    connector="puente.providers.openpay:OpenpayConnector",
    kind=ConnectorKind.GATEWAY,
    credential_fields=("merchant_id", "private_key", "webhook_user", "webhook_password"),
    optional_credentials=("card_form_url", "public_key"),
    methods=frozenset({M.CARD, M.SPEI, M.CASH}),
    cash_limit=PAYNET_LIMIT,
    webhook=WebhookScheme("HTTP Basic credentials (sender only)", body_authenticated=False),
    card_form=OPENPAY_CARD_FORM,
    tables=OPENPAY_TABLES,
    card_vault=OPENPAY_VAULT,
    spei_tracking=OPENPAY_SPEI,
)
MERCADOPAGO = ProviderSpec(
    name="mercadopago",
    label="Mercado Pago",
    connector="puente.providers.mercadopago:MercadoPagoConnector",
    kind=ConnectorKind.GATEWAY,
    credential_fields=("access_token", "webhook_secret"),
    optional_credentials=MERCADOPAGO_CARD_FORM.credentials,
    methods=frozenset({M.CARD, M.SPEI, M.CASH}),
    cash_limit=OXXO_LIMIT,
    webhook=WebhookScheme(
        "HMAC-SHA256 over data.id, request id and ts (not the body)", body_authenticated=False
    ),
    card_form=MERCADOPAGO_CARD_FORM,
    graphql_name="MERCADO_PAGO",
    tables=MERCADOPAGO_TABLES,
    card_vault=MERCADOPAGO_VAULT,
    spei_tracking=MERCADOPAGO_SPEI,
)
PAYPAL = ProviderSpec(
    name="paypal",
    label="PayPal",
    connector="puente.providers.paypal:PayPalConnector",
    kind=ConnectorKind.GATEWAY,
    credential_fields=("client_id", "client_secret", "webhook_id"),
    # Cards through PayPal are charged on PayPal's own approval page (the PAYPAL method).
    methods=frozenset({M.CARD, M.PAYPAL}),
    webhook=WebhookScheme(
        "RSA over id, time, webhook id and the body's CRC32", body_authenticated=True
    ),
    approval_event="CHECKOUT.ORDER.APPROVED",
    tables=PAYPAL_TABLES,
)
STP = ProviderSpec(
    name="stp",
    label="STP",
    connector="puente.providers.stp:StpConnector",
    kind=ConnectorKind.BANK,
    credential_fields=("empresa", "private_key_pem", "cuenta"),
    optional_credentials=(
        "private_key_passphrase",
        "nombre_ordenante",
        "rfc_curp_ordenante",
        "webhook_allowlist",
        "webhook_secret",
        "webhook_secret_header",
    ),
    methods=frozenset({M.SPEI}),
    webhook=WebhookScheme(
        "IP allowlist and/or shared secret (sender only)",
        body_authenticated=False,
        received={"mensaje": "recibido"},
        transfers=TransferAnswers(
            keep={"mensaje": "confirmar"},
            # Causa de devolución 1, "cuenta inexistente": a CLABE that is nobody's, or a
            # loan that takes no payments any more (the account no longer receives).
            send_back={"mensaje": "devolver", "id": 1},
            account_field="cuenta",
        ),
    ),
    pays_to_loan_clabe=True,
    tables=STP_TABLES,
)
BANK = ProviderSpec(
    name="bank",
    label="Banco",
    connector="puente.providers.bank:OpenBankingConnector",
    kind=ConnectorKind.BANK,
    credential_fields=("client_id", "client_secret", "account_id", "webhook_secret"),
    optional_credentials=("token_url", "scope"),
    webhook=WebhookScheme("HMAC-SHA256 over t.body", body_authenticated=True),
    tables=BANK_TABLES,
)

BUILTIN_SPECS: tuple[ProviderSpec, ...] = (STRIPE, CONEKTA, OPENPAY, MERCADOPAGO, PAYPAL, STP, BANK)
