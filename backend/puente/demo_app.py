"""Assembling `puente demo`: dev secrets, migrations, demo data, sandboxes mounted."""

from __future__ import annotations

from starlette.applications import Starlette
from starlette.routing import Mount

from puente.config import Settings
from puente.db import migrate, open_database
from puente.demo import load_demo_data
from puente.runtime import Runtime
from puente.sandbox_hook import demo_provider_env, load_sandbox

__all__ = ["build_demo_app"]


async def build_demo_app(settings: Settings) -> tuple[Starlette, Runtime]:
    """Migrate, load demo data once, and build the app with /sandbox mounted; the app's
    mail goes to the embedded catcher, shown at /sandbox/correo."""
    from puente.app import create_app

    sandbox_plugin = load_sandbox()  # before migrating: say at once when it is missing
    runtime = Runtime.from_settings(settings)
    await migrate(settings.database_url)
    async with open_database(settings.database_url):
        await load_demo_data(runtime)
    providers = demo_provider_env(settings)
    catcher = sandbox_plugin.start_mail_catcher()
    runtime = Runtime.from_settings(
        settings.with_overrides(
            provider_env=providers,
            smtp_host=catcher.host,
            smtp_port=catcher.port,
            smtp_user=None,
            smtp_password=None,
            smtp_starttls=False,
        )
    )
    sandbox = sandbox_plugin.create_sandbox_app(providers, f"{settings.base_url}/webhooks")
    mounts = [Mount("/sandbox/correo", app=catcher.app()), Mount("/sandbox", app=sandbox)]
    app = create_app(runtime, extra_routes=mounts)
    return app, runtime
