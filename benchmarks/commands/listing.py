"""``modelprint list``: the registered methods, data sets and protocols."""

from __future__ import annotations

from typing import Literal

from rich.console import Console
from rich.table import Table

from benchmarks.cli import command
from benchmarks.registries import REGISTRIES


@command("list", optional_positionals=("pattern",))
def list_entries(pattern: str = "*", kind: Literal["all", "method", "dataset", "protocol"] = "all") -> int:
    """List registered methods, data sets and protocols whose name matches a wildcard.

    Args:
        pattern: shell-style wildcard on the name, e.g. ``'clip*'``.
        kind: which registry to list.
    """
    table = Table(title=f"registered entries matching {pattern!r}")
    for column in ("kind", "name", "summary"):
        table.add_column(column)
    for registry in REGISTRIES:
        if kind not in ("all", registry.kind):
            continue
        for name in registry.names(pattern):
            table.add_row(registry.kind, name, registry.entry(name).summary)
    if table.row_count == 0:
        Console().print(f"nothing registered matches {pattern!r} (kind={kind})")
        return 1
    Console().print(table)
    return 0
