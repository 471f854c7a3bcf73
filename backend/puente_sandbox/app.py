"""All simulators in one app: ``/{provider}/...`` each, plus an index of pending references.

``puente demo`` mounts this at ``/sandbox`` so Stripe's simulator answers on
``/sandbox/stripe/v1/...`` and a person can "pay" SPEI/OXXO references from ``/sandbox/``.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from html import escape
from typing import Any

import httpx
from starlette.applications import Starlette
from starlette.requests import Request
from starlette.responses import Response
from starlette.routing import BaseRoute, Mount, Route

from puente_sandbox.core import Simulator, public_url
from puente_sandbox.pages import html_page, references_table
from puente_sandbox.registry import simulator_factory

__all__ = ["create_sandbox_app"]


def create_sandbox_app(
    provider_configs: Mapping[str, Mapping[str, str]],
    webhook_base_url: str | None,
    *,
    transport: httpx.AsyncBaseTransport | None = None,
    clock: Callable[[], float] | None = None,
    factories: Mapping[str, Callable[..., Starlette]] | None = None,
    **options: Any,
) -> Starlette:
    """Mount each provider's simulator under ``/{provider}``.

    ``provider_configs`` maps provider name to the credentials its simulator accepts and signs
    with (the ``PROVIDER_ENV_FIELDS`` names; missing values get sandbox defaults). Webhooks of
    provider ``p`` go to ``{webhook_base_url}/{p}``. ``app.state.simulators`` maps names to
    simulators so tests and the demo can reach their state and faults. ``factories`` overrides
    the entry-point lookup (``puente_sandbox.registry``) for some providers.
    """
    simulators: dict[str, Simulator] = {}
    routes: list[BaseRoute] = [Route("/", _index, methods=["GET"])]
    for name, credentials in provider_configs.items():
        factory = (factories or {}).get(name) or simulator_factory(name)
        webhook_url = f"{webhook_base_url.rstrip('/')}/{name}" if webhook_base_url else None
        sub_app = factory(credentials, webhook_url, transport, clock, **options)
        simulators[name] = sub_app.state.simulator
        routes.append(Mount(f"/{name}", app=sub_app))
    if "banxico" in simulators and "stp" in simulators:
        from puente_sandbox.cep import stp_abonos

        # Banxico sees every SPEI: the CEP simulator knows the abonos STP's settled.
        simulators["banxico"].sources.append(stp_abonos(simulators["stp"]))  # type: ignore[attr-defined]
    if "banxico" in simulators:
        from puente_sandbox.spei_payers import gateway_speis

        for name in ("stripe", "conekta", "openpay", "mercadopago"):  # gateways taking SPEI
            if name in simulators:
                simulators["banxico"].sources.append(gateway_speis(simulators[name]))  # type: ignore[attr-defined]
    app = Starlette(routes=routes)
    app.state.simulators = simulators
    return app


async def _index(request: Request) -> Response:
    simulators: dict[str, Simulator] = request.app.state.simulators
    base = public_url(request)
    rows = [
        (f"{base}/{name}", reference)
        for name, simulator in simulators.items()
        for reference in simulator.pending_references()
    ]
    links = "".join(
        f'<li>{escape(name)}: <a href="{escape(base)}/{escape(name)}/_references">references</a>'
        f' · <a href="{escape(base)}/{escape(name)}/_faults">faults</a>'
        f' · <a href="{escape(base)}/{escape(name)}/_webhooks">webhook log</a>'
        f" · webhooks to <code>{escape(sim.webhooks.url or '(none)')}</code></li>"
        for name, sim in simulators.items()
    )
    body = (
        "<h2>Pending SPEI and OXXO references</h2>\n"
        + references_table(rows, request.url.path)
        + f"\n<h2>Simulators</h2>\n<ul>{links}</ul>"
    )
    return html_page("Puente sandbox", body)
