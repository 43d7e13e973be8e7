"""Method pages as cards, and the methods index.

A page says what the method is (in its own words: :mod:`leaderboards.site_descriptions`), its
place in the headline, its weights and their provenance, its figures across every protocol in
one table per data set, its per-generator tables (:mod:`leaderboards.site_generators`), its
plots (fingerprint map, confusion matrices) and its newest configuration per protocol. Only
methods of the benchmark protocols get a page; study variants never do. A method page has
nothing to sort or select, so it carries no script: plain HTML.
"""

from __future__ import annotations

import json
from collections.abc import Sequence

from leaderboards.site_descriptions import describe
from leaderboards.site_generators import Records, generators_section
from leaderboards.site_headline import HEADLINE_DATASET, is_control, ranks
from leaderboards.site_html import (
    PAGES,
    arrow,
    definition_list,
    e,
    gallery,
    page,
    plain_table,
    prose,
    section,
    value_cell,
)
from leaderboards.site_plots import PlotIndex
from leaderboards.store import ResultsStore
from leaderboards.tables import Row, Table, format_cell

BADGE = "<span class='badge'>control</span>"
METHOD_PLOTS = ("fingerprint_map", "confusion", "unseen_confusion")


def rows_of(method: str, tables: list[Table]) -> list[tuple[Table, Row]]:
    return [(t, r) for t in tables for r in t.rows if r.method == method]


def figures_table(rows: list[tuple[Table, Row]], dataset: str, robust: bool) -> str:
    """The method's figures on one data set, one line per (table, column), provenance on hover:
    the benchmark protocols' figures, or (``robust``) its figures under delivery."""
    lines = []
    for table, row in rows:
        if table.dataset != dataset or bool(table.value_metric) != robust:
            continue
        where = f"{table.protocol} / {table.split}" + (f": {table.value_metric}" if robust else "")
        for column in table.metrics:
            if column in row.cells:
                label = column if robust else f"{column} {arrow(table.metric_of(column))}"
                lines.append(
                    f"<tr><th scope='row'>{e(where)}</th><td>{e(label)}</td>"
                    f"{value_cell(row.cells[column], row, False)}</tr>"
                )
    if not lines:
        return ""
    name = f"figures of this method on {dataset}" + (" under delivery" if robust else "")
    return plain_table(name, ("protocol / split", "figure", "value"), "".join(lines))


def figures_section(rows: list[tuple[Table, Row]]) -> str:
    """Every figure of the method in one table per data set - the headline's data set open, the
    others and the figures under delivery a click away (no script on a method page)."""
    datasets = sorted({t.dataset for t, _ in rows}, key=lambda d: (d != HEADLINE_DATASET, d))
    parts = []
    for dataset in datasets:
        clean, robust = figures_table(rows, dataset, False), figures_table(rows, dataset, True)
        if robust:
            clean += f"<details><summary>under delivery (robustness track)</summary>{robust}</details>"
        opened = " open" if dataset == datasets[0] else ""
        parts.append(f"<details{opened}><summary>on {e(dataset)}</summary>{clean}</details>")
    return section("figures", "Figures across protocols", "".join(parts))


def headline_card(method: str, headline: Table) -> str:
    """The method's row of the site's headline: its rank and its headline figures."""
    row = next((r for r in headline.rows if r.method == method), None)
    if row is None:
        return ""
    facts = {c: format_cell(row.cells[c]) for c in headline.metrics if c in row.cells}
    rank, ranked = ranks(headline).get(method), len(ranks(headline))
    where = f"Rank {rank} of {ranked}" if rank else f"A control (the {ranked} methods are ranked without it)"
    where += f" on the {e(headline.dataset)}"
    return (
        f"<div class='card'><h2>Headline</h2><p>{where} (<a href='../index.html#headline'>table</a>)</p>"
        f"{definition_list(facts)}</div>"
    )


