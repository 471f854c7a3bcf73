"""The simulators' default credentials, as data (``data/credentials.toml``).

One table says what every simulator accepts when it is given nothing, so the demo's
defaults (``plugin.default_credentials``) and each simulator read the same values.
"""

from __future__ import annotations

import tomllib
from functools import cache
from pathlib import Path

__all__ = ["sandbox_credentials"]

_TABLE = Path(__file__).parent / "data" / "credentials.toml"


@cache
def _table() -> dict[str, dict[str, str]]:
    with _TABLE.open("rb") as source:
        return tomllib.load(source)


def sandbox_credentials(name: str) -> dict[str, str]:
    """A copy of the credentials the ``name`` simulator accepts by default ({} for none)."""
    return dict(_table().get(name, {}))
