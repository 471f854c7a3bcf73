"""Every provider is described once (its ``ProviderSpec``) and every door derives from it.

A built-in provider missing from any list a door reads fails here: the registry and the
entry points, the credential environment variables, the database enum, the GraphQL enum,
the webhook door, the cash ceilings, the portal's names and its card step.
"""

from __future__ import annotations

import os
import re
import subprocess
import sys
import tomllib
from datetime import date
from decimal import Decimal
from pathlib import Path

import pytest
from tests.conftest import Clock
from tests.providers import toy_provider
from tests.providers.toy_provider import TOY, ToyConnector
from tests.support import factories
from tests.support.portal_pay import login, pay_world, sandbox_runtime

from puente.accounts.models import User
from puente.config import PROVIDER_ENV_FIELDS, load_settings
from puente.enums import PaymentMethodType, ProviderName
from puente.graphql.payment_types import Provider
from puente.institutions.models import ProviderAccount
from puente.loans.models import Loan
from puente.payments.checkout import (
    CASH_LIMITS,
    PaymentRefused,
    PaymentRequest,
    cash_limit,
    validate_payment_request,
)
from puente.payments.gateways import store_credentials
from puente.payments.models import Payment
from puente.payments.offer import payment_options
from puente.portal.payment_text import provider_text
from puente.providers.base import PaymentGateway
from puente.providers.catalogue import BUILTIN_SPECS
from puente.providers.registry import (
    UnknownProvider,
    get_connector_class,
    provider_spec,
    provider_specs,
)
from puente.providers.spec import ConnectorKind, ProviderSpec
from puente.providers.values import PaymentMethod
from puente.runtime import Runtime
from puente.webhooks.inbox import webhook_scheme

ROOT = Path(__file__).resolve().parents[2]
NAMES = [spec.name for spec in BUILTIN_SPECS]


@pytest.mark.parametrize("spec", BUILTIN_SPECS, ids=NAMES)
def test_the_connector_carries_its_spec(spec: ProviderSpec) -> None:
    connector = get_connector_class(spec.name)
    assert connector.spec is spec and provider_spec(spec.name) is spec
    assert connector.name == spec.name and connector.kind is spec.kind
    assert connector.credential_fields == spec.credential_fields
    if issubclass(connector, PaymentGateway):
        assert connector.methods == spec.methods


def test_every_builtin_has_an_entry_point() -> None:
    project = tomllib.loads((ROOT / "pyproject.toml").read_text())
    points = project["project"]["entry-points"]["puente.providers"]
    assert points == {spec.name: spec.connector for spec in BUILTIN_SPECS}
    assert {spec.name for spec in provider_specs()} >= set(NAMES)


@pytest.mark.parametrize("spec", BUILTIN_SPECS, ids=NAMES)
def test_credentials_come_from_the_environment(spec: ProviderSpec) -> None:
    assert PROVIDER_ENV_FIELDS[spec.name] == spec.env_fields
    env = {f"PUENTE_{spec.name.upper()}_{field.upper()}": "x" for field in spec.env_fields}
    assert load_settings(env).provider_env[spec.name] == dict.fromkeys(spec.env_fields, "x")


def test_the_database_enum_names_every_provider() -> None:
    # ProviderName stays a literal class (migrations import it, mypy reads its members);
    # this keeps it equal to the specs.
    assert {member.value for member in ProviderName} == set(NAMES)


CONTRACT_PROVIDERS = ["STRIPE", "CONEKTA", "OPENPAY", "MERCADO_PAGO", "PAYPAL", "STP"]


def test_the_graphql_enum_is_the_contracts_and_derived_from_the_specs() -> None:
    expected = {spec.graphql_value: spec.name for spec in BUILTIN_SPECS if spec.graphql_value}
    assert {member.name: member.value for member in Provider} == expected
    assert list(expected) == CONTRACT_PROVIDERS
    # Only a provider payers pay through is offered: the open-banking feed is not.
    assert [spec.name for spec in BUILTIN_SPECS if not spec.graphql_value] == ["bank"]


@pytest.mark.parametrize("spec", BUILTIN_SPECS, ids=NAMES)
def test_the_webhook_door_follows_the_spec(spec: ProviderSpec) -> None:
    assert webhook_scheme(spec.name) is spec.webhook
    assert webhook_scheme("no-such-provider") is None


def test_stp_answers_abonos_from_its_spec() -> None:
    scheme = webhook_scheme("stp")
    assert scheme is not None
    assert scheme.acknowledgement() == {"mensaje": "recibido"}
    assert scheme.acknowledgement(keep_transfer=True) == {"mensaje": "confirmar"}
    assert scheme.acknowledgement(keep_transfer=False) == {"mensaje": "devolver", "id": 1}
    assert webhook_scheme("stripe").acknowledgement(True) == {"received": True}  # type: ignore[union-attr]


