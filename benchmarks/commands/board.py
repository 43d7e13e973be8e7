"""``modelprint board``: leaderboard tables and plots, rendered from the results store only."""

from __future__ import annotations

from pathlib import Path
from typing import Any

from rich.console import Console

from benchmarks.cli import UsageError, command
from core.paths import results_store_location

README_START = "<!-- board:start (written by `modelprint board --readme`; do not edit) -->"
README_END = "<!-- board:end -->"


def board_judgings() -> dict[str, Any]:
    """How the board reads each protocol's runs: every registered protocol's declaration and
    the studies' own protocols."""
    from benchmarks.protocols import protocol_judgings
    from benchmarks.studies import STUDY_JUDGINGS

    return {**protocol_judgings(), **STUDY_JUDGINGS}


def check_outputs(out: Path, readme: Path | None, site: Path | None) -> None:
    """Where the board goes can take it: folders that are not files, a README with its board
    markers - one line each, before the work of drawing every plot."""
    for folder, flag in ((out, "--out"), (site, "--site")):
        if folder is not None and folder.exists() and not folder.is_dir():
            raise UsageError(f"{flag}={folder} is a file; the board writes a folder there")
    if readme is not None:
        if not readme.is_file():
            raise UsageError(f"--readme={readme}: no such file")
        text = readme.read_text()
        if README_START not in text or README_END not in text:
            raise UsageError(f"{readme} has no '{README_START}' ... '{README_END}' section to fill")


def splice_into_readme(readme: Path, board_markdown: str) -> None:
    """Replace the README's leaderboard section with the rendered board, so the README's
    figures are always the store's figures (never typed by hand)."""
    text = readme.read_text()
    start, end = text.find(README_START), text.find(README_END)
    if start < 0 or end < start:
        raise UsageError(f"{readme} has no '{README_START}' ... '{README_END}' section to fill")
    head, tail = text[: start + len(README_START)], text[end:]
    readme.write_text(f"{head}\n\n{board_markdown.strip()}\n\n{tail}")


def log_board(tables: list, images: list[Path]) -> None:
    """The board's plots and tables into one W&B run (offline unless logged in; off with
    MODELPRINT_WANDB=off), with the run ids of every figure on it."""
    from core.tracking import log_evaluation, wandb_logger
    from leaderboards.names import console_text

    logger = wandb_logger("board", {"tables": [t.title for t in tables]}, group="board")
    if logger is None:
        return
    try:
        tables_to_wandb(logger, tables)
    except Exception as error:  # W&B never stops the board
        Console(stderr=True).print(console_text(f"W&B: tables not logged ({error})"))
    run_ids = sorted({i for t in tables for r in t.rows for i in r.provenance["run_ids"]})
    log_evaluation(logger, {}, run_ids, images)


def tables_to_wandb(logger: Any, tables: list) -> None:
    from leaderboards.tables import format_cell

    for table in tables:
        columns = ["method", *table.metrics]
        rows = [
            [r.method, *(format_cell(r.cells[m]) if m in r.cells else "" for m in table.metrics)]
            for r in table.rows
        ]
        logger.log_table(key=table.title, columns=columns, data=rows)


@command("board")
def board(
    out: Path = Path("published/board"),
    protocols: list[str] | None = None,
    readme: Path | None = None,
    site: Path | None = None,
) -> int:
    """Write board.{md,csv,json,html,tex}, per_generator.md and PNG plots (ROC, OSCR, confusion,
    scaling, robustness, where each unseen generator's images go) from the store.

    Args:
        out: output directory.
        protocols: only these protocols (default: every protocol in the store).
        readme: also write the headline table (zero-shot, closed-set and open-set figures of
            the zoo, one row per method) into this README between its board markers.
        site: also write the static site (index, a page per method, plots) into this directory.
    """
    from leaderboards import open_store
    from leaderboards.names import console_text
    from leaderboards.per_generator import (
        per_generator_markdown,
        plot_fingerprint_maps,
        plot_unseen_confusions,
    )
    from leaderboards.plots import (
        plot_confusions,
        plot_curves,
        plot_open_set_by_subset,
        plot_residual_spectra,
        plot_scaling,
    )
    from leaderboards.render import to_markdown, write_all
    from leaderboards.robustness import build_robustness_tables, plot_robustness
    from leaderboards.tables import build_tables, headline_table, main_effects_tables, selection_tables

    check_outputs(out, readme, site)  # before any table is built or plot drawn
    location = results_store_location()
    if isinstance(location, Path) and not location.exists():
        raise UsageError(f"no results store at {location}; run `modelprint run` first")
    store = open_store(location, readonly=True)  # the board only reads: a read-only mount will do
    path = store.path
    malformed = store.malformed_json()
    if malformed:  # every reader below parses these columns
        raise UsageError(
            f"{path}: {len(malformed)} damaged record(s), first {malformed[0]}; "
            "`modelprint store check` lists them"
        )
    console = Console()
    for _, note in store.incomplete_cells():
        console.print(console_text(f"note: {note}"))
    tables = build_tables(store, protocols)
    if not protocols:  # derived views follow the tables they summarise
        tables += main_effects_tables(store) + selection_tables(store)
    judgings = board_judgings()
    robustness = [] if protocols else build_robustness_tables(store, judgings)  # they follow the main tables
    tables += robustness
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
        *plot_robustness(robustness, out),
        *plot_unseen_confusions(store, out),
        *plot_fingerprint_maps(store, out),
        *plot_residual_spectra(store, out),
    ]
    files = write_all(tables, out, images=images)
    (out / "per_generator.md").write_text(per_generator_markdown(store, judgings))
    if readme is not None:
        splice_into_readme(readme, to_markdown([headline_table(tables, judgings)]).partition("\n\n")[2])
    log_board(tables, images)
    if site is not None:
        from leaderboards.site import write_site

        pages = write_site(tables, store, site, images, judgings)
        console.print(console_text(f"site: {len(pages)} pages in {site}"))
    for table in tables:
        console.print(console_text(f"{table.title}: {len(table.rows)} methods"))
    console.print(console_text(f"wrote {len(files)} tables and {len(images)} plots to {out}"))
    return 0
