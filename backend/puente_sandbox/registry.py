"""Which simulators exist: entry points in the group ``puente_sandbox.simulators``.

Each entry point names a provider and the ``create_<provider>_sandbox`` factory that builds its
simulator app (see ``core.sandbox_factory``). The built-in ones are declared in
``backend/puente_sandbox/pyproject.toml``; another distribution can add a simulator for its own
connector the same way, without touching this package.
"""

from __future__ import annotations

from collections.abc import Callable
from importlib.metadata import entry_points
from typing import Any

__all__ = ["SIMULATOR_GROUP", "UnknownSimulator", "simulator_factory", "simulator_names"]

SIMULATOR_GROUP = "puente_sandbox.simulators"


class UnknownSimulator(LookupError):
    """No simulator is registered under that provider name."""


def _points() -> dict[str, Any]:
    return {point.name: point for point in entry_points(group=SIMULATOR_GROUP)}


def simulator_names() -> list[str]:
    """Every provider with a simulator, sorted."""
    return sorted(_points())


def simulator_factory(name: str) -> Callable[..., Any]:
    """The factory building ``name``'s simulator app; ``UnknownSimulator`` if there is none."""
    point = _points().get(name)
    if point is None:
        raise UnknownSimulator(
            f"no simulator named {name!r}; available: {', '.join(simulator_names()) or '-'}"
        )
    factory: Callable[..., Any] = point.load()
    return factory
