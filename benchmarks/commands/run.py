"""``modelprint run``: the grid of methods x protocols x seeds on one data set, into the store."""

from __future__ import annotations

from typing import Any

from rich.console import Console
from rich.table import Table

from benchmarks.cli import command
from benchmarks.config import BenchmarkConfig
from core.paths import config_file

DEFAULT_EXPERIMENT = config_file("experiments", "default.yaml")

#: after a figure read from the store (its cell was skipped: already there), not computed now
STORED_MARK = "*"


@command("run", config=BenchmarkConfig)
def run(cfg: BenchmarkConfig) -> int:
    """Run every (method, protocol, seed) cell not yet in the results store, with provenance.

    The default experiment is ``configs/experiments/default.yaml`` (pass it, or your
    own, with ``--config``); every flag is a field of :class:`benchmarks.plan.BenchmarkConfig`.
    """
    from core.console import quiet
    from core.tracking import ask_for_wandb, asked_by_flag

    console = Console()
    asked_before = asked_by_flag()  # the environment's asking is read afresh, never stored
    ask_for_wandb(cfg.wandb or asked_before)
    try:
        with quiet(cfg.verbose):  # third-party chatter off unless --verbose; imports included
            from benchmarks.runner import run_benchmark
            from leaderboards import open_store

            store = open_store()
            settle_hub_when_needed(cfg)
            summary = run_benchmark(cfg, store, console=console)  # a user mistake: ModelprintError, one line
    finally:
        ask_for_wandb(asked_before)
    console.print(
        f"ran {summary.ran} cells, skipped {summary.skipped} already in {store.path}, "
        f"{summary.wall_time_s:.1f} s (features: {summary.images_featurised} images in "
        f"{summary.feature_seconds:.1f} s, {summary.cache_hits} cache hits"
        + (f", {len(summary.cache_rejected)} bad cache entries recomputed" if summary.cache_rejected else "")
        + ")",
        markup=False,
        highlight=False,
    )
    console.print(figures_table(store, summary))
    return 0


def settle_hub_when_needed(cfg: BenchmarkConfig) -> None:
    """Find once, in two seconds, whether the Hub answers - where a planned method may download
    its weights - so that offline, such a method is left out at once with its one line instead
    of after ``huggingface_hub``'s retries (about 24 s each)."""
    from core.hub import settle_hub_access
    from lightning_modules import METHODS
    from lightning_modules.base import AttributionMethod

    names = cfg.methods if cfg.methods is not None else METHODS.names()
    default = AttributionMethod.fetch_weights.__func__  # type: ignore[attr-defined]
    for name in names:
        if name not in METHODS:  # an unknown name: the plan says so, in its own words
            continue
        if getattr(METHODS.entry(name).factory.fetch_weights, "__func__", None) is not default:
            settle_hub_access()
            return


def headline_metrics(judgings: dict[str, Any]) -> dict[str, list[tuple[str, str, str]]]:
    """protocol -> its (split, metric, column title) at the end of a run: the board's headline
    columns, or - for a protocol with none (detection) - its first robustness figure, so every
    computed cell shows one figure."""
    from leaderboards.judging import headline_columns

    picked: dict[str, list[tuple[str, str, str]]] = {}
    for protocol, column in headline_columns(judgings):
        picked.setdefault(protocol, []).append((column.split, column.metric, column.title))
    for protocol, judging in judgings.items():
        if protocol not in picked and judging.robustness_metrics and judging.robustness_splits:
            split, metric = judging.robustness_splits[0], judging.robustness_metrics[0]
            picked[protocol] = [(split, metric, f"{protocol.replace('_', ' ')} {metric.upper()}")]
    return picked


def figures_table(store: Any, summary: Any) -> Table:
    """The headline figures of every cell of this run - computed now, or read from the store for
    a cell it skipped (marked) - one row per method, seed and perturbation level: the answer of
    the run at a glance, with ``modelprint board`` named for everything else. Read from the
    store by each cell's config hash, as a sweep trial reads its own figure."""
    from benchmarks.commands.board import board_judgings
    from leaderboards.names import console_text
    from leaderboards.tables import TableCell, format_cell

    picked = headline_metrics(board_judgings())
    ran = set(summary.run_ids)
    rows: dict[tuple[str, int, str], dict[str, str]] = {}
    titles: list[str] = []
    any_stored = False
    for label, chash in summary.cell_hashes.items():
        method, variant, seed = label.rsplit("|", 2)
        protocol, _, level = variant.partition("@")
        row = rows.setdefault((method, int(seed), level), {})
        figures = store.figure_rows(
            every_data_version=True, method=method, protocol=variant, config_hash=chash
        )
        latest = {(r["split"], r["metric"], int(r["seed"])): r for r in figures}  # written last wins
        for split, metric, title in picked.get(protocol, []):
            found = latest.get((split, metric, int(seed)))
            if found is None:
                continue
            stored = found["run_id"] not in ran
            any_stored |= stored
            cell = TableCell(float(found["value"]), found["ci_low"], found["ci_high"])
            row[title] = format_cell(cell) + (f" {STORED_MARK}" if stored else "")
            if title not in titles:
                titles.append(title)
    order = [t for columns in picked.values() for _, _, t in columns]  # the board's left to right
    titles.sort(key=lambda t: order.index(t) if t in order else len(order))
    levels = any(level for _, _, level in rows)
    caption = "`modelprint board` renders the full board (every figure, CIs, plots)"
    if any_stored:
        caption = f"{STORED_MARK} already in the store (cell skipped); " + caption
    table = Table(title="headline figures of this run", caption=caption, title_justify="left")
    table.add_column("method")
    table.add_column("seed", justify="right")
    if levels:
        table.add_column("perturbation")
    for title in titles:
        table.add_column(title, justify="right", overflow="fold")
    for (method, seed, level), cells in sorted(rows.items()):
        if not cells:
            continue
        level_cell = [level or "clean"] if levels else []
        table.add_row(console_text(method), str(seed), *level_cell, *(cells.get(t, "") for t in titles))
    return table
