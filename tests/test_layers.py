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
