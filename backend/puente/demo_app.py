"""Assembling `puente demo`: dev secrets, migrations, demo data, sandboxes mounted."""

from __future__ import annotations

from starlette.applications import Starlette
from starlette.routing import Mount

from puente.config import Settings
from puente.db import migrate, open_database
from puente.demo import load_demo_data
from puente.runtime import Runtime

__all__ = ["DEMO_PROVIDER_CREDENTIALS", "build_demo_app", "demo_provider_env"]

# What the built-in sandboxes accept in the demo when PUENTE_<PROVIDER>_<FIELD> is unset.
DEMO_PROVIDER_CREDENTIALS: dict[str, dict[str, str]] = {
    "stripe": {
        "secret_key": "sk_test_puente_demo_4eC39HqLyjWDarjtT1zdp7dc",
        "webhook_secret": "whsec_puente_demo_0123456789abcdef",
    },
}


def demo_provider_env(settings: Settings) -> dict[str, dict[str, str]]:
    """Per provider, env values over demo defaults (env wins, as the contract says)."""
    merged: dict[str, dict[str, str]] = {}
    for name, defaults in DEMO_PROVIDER_CREDENTIALS.items():
        merged[name] = {**defaults, **dict(settings.provider_env.get(name, {}))}
    return merged


async def build_demo_app(settings: Settings) -> tuple[Starlette, Runtime]:
    """Migrate, load demo data once, and build the app with /sandbox mounted."""
    from puente.app import create_app
    from puente.sandbox.app import create_sandbox_app

    runtime = Runtime.from_settings(settings)
    await migrate(settings.database_url)
    async with open_database(settings.database_url):
        await load_demo_data(runtime)
    providers = demo_provider_env(settings)
    runtime = Runtime.from_settings(settings.with_overrides(provider_env=providers))
    sandbox = create_sandbox_app(providers, f"{settings.base_url}/webhooks")
    app = create_app(runtime, extra_routes=[Mount("/sandbox", app=sandbox)])
    return app, runtime
