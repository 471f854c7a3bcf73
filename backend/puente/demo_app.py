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
    mail goes to the embedded catcher (/sandbox/correo), SMS and WhatsApp to the Twilio
    simulator (/sandbox/twilio/)."""
    from puente.app import create_app

    sandbox_plugin = load_sandbox()  # before migrating: say at once when it is missing
    runtime = Runtime.from_settings(settings)
    await migrate(settings.database_url)
    async with open_database(settings.database_url):
        await load_demo_data(runtime)
    providers = demo_provider_env(settings)
    catcher = sandbox_plugin.start_mail_catcher()
    twilio = {
        **sandbox_plugin.default_twilio_credentials(),
        **{
            name: value
            for name, value in (
                ("account_sid", settings.twilio_account_sid),
                ("auth_token", settings.twilio_auth_token),
                ("from", settings.twilio_from),
            )
            if value
        },
    }
    runtime = Runtime.from_settings(
        settings.with_overrides(
            provider_env=providers,
            twilio_account_sid=twilio["account_sid"],
            twilio_auth_token=twilio["auth_token"],
            twilio_from=twilio["from"],
            twilio_api_url=f"{settings.base_url}/sandbox/twilio",
            smtp_host=catcher.host,
            smtp_port=catcher.port,
            smtp_user=None,
            smtp_password=None,
            smtp_starttls=False,
        )
    )
    sandbox = sandbox_plugin.create_sandbox_app(providers, f"{settings.base_url}/webhooks")
    from puente.portal.demo_clock import demo_clock_routes

    # The demo clock first: /sandbox/reloj is Puente's page, then the mail catcher and the
    # Twilio simulator, then the other simulators.
    routes = [
        *demo_clock_routes(runtime),
        Mount("/sandbox/correo", app=catcher.app()),
        Mount("/sandbox/twilio", app=sandbox_plugin.create_twilio_sandbox(twilio)),
        Mount("/sandbox", app=sandbox),
    ]
    app = create_app(runtime, extra_routes=routes)
    return app, runtime
