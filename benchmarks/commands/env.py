"""``modelprint env``: what this installation is."""

from __future__ import annotations

from rich.console import Console
from rich.table import Table

from benchmarks.cli import command
from benchmarks.environment import environment_report


@command("env")
def env() -> int:
    """Print package versions, device, torchvision fix, threads, cache and results paths."""
    report = environment_report()
    table = Table(title="modelprint environment", show_header=False)
    table.add_column("what", style="bold")
    table.add_column("value")
    for name, version in report.pop("versions").items():  # type: ignore[union-attr]
        table.add_row(name, version)
    for name, value in report.items():
        table.add_row(name, str(value))
    Console().print(table)
    return 0
