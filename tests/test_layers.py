"""The functional core imports nothing from the shell, and the shell's modules form no cycle."""

from __future__ import annotations

import ast
from pathlib import Path

from tests.test_cli import ROOT, imported_modules

PACKAGE = ROOT / "statefun"

# The shell: what does I/O or serves (HTTP adapters, the CLI, the local runtime, the
# test tooling, the observability middleware). Everything else in statefun is the core.
SHELL = (
    "statefun.aiohttp",
    "statefun.asgi",
    "statefun.cli",
    "statefun.serve",
    "statefun.local",
    "statefun.testing",
    "statefun.metrics",
    "statefun.tracing",
    "statefun.loader",
    "statefun.module_yaml",
    "statefun.json_schema",
    "statefun._http",
    "statefun._unix",
    "statefun.__main__",
)


def module_name(path: Path) -> str:
    parts = path.relative_to(ROOT).with_suffix("").parts
    return ".".join(parts[:-1] if parts[-1] == "__init__" else parts)


def is_shell(module: str) -> bool:
    return any(module == s or module.startswith(f"{s}.") for s in SHELL)


def runtime_imports(path: Path) -> set[str]:
    """What ``path`` imports when it runs: all but the bodies of ``if TYPE_CHECKING:``."""
    package = ".".join(path.relative_to(ROOT).with_suffix("").parts[:-1])
    found: set[str] = set()

    def walk(node: ast.AST) -> None:
        if isinstance(node, ast.If) and ast.unparse(node.test).endswith("TYPE_CHECKING"):
            for inner in node.orelse:
                walk(inner)
            return
        if isinstance(node, ast.Import):
            found.update(alias.name for alias in node.names)
        elif isinstance(node, ast.ImportFrom):
            base = package.rsplit(".", node.level - 1)[0] if node.level else ""
            module = ".".join(part for part in (base, node.module) if part)
            found.add(module)
            found.update(f"{module}.{alias.name}" for alias in node.names)
        for child in ast.iter_child_nodes(node):
            walk(child)

    walk(ast.parse(path.read_text()))
    return found


def modules(runtime_only: bool = False) -> dict[str, set[str]]:
    """Every statefun module (generated code aside) and the statefun modules it imports.

    ``runtime_only``: leave out what only ``if TYPE_CHECKING:`` imports.
    """
    graph: dict[str, set[str]] = {}
    for path in sorted(PACKAGE.rglob("*.py")):
        if "_generated" in path.parts:
            continue
        name = module_name(path)
        found = runtime_imports(path) if runtime_only else imported_modules(path)
        graph[name] = {m for m in found if m.startswith("statefun")}
    known = set(graph)
    # `from .x import Name` also yields "statefun.x.Name": keep the modules only.
    return {name: {m for m in deps if m in known} - {name} for name, deps in graph.items()}


def test_the_graph_is_what_the_package_holds() -> None:
    graph = modules()
    assert {"statefun._handler", "statefun.serdes.json", "statefun.serve._workers"} <= set(graph)
    assert "statefun._interpreter" in graph["statefun._handler"]


def test_the_core_imports_nothing_from_the_shell() -> None:
    graph = modules()
    core = {name for name in graph if not is_shell(name) and name != "statefun"}
    assert "statefun._state" in core and "statefun.serdes.primitives" in core
    offending = {name: sorted(filter(is_shell, graph[name])) for name in core}
    assert {name: deps for name, deps in offending.items() if deps} == {}


def test_no_two_modules_import_each_other_in_a_circle() -> None:
    graph = modules(runtime_only=True)
    # A package's __init__ re-exports its modules, and they may import the package's
    # siblings through it: count an __init__ only by what it imports from outside itself.
    edges = {
        name: {d for d in deps if not d.startswith(f"{name}.")} for name, deps in graph.items()
    }
    done: set[str] = set()
    path: list[str] = []

    def visit(node: str) -> None:
        if node in path:
            cycle = path[path.index(node) :] + [node]
            raise AssertionError(f"import cycle: {' -> '.join(cycle)}")
        if node in done:
            return
        path.append(node)
        for dep in sorted(edges.get(node, ())):
            visit(dep)
        path.pop()
        done.add(node)

    for name in sorted(edges):
        visit(name)