def weights_card(rows: list[tuple[Table, Row]]) -> str:
    """The weights notes the method's rows carry, each with the runs and revisions behind it."""
    notes: dict[str, dict[str, set[str]]] = {}
    for _, row in rows:
        note = notes.setdefault(str(row.provenance.get("weights", "n/a")), {"git": set(), "data hash": set()})
        note["git"].update(s[:12] for s in row.provenance.get("git_sha", []))
        note["data hash"].update(row.provenance.get("data_hash", []))
    items = "".join(
        f"<li>{e(note)}<details class='prov'><summary>provenance</summary>"
        f"{definition_list({k: ', '.join(sorted(v)) for k, v in facts.items()})}</details></li>"
        for note, facts in sorted(notes.items())
    )
    return f"<div class='card'><h2>Weights</h2><ul>{items}</ul></div>"


def method_page(
    method: str,
    tables: list[Table],
    headline: Table,
    store: ResultsStore,
    plots: PlotIndex,
    records: Records,
    nav: Sequence[tuple[str, str]] = PAGES,
) -> str:
    """The method's page: cards (what it is, headline, weights), its figures, plots, configs."""
    rows = rows_of(method, tables)
    control = any(is_control(row) for _, row in rows)
    own, config = describe(method)
    what = "".join(f"<p>{prose(part)}</p>" for part in own) or "<p>Its weights note says what it is.</p>"
    if config:
        what += f"<p class='muted'>Its config (configs/methods/{e(method)}.yaml): {prose(config)}</p>"
    if control:
        what += f"<p>{BADGE} compared against to show where the flagship's figures come from.</p>"
    datasets = sorted({t.dataset for t, _ in rows})
    parts = [
        "<p><a href='../index.html'>&larr; leaderboard</a> · <a href='../methods.html'>all methods</a></p>",
        f"<div class='cards'><div class='card'><h2>What it is</h2>{what}</div>",
        headline_card(method, headline),
        weights_card(rows),
        "</div>",
        figures_section(rows),
        generators_section(method, records),
    ]
    names = [n for d in datasets for prefix in METHOD_PLOTS for n in plots.for_method(prefix, method, d)]
    if names:
        parts.append(section("plots", "Plots", gallery(names, "../plots/")))
    latest = store.newest_current_runs(("protocol",), method=method)
    if latest:
        parts.append("<section aria-labelledby='config-h'><h2 id='config-h'>Configuration</h2>")
        for (protocol,), run in sorted(latest.items()):
            config_text = json.dumps(json.loads(run["config_json"]), indent=2, sort_keys=True)
            parts.append(
                f"<details><summary>configuration ({e(protocol)}, run {e(run['run_id'])})</summary>"
                f"<pre tabindex='0'>{e(config_text)}</pre></details>"  # it scrolls: keyboard too
            )
        parts.append("</section>")
    return page(method, "".join(parts), root="../", current="", script=False, nav=nav)


def methods_index(
    methods: list[str],
    tables: list[Table],
    headline: Table,
    href: dict[str, str],
    nav: Sequence[tuple[str, str]] = PAGES,
) -> str:
    """One card per method: its headline figure, what it is, whether it is a control."""
    first = headline.metrics[0] if headline.metrics else None
    cards = []
    for method in methods:
        rows = rows_of(method, tables)
        head = next((r for r in headline.rows if r.method == method), None)
        figure_line = (
            f"<p>{e(first)}: {e(format_cell(head.cells[first]))}</p>"
            if head is not None and first and first in head.cells
            else ""
        )
        badge = BADGE if any(is_control(row) for _, row in rows) else ""
        weights = str(rows[0][1].provenance.get("weights", "")) if rows else ""
        cards.append(
            f"<div class='card'><h2><a href='{e(href[method])}'>{e(method)}</a>{badge}</h2>{figure_line}"
            f"<p class='muted'>{prose(next(iter(describe(method)[0]), weights))}</p></div>"
        )
    body = f"<p><a href='index.html'>&larr; leaderboard</a></p><div class='cards'>{''.join(cards)}</div>"
    return page("Methods", body, current="methods.html", nav=nav)
