"""The import graph of ``backend/puente`` has no cycles, and no door reaches for the app.

The graph is read from the source with ``ast`` (nothing is imported): every ``import`` and
``from … import …`` of a ``puente`` module is an edge, wherever it is written, because an
import inside a function that dodges a cycle at load time is still a cycle in the design.
Only imports under ``if TYPE_CHECKING:`` are left out: they exist for the type checker and
never run. ``from pkg import name`` is an edge to ``pkg.name`` when that is a module, else to
``pkg`` itself (its ``__init__``). Importing ``a.b.c`` also runs ``a/__init__`` and
``a/b/__init__``; those implicit edges are not counted (every submodule would otherwise
depend on its package's re-exports).
"""

from __future__ import annotations

import ast
from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from pathlib import Path

import pytest

SOURCE = Path(__file__).resolve().parents[1] / "backend"
ROOT_PACKAGE = "puente"

# Cycles inside ``puente.providers`` are being untangled in another branch (issue 10, part A);
# each one it still has is named here so a new one anywhere fails. Empty: none are left.
KNOWN_PROVIDER_CYCLES: frozenset[frozenset[str]] = frozenset()

# The doors onto the core (ISSUE 10 #5): they are built by the app, never the other way
# round. ``puente.app`` (and ``puente.demo_app``, which wraps it with the simulators) are the
# composition roots. The CLI starts them for ``serve`` and ``demo`` without importing the
# app: ``serve`` names the factory for uvicorn ("puente.app:app_from_environment", imported
# by each worker), ``demo`` calls ``demo_app`` inside its command function.
DOOR_PACKAGES = ("puente.portal", "puente.graphql", "puente.webhooks", "puente.cli")
COMPOSITION_ROOTS = frozenset({"puente.app", "puente.demo_app", "puente.worker"})
CLI_MAY_START = frozenset({"puente.demo_app", "puente.worker"})  # only inside its command


@dataclass(frozen=True)
class Edge:
    source: str
    target: str
    in_function: bool


def _modules(source: Path) -> dict[str, Path]:
    modules = {}
    for path in sorted((source / ROOT_PACKAGE).rglob("*.py")):
        parts = list(path.relative_to(source).with_suffix("").parts)
        if parts[-1] == "__init__":
            parts.pop()
        modules[".".join(parts)] = path
    return modules


def _is_type_checking(node: ast.If) -> bool:
    test = node.test
    return (isinstance(test, ast.Name) and test.id == "TYPE_CHECKING") or (
        isinstance(test, ast.Attribute) and test.attr == "TYPE_CHECKING"
    )


def _owner(name: str, modules: Mapping[str, Path]) -> str | None:
    """The module ``name`` is, or the nearest package that holds it."""
    while name and name not in modules:
        name = name.rpartition(".")[0]
    return name or None


class _Imports(ast.NodeVisitor):
    def __init__(self, module: str, is_package: bool, modules: Mapping[str, Path]) -> None:
        self.module = module
        self.package = module if is_package else module.rpartition(".")[0]
        self.modules = modules
        self.depth = 0
        self.edges: list[Edge] = []

    def _add(self, target: str | None) -> None:
        if target and target != self.module:
            self.edges.append(Edge(self.module, target, self.depth > 0))

    def visit_If(self, node: ast.If) -> None:
        if _is_type_checking(node):
            for child in node.orelse:
                self.visit(child)
            return
        self.generic_visit(node)

    def _visit_function(self, node: ast.AST) -> None:
        self.depth += 1
        self.generic_visit(node)
        self.depth -= 1

    visit_FunctionDef = visit_AsyncFunctionDef = visit_Lambda = _visit_function

    def visit_Import(self, node: ast.Import) -> None:
        for alias in node.names:
            if alias.name.split(".")[0] == ROOT_PACKAGE:
                self._add(_owner(alias.name, self.modules))

    def visit_ImportFrom(self, node: ast.ImportFrom) -> None:
        if node.level:
            base = self.package.split(".")[: len(self.package.split(".")) - (node.level - 1)]
            name = ".".join([*base, *([node.module] if node.module else [])])
        else:
            name = node.module or ""
        if name.split(".")[0] != ROOT_PACKAGE:
            return
        for alias in node.names:
            submodule = f"{name}.{alias.name}"
            self._add(submodule if submodule in self.modules else _owner(name, self.modules))


def import_edges(source: Path = SOURCE) -> list[Edge]:
    """Every import between modules of the package, read from the source."""
    modules = _modules(source)
    edges = []
    for module, path in modules.items():
        visitor = _Imports(module, path.name == "__init__.py", modules)
        visitor.visit(ast.parse(path.read_text(encoding="utf-8"), str(path)))
        edges.extend(visitor.edges)
    return edges


