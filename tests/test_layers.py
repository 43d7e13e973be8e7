"""The packages form layers that only point down; this walks every import (top-level and
inside functions) and fails on one that points up.

    benchmarks            CLI, runner, protocols         may import everything below
    leaderboards          results store, tables, plots   core, datamodules
    lightning_modules     methods                        core, datamodules, configs
    datamodules           data                           core, configs
    core                  registry, seeding, paths, ...  configs (data only)
"""

from __future__ import annotations

import ast
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]
ALLOWED = {
    "core": {"core", "configs"},
    "datamodules": {"core", "configs", "datamodules"},
    "lightning_modules": {"core", "configs", "datamodules", "lightning_modules"},
    "leaderboards": {"core", "configs", "datamodules", "leaderboards"},
    "benchmarks": {"core", "configs", "datamodules", "lightning_modules", "leaderboards", "benchmarks"},
}
OURS = set(ALLOWED) | {"configs"}


def internal_imports(path: Path) -> list[tuple[int, str]]:
    """(line, top-level package) of every import of one of our packages in ``path``."""
    found = []
    for node in ast.walk(ast.parse(path.read_text(), filename=str(path))):
        names = []
        if isinstance(node, ast.Import):
            names = [alias.name for alias in node.names]
        elif isinstance(node, ast.ImportFrom) and node.level == 0 and node.module:
            names = [node.module]
        found += [(node.lineno, n.split(".")[0]) for n in names if n.split(".")[0] in OURS]
    return found


@pytest.mark.parametrize("package", sorted(ALLOWED))
def test_no_package_imports_upward(package: str) -> None:
    upward = [
        f"{path.relative_to(ROOT)}:{line} imports {target}"
        for path in sorted((ROOT / package).rglob("*.py"))
        for line, target in internal_imports(path)
        if target not in ALLOWED[package]
    ]
    assert not upward, "upward imports:\n" + "\n".join(upward)


def test_the_walker_sees_imports_inside_functions(tmp_path: Path) -> None:
    source = tmp_path / "m.py"
    source.write_text("def f():\n    from benchmarks.runner import plan\n    import leaderboards.store\n")
    assert internal_imports(source) == [(2, "benchmarks"), (3, "leaderboards")]


def module_graph() -> dict[str, set[str]]:
    """Our modules and the modules each imports (top-level and inside functions)."""
    paths = {}
    for package in sorted(ALLOWED):
        for path in (ROOT / package).rglob("*.py"):
            name = ".".join(path.relative_to(ROOT).with_suffix("").parts).removesuffix(".__init__")
            paths[name] = path

    def owner(name: str) -> str | None:
        while name and name not in paths:
            name = name.rpartition(".")[0]
        return name or None

    graph: dict[str, set[str]] = {name: set() for name in paths}
    for name, path in paths.items():
        for node in ast.walk(ast.parse(path.read_text(), filename=str(path))):
            targets: list[str] = []
            if isinstance(node, ast.Import):
                targets = [alias.name for alias in node.names]
            elif isinstance(node, ast.ImportFrom) and node.level == 0 and node.module:
                targets = [f"{node.module}.{alias.name}" for alias in node.names]
            graph[name] |= {t for t in map(owner, targets) if t and t != name}
    return graph


def test_no_module_imports_itself_through_others() -> None:
    """No import circle between our modules (a circle works only by the order of imports)."""
    graph, circles = module_graph(), []
    for start in graph:  # a depth-first search from each module back to itself
        stack, seen = [(start, [start])], set()
        while stack:
            node, path = stack.pop()
            for target in graph[node]:
                if target == start:
                    circles.append(" -> ".join([*path, start]))
                elif target not in seen:
                    seen.add(target)
                    stack.append((target, [*path, target]))
    assert not circles, "import circles:\n" + "\n".join(sorted(set(circles))[:10])
