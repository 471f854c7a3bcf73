"""The simulators sign and format with their own code, never the connectors' helpers.

A signature or amount format written once and shared would make a mistake on both sides at
once, and every contract test would still pass.
"""

from __future__ import annotations

import ast
from pathlib import Path

import puente_sandbox

SANDBOX = Path(puente_sandbox.__file__).parent
# The PayPal buyer stand-in drives a connector in tests (its request and answer types); it
# neither signs nor formats anything.
CONNECTOR_GLUE = {"paypal_buyer.py"}


def _provider_imports(path: Path) -> list[str]:
    found = []
    for node in ast.walk(ast.parse(path.read_text(), str(path))):
        modules: list[str] = []
        if isinstance(node, ast.ImportFrom) and node.module:
            modules = [node.module]
        elif isinstance(node, ast.Import):
            modules = [alias.name for alias in node.names]
        found += [
            f"{path.name}:{node.lineno} {m}" for m in modules if m.startswith("puente.providers")
        ]
    return found


def test_simulators_do_not_import_connector_helpers() -> None:
    offenders = [
        line
        for path in sorted(SANDBOX.glob("*.py"))
        if path.name not in CONNECTOR_GLUE
        for line in _provider_imports(path)
    ]
    assert offenders == []
