"""``modelprint board``: leaderboard tables and plots, rendered from the results store only."""

from __future__ import annotations

from pathlib import Path

from rich.console import Console

from benchmarks.cli import UsageError, command
from benchmarks.paths import results_store_path


@command("board")
def board(out: Path = Path("leaderboards/board"), protocols: list[str] | None = None) -> int:
    """Write board.{md,csv,json,html,tex} and PNG plots (ROC, OSCR, confusion) from the store.

    Args:
        out: output directory.
        protocols: only these protocols (default: every protocol in the store).
    """
    from leaderboards.plots import plot_confusions, plot_curves
    from leaderboards.render import write_all
    from leaderboards.store import ResultsStore
    from leaderboards.tables import build_tables

    path = results_store_path()
    if not path.exists():
        raise UsageError(f"no results store at {path}; run `modelprint run` first")
    store = ResultsStore(path)
    tables = build_tables(store, protocols)
    if not tables:
        raise UsageError(
            f"the results store {path} holds no figures" + (f" for {protocols}" if protocols else "")
        )
    out.mkdir(parents=True, exist_ok=True)
    images = plot_curves(store, out) + plot_confusions(store, out)
    files = write_all(tables, out, images=images)
    console = Console()
    for table in tables:
        console.print(f"{table.title}: {len(table.rows)} methods")
    console.print(f"wrote {len(files)} tables and {len(images)} plots to {out}")
    return 0
