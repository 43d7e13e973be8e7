"""``modelprint board``: leaderboard tables and plots, rendered from the results store only."""

from __future__ import annotations

from pathlib import Path

from rich.console import Console

from benchmarks.cli import UsageError, command
from benchmarks.paths import results_store_path

README_START = "<!-- board:start (written by `modelprint board --readme`; do not edit) -->"
README_END = "<!-- board:end -->"


def splice_into_readme(readme: Path, board_markdown: str) -> None:
    """Replace the README's leaderboard section with the rendered board, so the README's
    figures are always the store's figures (never typed by hand)."""
    text = readme.read_text()
    start, end = text.find(README_START), text.find(README_END)
    if start < 0 or end < start:
        raise UsageError(f"{readme} has no '{README_START}' ... '{README_END}' section to fill")
    head, tail = text[: start + len(README_START)], text[end:]
    readme.write_text(f"{head}\n\n{board_markdown.strip()}\n\n{tail}")


@command("board")
def board(
    out: Path = Path("leaderboards/board"),
    protocols: list[str] | None = None,
    readme: Path | None = None,
    site: Path | None = None,
) -> int:
    """Write board.{md,csv,json,html,tex} and PNG plots (ROC, OSCR, confusion) from the store.

    Args:
        out: output directory.
        protocols: only these protocols (default: every protocol in the store).
        readme: also splice board.md into this README between its board markers.
        site: also write the static site (index, a page per method, plots) into this directory.
    """
    from leaderboards.plots import plot_confusions, plot_curves, plot_open_set_by_subset, plot_scaling
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
    images = [
        *plot_curves(store, out),
        *plot_confusions(store, out),
        *plot_scaling(store, out),
        *plot_open_set_by_subset(store, out),
    ]
    files = write_all(tables, out, images=images)
    if readme is not None:
        splice_into_readme(readme, (out / "board.md").read_text())
    console = Console()
    if site is not None:
        from leaderboards.site import write_site

        pages = write_site(tables, store, site, images)
        console.print(f"site: {len(pages)} pages in {site}")
    for table in tables:
        console.print(f"{table.title}: {len(table.rows)} methods")
    console.print(f"wrote {len(files)} tables and {len(images)} plots to {out}")
    return 0
