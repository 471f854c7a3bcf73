"""Assembling `puente demo`: dev secrets, migrations, demo data, sandboxes mounted."""

from __future__ import annotations

from starlette.applications import Starlette
from starlette.routing import Mount

from puente.config import Settings
from puente.db import migrate, open_database
from puente.demo import load_demo_data
from puente.runtime import Runtime
from puente.sandbox_hook import load_sandbox

__all__ = ["build_demo_app", "demo_credentials", "demo_provider_env"]


def demo_credentials() -> dict[str, dict[str, str]]:
    """What the simulators accept (and sign with) when PUENTE_<P>_<F> is unset.

    Found through the ``puente.sandbox`` entry point (``SandboxNotInstalled`` without it).
    """
    credentials = load_sandbox().default_credentials()
    # STP callbacks carry no signature: in the demo only loopback may send them.
    credentials["stp"] = {**credentials["stp"], "webhook_allowlist": "127.0.0.1/32,::1/128"}
    return credentials


def demo_provider_env(settings: Settings) -> dict[str, dict[str, str]]:
    """Per provider, env values over demo defaults (env wins, as the contract says)."""
    merged: dict[str, dict[str, str]] = {}
    for name, defaults in demo_credentials().items():
        merged[name] = {**defaults, **dict(settings.provider_env.get(name, {}))}
    return merged


async def build_demo_app(settings: Settings) -> tuple[Starlette, Runtime]:
    """Migrate, load demo data once, and build the app with /sandbox mounted."""
    from puente.app import create_app

    sandbox_plugin = load_sandbox()  # before migrating: say at once when it is missing
    runtime = Runtime.from_settings(settings)
    await migrate(settings.database_url)
    async with open_database(settings.database_url):
        await load_demo_data(runtime)
    providers = demo_provider_env(settings)
    runtime = Runtime.from_settings(settings.with_overrides(provider_env=providers))
    sandbox = sandbox_plugin.create_sandbox_app(providers, f"{settings.base_url}/webhooks")
    app = create_app(runtime, extra_routes=[Mount("/sandbox", app=sandbox)])
    return app, runtime
