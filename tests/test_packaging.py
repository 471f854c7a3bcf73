"""The simulators live beside the product: not in its wheel, never imported by it."""

from __future__ import annotations

import ast
import shutil
import subprocess
import sys
import zipfile
from pathlib import Path

import pytest

from puente import sandbox_hook
from puente.cli import main as puente_main
from puente.providers.base import Connector
from puente.sandbox_hook import SandboxNotInstalled, load_sandbox

ROOT = Path(__file__).resolve().parents[1]
PRODUCT = ROOT / "backend" / "puente"


def _sandbox_references(path: Path) -> list[str]:
    """Imports of ``puente_sandbox`` and strings naming it (a lazy ``"module:callable"``)."""
    found = []
    for node in ast.walk(ast.parse(path.read_text(), str(path))):
        names: list[str] = []
        if isinstance(node, ast.Import):
            names = [alias.name for alias in node.names]
        elif isinstance(node, ast.ImportFrom) and node.module:
            names = [node.module]
        elif isinstance(node, ast.Constant) and isinstance(node.value, str):
            names = [node.value] if node.value.startswith("puente_sandbox.") else []
        found += [f"{path.relative_to(ROOT)}:{node.lineno}: {n}" for n in names]
    return [line for line in found if "puente_sandbox" in line.split(": ", 1)[1]]


def test_no_product_module_imports_the_simulators() -> None:
    offenders = [ref for path in PRODUCT.rglob("*.py") for ref in _sandbox_references(path)]
    assert offenders == []


def test_connectors_name_no_simulator_factory() -> None:
    assert not hasattr(Connector, "sandbox_factory")


def test_product_wheel_carries_no_simulator_code(tmp_path: Path) -> None:
    # Build from a copy so the worktree gets no build/ or egg-info of its own.
    source = tmp_path / "src"
    source.mkdir()
    for name in ("pyproject.toml", "README.md"):
        shutil.copy(ROOT / name, source / name)
    shutil.copytree(
        ROOT / "backend",
        source / "backend",
        ignore=shutil.ignore_patterns("__pycache__", "*.egg-info"),
    )
    command = [sys.executable, "-m", "pip", "wheel", "--no-deps", "--no-build-isolation"]
    subprocess.run(
        [*command, "--quiet", "--wheel-dir", str(tmp_path / "dist"), str(source)],
        check=True,
        capture_output=True,
    )
    (wheel,) = (tmp_path / "dist").glob("puente-*.whl")
    names = zipfile.ZipFile(wheel).namelist()
    assert "puente/app.py" in names  # the product is there
    assert [n for n in names if n.startswith("puente_sandbox")] == []
    (points,) = [n for n in names if n.endswith(".dist-info/entry_points.txt")]
    assert "puente_sandbox" not in zipfile.ZipFile(wheel).read(points).decode()


def test_missing_simulators_are_reported_clearly() -> None:
    with pytest.raises(SandboxNotInstalled, match="puente-sandbox"):
        load_sandbox(discovered=list)


def test_puente_sandbox_command_says_when_simulators_are_missing(
    monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    monkeypatch.setattr(sandbox_hook, "entry_points", lambda group: [])
    assert puente_main(["sandbox", "references"]) == 2
    assert "no están instalados" in capsys.readouterr().err


def test_installed_simulators_are_found_by_entry_point() -> None:
    plugin = load_sandbox()
    assert {"stripe", "conekta", "openpay", "mercadopago", "paypal", "stp", "bank"} <= set(
        plugin.default_credentials()
    )


def test_demo_credentials_follow_the_registered_simulators(monkeypatch: pytest.MonkeyPatch) -> None:
    from importlib.metadata import EntryPoint

    from puente_sandbox import registry

    plugin = load_sandbox()
    assert set(plugin.default_credentials()) == set(registry.simulator_names())
    # A simulator another distribution registers gets its defaults too ({} without an entry).
    toy = EntryPoint("toy", "toy_sandbox:create_toy_sandbox", registry.SIMULATOR_GROUP)
    found = {**registry._points(), "toy": toy}
    monkeypatch.setattr(registry, "_points", lambda: found)
    credentials = plugin.default_credentials()
    assert credentials["toy"] == {} and credentials["stripe"]
    # The two that sign with a key pair built in code keep it.
    assert {"cuenta", "empresa", "private_key_pem"} <= set(credentials["stp"])
    assert {"private_key", "webhook_key"} <= set(credentials["conekta"])