@pytest.mark.parametrize("spec", BUILTIN_SPECS, ids=NAMES)
def test_cash_ceilings_come_from_the_spec(spec: ProviderSpec) -> None:
    if PaymentMethod.CASH in spec.methods:
        assert spec.cash_limit is not None and CASH_LIMITS[spec.name] == spec.cash_limit
        assert cash_limit(spec.name) == spec.cash_limit
    else:
        assert spec.name not in CASH_LIMITS
    assert cash_limit("openpay") == Decimal("9999.99")  # Paynet, mexico.md §6


@pytest.mark.parametrize("spec", BUILTIN_SPECS, ids=NAMES)
def test_the_portal_names_every_provider(spec: ProviderSpec) -> None:
    assert provider_text(spec.name) == spec.label != "—"
    assert provider_text("no-such-provider") == "—"


def test_every_card_gateway_has_a_card_form() -> None:
    card_gateways = {
        spec.name
        for spec in BUILTIN_SPECS
        if spec.kind is ConnectorKind.GATEWAY and spec.offers_cards
    }
    assert card_gateways == {"stripe", "conekta", "openpay", "mercadopago"}


def test_a_spec_refuses_contradictions() -> None:
    with pytest.raises(ValueError, match="cash limit"):
        ProviderSpec(
            name="x",
            label="X",
            connector="m:C",
            kind=ConnectorKind.GATEWAY,
            credential_fields=(),
            cash_limit=Decimal("1"),
        )
    with pytest.raises(ValueError, match="transfers"):
        ProviderSpec(
            name="x",
            label="X",
            connector="m:C",
            kind=ConnectorKind.BANK,
            credential_fields=(),
            pays_to_loan_clabe=True,
        )


# -- a toy provider added the documented way: one connector module (toy_provider.py), one
# -- spec carried by the connector, one entry point ---------------------------------------


# (``toy_installed``, the entry point declared, is in tests/providers/conftest.py.)


def test_a_toy_provider_is_found_by_every_door_lookup(toy_installed: None) -> None:
    assert provider_spec("toy") is TOY and get_connector_class("toy") is ToyConnector
    assert ToyConnector.name == "toy" and ToyConnector.methods == TOY.methods
    assert webhook_scheme("toy") is TOY.webhook  # POST /webhooks/toy is verified, not 404
    assert provider_text("toy") == "Juguete"  # the portal names it
    assert cash_limit("toy") == Decimal("5000.00")  # checkout enforces its ceiling
    env = {"PUENTE_TOY_API_KEY": "k"}
    assert load_settings(env).provider_env["toy"] == {"api_key": "k"}  # demo credentials
    assert TOY.graphql_value == "TOY"  # GraphQL: see the next test
    # The pay page's options ask the specs: the toy is offered where an institution names
    # it, for the methods its spec offers, with its own cash ceiling.
    settings = {"payment_providers": {"cash": ["toy", "conekta"], "spei": ["toy"]}}
    cash = [o for o in payment_options(settings) if o.method is PaymentMethodType.CASH]
    assert [(o.key, o.limit) for o in cash] == [
        ("cash:toy", Decimal("5000.00")),
        ("cash:conekta", Decimal("10000.00")),
    ]
    assert not [o for o in payment_options(settings) if o.method is PaymentMethodType.SPEI]


async def _toy_payer(runtime: Runtime) -> tuple[User, Loan]:
    inst = await factories.institution()
    inst.settings = {"payment_providers": {"cash": ["toy"]}}
    await inst.save()
    payer = await factories.user(runtime, inst)
    loan = await factories.active_loan(inst, payer, principal="12000.00", start=date(2026, 11, 2))
    await store_credentials(runtime, inst.id, "toy", {"api_key": "k"})
    return payer, loan


def _cash(loan: Loan, provider: str, amount: str = "1240.35") -> PaymentRequest:
    return PaymentRequest(
        loan_id=loan.id,
        amount=amount,
        method=PaymentMethodType.CASH,
        provider=provider,
        idempotency_key="toy-1",
    )


