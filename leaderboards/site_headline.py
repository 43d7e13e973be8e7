"""The site's headline: one ranked table, one row per method, read from the protocols' own
declarations (:mod:`leaderboards.judging`), never from a list kept here.

Its columns are the README's headline columns (each protocol's ``HeadlineColumn``), then the
figure of each protocol that declares no headline column but names the one split its robustness
is judged on (detection: AUROC on ``unseen_all``), then the robustness mean - the first headline
figure under delivery, averaged over every perturbation its robustness table holds. The README's
own table is left as it is (its Markdown must not change); the site only adds columns.
"""

from __future__ import annotations

from dataclasses import replace

from leaderboards.judging import HeadlineColumn, Judgings, headline_columns
from leaderboards.robustness import CLEAN
from leaderboards.tables import Row, Table, TableCell, format_cell, headline_table, higher_is_better

#: the suite's flagship (DESIGN.md): the method whose claim the line under the headline states
FLAGSHIP = "synthetic_fingerprint"
#: the data set the headline ranks on: the embedded zoo, which every default run uses
HEADLINE_DATASET = "zoo"


def site_judgings(judgings: Judgings) -> Judgings:
    """The declarations with a headline column added for every protocol that has none but
    judges its robustness on one named split (its figure there is what it is judged by)."""
    last = max((column.position for _, column in headline_columns(judgings)), default=-1)
    extended = dict(judgings)
    for protocol in sorted(judgings):
        judging = judgings[protocol]
        splits = judging.robustness_splits or ()
        if judging.headline or len(splits) != 1 or not judging.robustness_metrics:
            continue
        last += 1
        metric = judging.robustness_metrics[0]
        title = f"{protocol} {metric.upper() if metric == 'auroc' else metric}"
        extended[protocol] = replace(judging, headline=(HeadlineColumn(last, splits[0], metric, title),))
    return extended


def is_control(row: Row) -> bool:
    """A control says so in its weights note ("random init (control)", "... (control)")."""
    return "control" in str(row.provenance.get("weights", "")).lower()


def ranks(table: Table) -> dict[str, int]:
    """Each method's rank in the headline's order; controls are compared against, not ranked."""
    ranked = [row.method for row in table.rows if not is_control(row)]
    return {method: place for place, method in enumerate(ranked, start=1)}


#: the robustness mean's column; what it averages is said under the table (ROBUSTNESS_NOTE)
ROBUSTNESS_COLUMN = "robustness mean"
ROBUSTNESS_NOTE = (
    "The robustness mean is {first} under delivery, averaged over the {count} perturbations of "
    "its robustness table."
)


def site_headline(
    tables: list[Table], judgings: Judgings, dataset: str = HEADLINE_DATASET
) -> tuple[Table, str]:
    """The ranked headline table: declared columns, the judged figures and the robustness mean,
    rows in order of the first column (best first; a method without it last), provenance merged
    from the rows its cells come from."""
    extended = site_judgings(judgings)
    table = headline_table(tables, extended, dataset)
    columns = headline_columns(extended)
    sources = {(t.protocol, t.split, t.dataset): t for t in tables if not t.value_metric}
    for row in table.rows:
        merged: dict[str, set[str]] = {
            "git_sha": set(),
            "data_hash": set(),
            "config_hash": set(),
            "run_ids": set(),
        }
        for protocol, column in columns:
            source = sources.get((protocol, column.split, dataset))
            match = next((r for r in source.rows if r.method == row.method), None) if source else None
            if match is not None:
                for key, values in merged.items():
                    values.update(match.provenance.get(key, []))
                row.provenance.setdefault("device", match.provenance.get("device", ""))
        row.provenance.update({key: sorted(values) for key, values in merged.items()})
    note = add_robustness_mean(table, tables, columns[0], dataset) if columns else ""
    first = table.metrics[0] if table.metrics else None
    if first is not None:
        table.rows.sort(key=lambda r: rank_key(r, first, table))
    return table, note


def rank_key(row: Row, column: str, table: Table) -> tuple[int, float, str]:
    """Best first in ``column`` (by its metric's direction), methods without it last."""
    cell = row.cells.get(column)
    if cell is None:
        return (1, 0.0, row.method)
    sign = -1 if higher_is_better(table.metric_of(column)) else 1
    return (0, sign * cell.value, row.method)


def add_robustness_mean(
    table: Table, tables: list[Table], first: tuple[str, HeadlineColumn], dataset: str
) -> str:
    """The first headline figure under delivery: the mean over the perturbed columns of its
    robustness table (the clean column left out), a plain mean without an interval; returns the
    line that says so under the table ('' when no robustness table holds it)."""
    protocol, column = first
    robust = next(
        (
            t
            for t in tables
            if t.value_metric == column.metric
            and (t.protocol, t.split, t.dataset) == (protocol, column.split, dataset)
        ),
        None,
    )
    if robust is None:
        return ""
    perturbed = [c for c in robust.metrics if c != CLEAN]
    title = ROBUSTNESS_COLUMN
    for source in robust.rows:
        values = [source.cells[c].value for c in perturbed if c in source.cells]
        row = next((r for r in table.rows if r.method == source.method), None)
        if row is not None and len(values) == len(perturbed) and values:
            row.cells[title] = TableCell(sum(values) / len(values), None, None)
    if any(title in r.cells for r in table.rows):
        table.metrics.append(title)
        table.column_metrics[title] = column.metric
        return ROBUSTNESS_NOTE.format(first=column.title, count=len(perturbed))
    return ""


def flagship_claim(table: Table) -> str:
    """The flagship's claim in one line, from the headline's first column: its figure, its rank
    and the best other method that is not a control."""
    if not table.metrics:
        return ""
    column = table.metrics[0]
    ranked = [r for r in table.rows if column in r.cells and not is_control(r)]
    flagship = next((r for r in ranked if r.method == FLAGSHIP), None)
    if flagship is None:
        return ""
    others = [r for r in ranked if r.method != FLAGSHIP]
    claim = (
        f"{FLAGSHIP}, trained only on synthetic generators and never on a real one, reaches "
        f"{column} {format_cell(flagship.cells[column])} on generators it has never seen "
        f"(rank {ranked.index(flagship) + 1} of {len(ranked)} methods, controls aside)"
    )
    if others:
        best = others[0]
        claim += f"; the best other method, {best.method}, {format_cell(best.cells[column])}"
    return claim + "."