def cycles(edges: Iterable[tuple[str, str]]) -> list[frozenset[str]]:
    """The strongly connected components with more than one node (Tarjan's algorithm)."""
    graph: dict[str, set[str]] = {}
    for source, target in edges:
        if source != target:
            graph.setdefault(source, set()).add(target)
            graph.setdefault(target, set())
    index: dict[str, int] = {}
    low: dict[str, int] = {}
    stack: list[str] = []
    on_stack: set[str] = set()
    found: list[frozenset[str]] = []

    def connect(node: str) -> None:  # recursion depth is bounded by the module count
        index[node] = low[node] = len(index)
        stack.append(node)
        on_stack.add(node)
        for target in sorted(graph[node]):
            if target not in index:
                connect(target)
                low[node] = min(low[node], low[target])
            elif target in on_stack:
                low[node] = min(low[node], index[target])
        if low[node] == index[node]:
            component = set()
            while True:
                member = stack.pop()
                on_stack.discard(member)
                component.add(member)
                if member == node:
                    break
            if len(component) > 1:
                found.append(frozenset(component))

    for node in sorted(graph):
        if node not in index:
            connect(node)
    return found


def top_package(module: str) -> str:
    """``puente.loans.engine.schedule`` → ``puente.loans``; a top-level module is itself."""
    return ".".join(module.split(".")[:2])


def containing_package(module: str, modules: Mapping[str, Path]) -> str:
    """The package a module lives in (a package's ``__init__`` is its package); a module at
    the top (``puente.app``, ``puente.runtime``) stands for itself, as in ``top_package``."""
    if modules[module].name == "__init__.py" or module.count(".") == 1:
        return module
    return module.rpartition(".")[0]


def _described(found: Iterable[frozenset[str]]) -> list[list[str]]:
    return sorted(sorted(component) for component in found)


# -- the checker itself ------------------------------------------------------------------


def test_the_checker_finds_a_cycle_through_a_function_level_import(tmp_path):
    package = tmp_path / ROOT_PACKAGE
    (package / "a").mkdir(parents=True)
    (package / "b").mkdir()
    (package / "__init__.py").write_text("")
    (package / "a" / "__init__.py").write_text("")
    (package / "b" / "__init__.py").write_text("")
    (package / "a" / "x.py").write_text("from puente.b.y import thing\n")
    (package / "b" / "y.py").write_text(
        "from typing import TYPE_CHECKING\n"
        "if TYPE_CHECKING:\n    from puente.a.x import other\n"
        "def thing():\n    from puente.a import x\n    return x\n"
    )
    edges = import_edges(tmp_path)
    assert Edge("puente.b.y", "puente.a.x", in_function=True) in edges
    assert cycles((e.source, e.target) for e in edges) == [frozenset({"puente.a.x", "puente.b.y"})]


def test_the_checker_leaves_type_checking_imports_out(tmp_path):
    package = tmp_path / ROOT_PACKAGE
    package.mkdir()
    (package / "__init__.py").write_text("")
    (package / "x.py").write_text("import puente.y\n")
    (package / "y.py").write_text("import typing\nif typing.TYPE_CHECKING:\n    import puente.x\n")
    edges = import_edges(tmp_path)
    assert [(e.source, e.target) for e in edges] == [("puente.x", "puente.y")]
    assert cycles((e.source, e.target) for e in edges) == []


# -- the package -------------------------------------------------------------------------


@pytest.fixture(scope="module")
def edges() -> list[Edge]:
    return import_edges()


def test_no_import_cycle_between_modules(edges):
    found = set(cycles((e.source, e.target) for e in edges))
    allowed = {c for c in found if c in KNOWN_PROVIDER_CYCLES}
    assert _described(found - allowed) == []


def test_the_allowed_provider_cycles_still_exist(edges):
    """An allowance that no longer matches a cycle is removed, so it cannot hide a new one."""
    found = set(cycles((e.source, e.target) for e in edges))
    assert _described(KNOWN_PROVIDER_CYCLES - found) == []


def test_no_import_cycle_between_packages(edges):
    between = {(top_package(e.source), top_package(e.target)) for e in edges}
    assert _described(cycles(between)) == []


def test_no_import_cycle_between_subpackages(edges):
    """``loans`` and ``loans.engine`` count apart here (the engine never calls back)."""
    modules = _modules(SOURCE)
    between = {
        (containing_package(e.source, modules), containing_package(e.target, modules))
        for e in edges
    }
    assert _described(cycles(between)) == []


def test_loans_never_import_tuition(edges):
    """Tuition registers its pricing with the loan core (``loans/pricing.py``)."""
    found = [e for e in edges if e.source.startswith("puente.loans") and "tuition" in e.target]
    assert found == []


def test_no_door_imports_the_app(edges):
    doors = [e for e in edges if e.source.startswith(DOOR_PACKAGES)]
    reaching = [e for e in doors if e.target in COMPOSITION_ROOTS]
    allowed = [
        e
        for e in reaching
        if e.source == "puente.cli" and e.target in CLI_MAY_START and e.in_function
    ]
    assert [(e.source, e.target) for e in reaching if e not in allowed] == []


def test_nothing_below_the_composition_roots_reaches_them(edges):
    """Only the roots themselves and the CLI (when it serves) lead to the app module."""
    graph: dict[str, set[str]] = {}
    for edge in edges:
        graph.setdefault(edge.target, set()).add(edge.source)
    reaching: set[str] = set()
    todo = list(COMPOSITION_ROOTS)
    while todo:
        for importer in graph.get(todo.pop(), ()):
            if importer not in reaching:
                reaching.add(importer)
                todo.append(importer)
    assert sorted(reaching - COMPOSITION_ROOTS) == ["puente.cli"]
