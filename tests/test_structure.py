"""The shape of hpo/: imports point one way, config is the ground floor, modules stay small."""

from __future__ import annotations

import ast
from pathlib import Path

import pytest

PACKAGE = Path(__file__).resolve().parent.parent / "hpo"
MAX_LINES = 400


def _is_type_checking(node: ast.If) -> bool:
    test = node.test
    return (isinstance(test, ast.Name) and test.id == "TYPE_CHECKING") or (
        isinstance(test, ast.Attribute) and test.attr == "TYPE_CHECKING"
    )


def internal_imports(path: Path, package: str = "hpo") -> set[str]:
    """Modules of ``package`` that ``path`` imports, at the top or inside functions; imports
    under ``if TYPE_CHECKING:`` (annotations only, never run) are left out."""
    found: set[str] = set()

    def visit(node: ast.AST) -> None:
        if isinstance(node, ast.If) and _is_type_checking(node):
            for child in node.orelse:
                visit(child)
            return
        if isinstance(node, ast.ImportFrom) and node.level == 0 and node.module:
            parts = node.module.split(".")
            if parts[0] == package:
                if len(parts) > 1:
                    found.add(parts[1])
                else:
                    found.update(alias.name for alias in node.names)
        elif isinstance(node, ast.Import):
            for alias in node.names:
                parts = alias.name.split(".")
                if parts[0] == package and len(parts) > 1:
                    found.add(parts[1])
        for child in ast.iter_child_nodes(node):
            visit(child)

    visit(ast.parse(path.read_text(encoding="utf-8")))
    return found - {path.stem}


def import_graph(package_dir: Path) -> dict[str, set[str]]:
    """Module -> the package's modules it imports."""
    return {
        p.stem: internal_imports(p, package_dir.name)
        for p in sorted(package_dir.glob("*.py"))
        if p.stem != "__init__"
    }


def find_cycle(graph: dict[str, set[str]]) -> list[str] | None:
    """One import cycle as a path (first module repeated at the end), or None."""
    state: dict[str, int] = {}  # 1: on the current path, 2: done
    path: list[str] = []

    def walk(node: str) -> list[str] | None:
        state[node] = 1
        path.append(node)
        for nxt in sorted(graph.get(node, ())):
            if state.get(nxt) == 1:
                return [*path[path.index(nxt) :], nxt]
            if nxt not in state and (cycle := walk(nxt)):
                return cycle
        path.pop()
        state[node] = 2
        return None

    for node in sorted(graph):
        if node not in state and (cycle := walk(node)):
            return cycle
    return None


def test_no_import_cycle() -> None:
    graph = import_graph(PACKAGE)
    assert {"config", "load", "training", "search"} <= set(graph), "the walk is broken"
    cycle = find_cycle(graph)
    assert cycle is None, "import cycle: " + " -> ".join(cycle or [])


def test_config_is_the_ground_floor() -> None:
    graph = import_graph(PACKAGE)
    assert graph["config"] <= {"errors"}, graph["config"]
    assert graph["errors"] == set()


@pytest.mark.parametrize(
    ("files", "expected"),
    [
        ({"a": "from pkg import b\n", "b": "import pkg.c\n", "c": ""}, None),
        (
            {"a": "from pkg.b import x\n", "b": "def f():\n    from pkg import a\n"},
            ["a", "b", "a"],
        ),
        (
            {
                "a": "from typing import TYPE_CHECKING\n"
                "if TYPE_CHECKING:\n    from pkg.b import B\n",
                "b": "from pkg import a\n",
            },
            None,
        ),
    ],
)
def test_the_cycle_finder(
    tmp_path: Path, files: dict[str, str], expected: list[str] | None
) -> None:
    package = tmp_path / "pkg"
    package.mkdir()
    for name, text in files.items():
        (package / f"{name}.py").write_text(text)
    assert find_cycle(import_graph(package)) == expected


def test_no_module_over_400_lines() -> None:
    long = {
        p.name: n
        for p in PACKAGE.glob("*.py")
        if (n := len(p.read_text(encoding="utf-8").splitlines())) > MAX_LINES
    }
    assert not long, f"split by concern: {long}"
