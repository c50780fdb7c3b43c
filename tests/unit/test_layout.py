"""The package's layout rule: stages import only from stages below them, and no module imports in a circle.

Every import counts for the layer rule, including imports inside functions
and under ``TYPE_CHECKING``. For circles, imports under ``TYPE_CHECKING``
are left out: they only name types in annotations and never run (a
Framework's methods return Steps, and a StepContext holds its Framework).
"""

from __future__ import annotations

import ast
import unittest
from pathlib import Path

PACKAGE = Path(__file__).resolve().parents[2] / "heatdeploy"

LAYERS = [
    ["heatdeploy.errors", "heatdeploy.events", "heatdeploy.interrupts", "heatdeploy.user_dirs"],
    ["heatdeploy.spec"],
    ["heatdeploy.plugin"],
    ["heatdeploy.render"],
    ["heatdeploy.cloud", "heatdeploy.ssh"],
    ["heatdeploy.steps"],
    ["heatdeploy.cluster"],
    ["heatdeploy.jobs"],
    ["heatdeploy.sahara"],
    ["heatdeploy.testing", "heatdeploy.pytest_plugin", "heatdeploy.local", "heatdeploy.skeleton"],
    ["heatdeploy.cli"],
    ["heatdeploy.osc"],
    ["heatdeploy", "heatdeploy.__main__"],
    ["heatdeploy.plugins"],
]
"""Lowest first. The built-in plugins sit on top and import ``heatdeploy`` like any third party's."""


def module_name(path: Path) -> str:
    parts = list(path.relative_to(PACKAGE.parent).with_suffix("").parts)
    if parts[-1] == "__init__":
        parts.pop()
    return ".".join(parts)


MODULES = {module_name(p): p for p in sorted(PACKAGE.rglob("*.py"))}


def layer(module: str) -> int:
    """The layer of ``module``: that of the longest prefix listed (the package itself only as itself)."""
    best = max((prefix for row in LAYERS for prefix in row
                if module == prefix or (prefix != "heatdeploy" and module.startswith(prefix + "."))), key=len)
    return next(i for i, row in enumerate(LAYERS) if best in row)


def _resolve(imported: str, name: str | None) -> str:
    """The heatdeploy module an import refers to: ``from a import b`` is ``a.b`` when that is a module."""
    if name is not None and f"{imported}.{name}" in MODULES:
        return f"{imported}.{name}"
    return imported


def _type_checking(node: ast.If) -> bool:
    test = node.test
    return (isinstance(test, ast.Name) and test.id == "TYPE_CHECKING") or (
        isinstance(test, ast.Attribute) and test.attr == "TYPE_CHECKING")


def imports(path: Path) -> list[tuple[str, int, bool]]:
    """(module, line, only for type checking) for every heatdeploy import in ``path``."""
    found: list[tuple[str, int, bool]] = []

    def visit(node: ast.AST, typing_only: bool) -> None:
        for child in ast.iter_child_nodes(node):
            if isinstance(child, ast.If) and _type_checking(child):
                for sub in child.body:
                    visit_one(sub, True)
                for sub in child.orelse:
                    visit_one(sub, typing_only)
            else:
                visit_one(child, typing_only)

    def visit_one(node: ast.AST, typing_only: bool) -> None:
        if isinstance(node, ast.ImportFrom) and node.module and node.level == 0 and (
                node.module == "heatdeploy" or node.module.startswith("heatdeploy.")):
            for alias in node.names:
                found.append((_resolve(node.module, alias.name), node.lineno, typing_only))
        elif isinstance(node, ast.Import):
            for alias in node.names:
                if alias.name.startswith("heatdeploy"):
                    found.append((alias.name, node.lineno, typing_only))
        visit(node, typing_only)

    visit(ast.parse(path.read_text(), str(path)), False)
    return found


class LayoutTest(unittest.TestCase):
    def test_every_module_has_a_layer(self) -> None:
        for module in MODULES:
            with self.subTest(module=module):
                layer(module)

    def test_no_module_imports_from_a_higher_stage(self) -> None:
        upward = []
        for module, path in MODULES.items():
            for target, line, _ in imports(path):
                if layer(target) > layer(module):
                    upward.append(f"{path.relative_to(PACKAGE.parent)}:{line}: {module} imports {target}")
        self.assertEqual(upward, [])

    def test_no_import_circles(self) -> None:
        graph = {m: {t for t, _, typing_only in imports(p) if not typing_only and t != m and t in MODULES}
                 for m, p in MODULES.items()}
        self.assertEqual(_circles(graph), [])

    def test_the_checker_finds_circles_and_upward_imports(self) -> None:
        self.assertEqual(_circles({"a": {"b"}, "b": {"c"}, "c": {"a"}, "d": {"a"}}), [["a", "b", "c"]])
        self.assertGreater(layer("heatdeploy.cli.main"), layer("heatdeploy.cluster"))
        self.assertEqual(layer("heatdeploy.spec.model"), layer("heatdeploy.spec"))


def _circles(graph: dict[str, set[str]]) -> list[list[str]]:
    """The strongly connected components with more than one module (Tarjan's algorithm), sorted."""
    index: dict[str, int] = {}
    low: dict[str, int] = {}
    stack: list[str] = []
    on_stack: set[str] = set()
    found: list[list[str]] = []

    def connect(node: str) -> None:
        index[node] = low[node] = len(index)
        stack.append(node)
        on_stack.add(node)
        for target in sorted(graph.get(node, ())):
            if target not in index:
                connect(target)
                low[node] = min(low[node], low[target])
            elif target in on_stack:
                low[node] = min(low[node], index[target])
        if low[node] == index[node]:
            component = []
            while True:
                member = stack.pop()
                on_stack.discard(member)
                component.append(member)
                if member == node:
                    break
            if len(component) > 1:
                found.append(sorted(component))

    for node in sorted(graph):
        if node not in index:
            connect(node)
    return sorted(found)


if __name__ == "__main__":
    unittest.main()
