"""Finding the provider simulators, which live beside the product and may be absent.

The simulators are the ``puente-sandbox`` distribution (``backend/puente_sandbox``), installed
with the dev/demo setup (``make``) and never in the production wheel. The product reaches them
only through the ``puente.sandbox`` entry point, never by importing them, so ``puente serve``
runs without them and ``puente demo`` / ``puente sandbox`` say clearly when they are missing.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping, Sequence
from importlib.metadata import entry_points
from typing import Any, Protocol, cast

__all__ = ["SANDBOX_GROUP", "SandboxNotInstalled", "SandboxPlugin", "load_sandbox"]

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
