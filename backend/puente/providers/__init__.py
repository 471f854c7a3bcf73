"""Connectors to payment gateways and banks, behind one interface (see docs/providers.md).

``base`` defines the interfaces, values and errors; ``http`` the shared resilience layer;
``registry`` finds connectors by name (built-ins and ``puente.providers`` entry points).
"""

from __future__ import annotations

from puente.providers.base import *  # noqa: F403
from puente.providers.base import __all__ as _base_all
from puente.providers.metrics import render_prometheus
from puente.providers.registry import (
    available_providers,
    create_connector,
    get_connector_class,
    register_connector,
)

__all__ = [
    *_base_all,
    "available_providers",
    "create_connector",
    "get_connector_class",
    "register_connector",
    "render_prometheus",
]