@pytest.mark.anyio
async def test_a_toy_payment_is_validated_by_its_spec_and_stored(
    toy_installed: None, db: str, runtime: Runtime
) -> None:
    payer, loan = await _toy_payer(runtime)
    account = await ProviderAccount.get(institution_id=loan.institution_id)
    assert account.provider == "toy"
    # Checkout accepts the toy's cash within its spec's ceiling, and refuses above it.
    assert (await validate_payment_request(payer, _cash(loan, "toy"), runtime))[1] == Decimal(
        "1240.35"
    )
    with pytest.raises(PaymentRefused) as refused:
        await validate_payment_request(payer, _cash(loan, "toy", "5000.01"), runtime)
    assert refused.value.code == "CASH_LIMIT" and "5,000.00" in refused.value.message
    stored = await Payment.create(
        institution_id=loan.institution_id,
        loan_id=loan.id,
        user_id=payer.id,
        provider="toy",
        method=PaymentMethodType.CASH,
        amount_centavos=124035,
        idempotency_key="toy-1",
        request_fingerprint="f" * 64,
    )
    assert (await Payment.get(id=stored.id)).provider == "toy"
    assert [p.id for p in await Payment.filter(provider="toy")] == [stored.id]


@pytest.mark.anyio
async def test_an_unregistered_provider_is_refused_at_the_doors(db: str, runtime: Runtime) -> None:
    inst = await factories.institution()
    payer = await factories.user(runtime, inst)
    loan = await factories.active_loan(inst, payer, principal="12000.00", start=date(2026, 11, 2))
    with pytest.raises(UnknownProvider, match="toy"):
        await store_credentials(runtime, inst.id, "toy", {"api_key": "k"})
    with pytest.raises(PaymentRefused) as refused:
        await validate_payment_request(payer, _cash(loan, "toy"), runtime)
    assert refused.value.code == "PROVIDER_NOT_AVAILABLE"
    # A built-in asked for a method its spec does not offer: refused the same way.
    stp_cash = _cash(loan, "stp")
    with pytest.raises(PaymentRefused, match="no está disponible"):
        await validate_payment_request(payer, stp_cash, runtime)
    assert await ProviderAccount.all().count() == 0 and await Payment.all().count() == 0


def _provider_enum(schema: str) -> list[str]:
    body = schema.split("enum Provider {", 1)[1].split("}", 1)[0]
    return body.split()


def test_graphql_offers_a_toy_installed_by_its_entry_point(tmp_path: Path) -> None:
    # A real installation: a distribution's metadata declaring the entry point, on the path
    # of a fresh interpreter that prints the schema the way ``puente export-schema`` does.
    # (The connector module is put on the path by its file's folder: a ``tests`` package
    # installed by a dependency would shadow this repository's.)
    module = Path(toy_provider.__file__)
    dist = tmp_path / "puente_toy-0.1.dist-info"
    dist.mkdir()
    (dist / "METADATA").write_text("Metadata-Version: 2.1\nName: puente-toy\nVersion: 0.1\n")
    (dist / "entry_points.txt").write_text(
        f"[puente.providers]\ntoy = {module.stem}:ToyConnector\n"
    )
    env = {**os.environ, "PYTHONPATH": os.pathsep.join([str(tmp_path), str(module.parent)])}
    printed = subprocess.run(
        [
            sys.executable,
            "-c",
            "from puente.cli import main; raise SystemExit(main(['export-schema']))",
        ],
        env=env,
        cwd=ROOT,
        capture_output=True,
        text=True,
        check=True,
    ).stdout
    assert _provider_enum(printed) == [*CONTRACT_PROVIDERS, "TOY"]
    # Without it, the published schema: the contract's values only.
    assert _provider_enum((ROOT / "schema.graphql").read_text()) == CONTRACT_PROVIDERS


def test_without_its_entry_point_the_toy_is_unknown_everywhere() -> None:
    assert webhook_scheme("toy") is None
    assert provider_text("toy") == "—"
    assert cash_limit("toy") == Decimal("10000.00")
    assert "toy" not in {member.value for member in Provider}


@pytest.mark.anyio
async def test_the_portal_pay_page_offers_the_toy_where_the_institution_configured_it(
    toy_installed: None, db: str, database_url: str, clock: Clock
) -> None:
    world = await pay_world(
        sandbox_runtime(database_url, clock),
        providers=("stripe",),
        institution_settings={
            "payment_providers": {"card": [], "paypal": [], "cash": ["toy"], "spei": ["stripe"]}
        },
    )
    await store_credentials(world.runtime, world.loan.institution_id, "toy", {"api_key": "k"})
    async with world.client, world.sandbox:
        await login(world.client)
        page = await world.client.get(f"/prestamos/{world.loan.id}/pagar")
    assert page.status_code == 200, page.text
    offered = re.findall(r'name="opcion" value="([^"]+)"', page.text)
    assert offered == ["spei:stripe", "cash:toy"]
    assert "Juguete" in page.text  # its spec's label
