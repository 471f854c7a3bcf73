"""What the product finds through the ``puente.sandbox`` entry point (this module).

``puente demo`` and ``puente sandbox`` load it with ``puente.sandbox_hook.load_sandbox`` and
never import ``puente_sandbox`` by name, so the production wheel works without it.
"""

from __future__ import annotations

from puente_sandbox.app import create_sandbox_app
from puente_sandbox.cli import main
from puente_sandbox.conekta import default_conekta_credentials
from puente_sandbox.credentials import sandbox_credentials
from puente_sandbox.mail_catcher import MailCatcher
from puente_sandbox.registry import simulator_names
from puente_sandbox.stp_keys import DEFAULT_STP_CREDENTIALS
from puente_sandbox.twilio import create_twilio_sandbox

__all__ = [
    "create_sandbox_app",
    "create_twilio_sandbox",
    "default_credentials",
    "default_twilio_credentials",
    "main",
    "start_mail_catcher",
]


def default_credentials() -> dict[str, dict[str, str]]:
    """Per registered simulator (``registry.simulator_names``), the credentials it accepts
    and signs with by default: its entry in data/credentials.toml ({} for none, e.g. the
    CEP service), or the key pair built in code for the two that sign with one."""
    built_in_code = {
        "conekta": default_conekta_credentials,
        "stp": lambda: dict(DEFAULT_STP_CREDENTIALS),
    }
    return {
        name: built_in_code[name]() if name in built_in_code else sandbox_credentials(name)
        for name in simulator_names()
    }


def start_mail_catcher(host: str = "127.0.0.1", port: int | None = None) -> MailCatcher:
    """An SMTP server keeping every message, and its pages (``.app()``), started."""
    return MailCatcher(host, port).start()


def default_twilio_credentials() -> dict[str, str]:
    """The Account SID, Auth Token and sender the Twilio simulator accepts by default."""
    return sandbox_credentials("twilio")
