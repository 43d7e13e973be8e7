"""What changed since the last publication, from the store's own history.

The store keeps every run with its creation time, and CI publishes in bursts - a campaign of
runs, then the board. The last publication is taken to be the store as it stood before its
newest burst (runs written after a pause longer than :data:`PUBLICATION_GAP`). That older
store is rebuilt in a temporary SQLite file from the runs written before the burst
(:meth:`ResultsStore.copy_runs`), and its tables are built by the same code as today's, so
"before" means exactly what the board would have shown. A figure has *moved* when before and
after differ by more than the wider of their two half-intervals; figures without an interval
are not judged.
"""

from __future__ import annotations

import tempfile
from dataclasses import dataclass
from datetime import datetime, timedelta
from pathlib import Path

from leaderboards.site_html import e, plain_table, section
from leaderboards.store import ResultsStore
from leaderboards.tables import Table, TableCell, build_tables, format_cell, higher_is_better

PUBLICATION_GAP = timedelta(hours=6)
HEADING = "What changed since the last publication"
COLUMNS = ("method", "table", "figure", "before", "now", "direction")
FIRST = "This is the store's first publication: nothing to compare with."
#: the most moved figures listed (largest moves first); the count says how many there were
SHOWN = 40


@dataclass
class Move:
    """One figure that moved beyond its interval."""

    table: str
    method: str
    column: str
    before: TableCell
    after: TableCell
    better: bool

    @property
    def size(self) -> float:
        """The move in units of the wider half-interval, to rank moves across metrics."""
        return abs(self.after.value - self.before.value) / max(half(self.before), half(self.after), 1e-12)


def half(cell: TableCell) -> float:
    if cell.ci_low is None or cell.ci_high is None:
        return 0.0
    return (cell.ci_high - cell.ci_low) / 2


def publication_start(created: list[str]) -> str | None:
    """When the newest burst of runs began (None: the store holds one burst only)."""
    times = sorted(datetime.fromisoformat(c) for c in created if c)
    for earlier, later in zip(reversed(times[:-1]), reversed(times[1:]), strict=True):
        if later - earlier > PUBLICATION_GAP:
            return later.isoformat(timespec="seconds")
    return None


def previous_tables(store: ResultsStore, before: str) -> list[Table]:
    """The tables the board would have shown from the runs written before ``before``."""
    runs = [
        (run, figures) for run, figures in store.runs_with_figures().values() if run["created_at"] < before
    ]
    runs.sort(key=lambda item: item[0]["created_at"])
    with tempfile.TemporaryDirectory() as folder:
        past = ResultsStore(Path(folder) / "previous.sqlite")
        past.copy_runs(runs)
        return build_tables(past)


def moves(before: list[Table], after: list[Table]) -> tuple[list[Move], int, int]:
    """Figures that moved beyond their intervals, and how many figures are new and gone."""

    def cells(tables: list[Table]) -> dict[tuple[str, str, str], tuple[TableCell, str]]:
        return {
            (t.title, r.method, c): (cell, t.metric_of(c))
            for t in tables
            for r in t.rows
            for c, cell in r.cells.items()
        }

    old, new = cells(before), cells(after)
    found = []
    for key in old.keys() & new.keys():
        (was, metric), (now, _) = old[key], new[key]
        if half(was) == 0.0 and half(now) == 0.0:
            continue
        if abs(now.value - was.value) > max(half(was), half(now)):
            found.append(Move(*key, was, now, (now.value > was.value) == higher_is_better(metric)))
    found.sort(key=lambda m: (-m.size, m.table, m.method, m.column))
    return found, len(new.keys() - old.keys()), len(old.keys() - new.keys())


def changes_section(store: ResultsStore, tables: list[Table]) -> str:
    """The front page's section: the moved figures, largest first, and the counts."""
    start = publication_start([run["created_at"] for run in store.runs()])
    if start is None:
        return section("changes", HEADING, f"<p>{FIRST}</p>")
    found, added, gone = moves(previous_tables(store, start), [t for t in tables if not t.value_metric])
    plural = "s" if len(found) != 1 else ""
    summary = (
        f"<p>Compared with the store as it stood before {e(start)} (the runs written since then are "
        f"this publication's): {len(found)} figure{plural} moved beyond {'their' if plural else 'its'} "
        f"interval{plural}, {added} new, {gone} no longer shown.</p>"
    )
    if not found:
        return section("changes", HEADING, summary)
    rows = "".join(move_row(m) for m in found[:SHOWN])
    more = f" (the {SHOWN} largest of {len(found)})" if len(found) > SHOWN else ""
    table = plain_table("moved figures", COLUMNS, rows, "changes-table")
    return section(
        "changes", HEADING, f"{summary}<details><summary>The moved figures{more}</summary>{table}</details>"
    )


def move_row(move: Move) -> str:
    """One moved figure: where, before, now, and whether that is better."""
    verdict = "<td class='change-up'>better</td>" if move.better else "<td class='change-down'>worse</td>"
    return (
        f"<tr><th scope='row'>{e(move.method)}</th><td>{e(move.table)}</td><td>{e(move.column)}</td>"
        f"<td class='num'>{e(format_cell(move.before))}</td><td class='num'>{e(format_cell(move.after))}</td>"
        f"{verdict}</tr>"
    )
