"""Finding the provider simulators, which live beside the product and may be absent.

The simulators are the ``puente-sandbox`` distribution (``backend/puente_sandbox``), installed
with the dev/demo setup (``make``) and never in the production wheel. The product reaches them
only through the ``puente.sandbox`` entry point, never by importing them, so ``puente serve``
runs without them and ``puente demo`` / ``puente sandbox`` say clearly when they are missing.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping, Sequence
from importlib.metadata import entry_points
from typing import TYPE_CHECKING, Any, Protocol, cast

if TYPE_CHECKING:
    from puente.config import Settings

__all__ = [
    "SANDBOX_GROUP",
    "SandboxNotInstalled",
    "SandboxPlugin",
    "demo_credentials",
    "demo_provider_env",
    "load_sandbox",
]

SANDBOX_GROUP = "puente.sandbox"


class SandboxNotInstalled(RuntimeError):
    """``puente demo`` or ``puente sandbox`` was asked for, but the simulators are not installed."""


class SandboxPlugin(Protocol):
    """What the ``puente.sandbox`` entry point offers (``puente_sandbox.plugin``)."""

    def create_sandbox_app(
        self,
        provider_configs: Mapping[str, Mapping[str, str]],
        webhook_base_url: str | None,
        **options: Any,
    ) -> Any:
        """Every simulator in one ASGI app, ``/{provider}/…`` each."""
        ...

    def default_credentials(self) -> dict[str, dict[str, str]]:
        """Per provider, the credentials the simulators accept and sign with by default."""
        ...

    def start_mail_catcher(self, host: str = "127.0.0.1", port: int | None = None) -> Any:
        """An SMTP server that keeps every message (``.port``; ``.app()`` shows them)."""
        ...

    def create_twilio_sandbox(self, credentials: Mapping[str, str] | None = None) -> Any:
        """Twilio's Messaging API simulator (ASGI), signing its status callbacks."""
        ...

    def default_twilio_credentials(self) -> dict[str, str]:
        """``account_sid``, ``auth_token`` and ``from`` the Twilio simulator accepts."""
        ...

    main: Callable[[Sequence[str] | None], int]


def load_sandbox(
    discovered: Callable[[], Sequence[Any]] | None = None,
) -> SandboxPlugin:
    """The installed simulators; ``SandboxNotInstalled`` (saying how to install) if none."""
    points = list(discovered() if discovered else entry_points(group=SANDBOX_GROUP))
    if not points:
        raise SandboxNotInstalled(
            "Los simuladores de proveedores no están instalados (paquete puente-sandbox). "
            "Instálalos con `make demo` o `pip install -e ./backend/puente_sandbox`."
        )
    return cast(SandboxPlugin, points[0].load())


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
