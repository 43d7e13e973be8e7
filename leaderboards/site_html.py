"""The site's HTML pieces: the page shell, a board table, a figure - every name escaped here.

Each page inlines the one stylesheet and the one script beside this module (``site.css``,
``site.js``), so a page works from ``file://`` and offline, with no CDN. A figure's provenance
(seeds, git sha, data hash, config hash, run ids, device, weights) sits behind the cell: a
tooltip on every value and an expander in the row's method cell - never as columns, which
made the old board a data dump.
"""

from __future__ import annotations

import re
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from functools import cache
from pathlib import Path
from typing import Any

from leaderboards.names import html_text
from leaderboards.tables import Row, Table, TableCell, format_cell, higher_is_better

e = html_text
CURRENT = " aria-current='page'"

#: the site's pages, in the order the navigation lists them: (file under the site root, label)
PAGES = (("index.html", "Leaderboard"), ("studies.html", "Studies"), ("methods.html", "Methods"))


#: the board's footer (HTML); another page made with :func:`page` says what made it
BOARD_FOOTER = (
    "Rendered by <code>modelprint board --site</code> from the results store; "
    "every figure is a view of the store, never edited by hand."
)


def arrow(metric: str) -> str:
    """Which way is better for a metric, as the column heading shows it."""
    return "↑" if higher_is_better(metric) else "↓"


@cache
def _asset(name: str) -> str:
    return (Path(__file__).with_name(name)).read_text()


def page(
    title: str,
    body: str,
    root: str = "",
    current: str = "index.html",
    script: bool = True,
    nav: Sequence[tuple[str, str]] = PAGES,
    footer: str = BOARD_FOOTER,
) -> str:
    """A whole page: landmarks (header, nav, main, footer) for readers and screen readers
    alike, the inlined style and (where the page has something to sort, filter or select) the
    script; ``root`` is the way back to the site root ("../"), ``nav`` the pages this site has,
    ``footer`` what made the page (HTML, already escaped)."""
    links = "".join(
        f"<li><a href='{root}{href}'{CURRENT if href == current else ''}>{label}</a></li>"
        for href, label in nav
    )
    return (
        "<!doctype html><html lang='en'><head><meta charset='utf-8'>"
        "<meta name='viewport' content='width=device-width, initial-scale=1'>"
        f"<title>{e(title)} - modelprint</title><style>{_asset('site.css')}</style></head><body>"
        f"<header class='site'><p><strong>modelprint</strong> - model attribution benchmark</p>"
        + (f"<nav class='site' aria-label='site'><ul>{links}</ul></nav>" if links else "")
        + "</header>"
        f"<main id='main'><h1>{e(title)}</h1>{body}</main>"
        f"<footer class='site'>{footer}</footer>"
        + (f"<script>{_asset('site.js')}</script>" if script else "")
        + "</body></html>"
    )


def provenance_facts(row: Row) -> dict[str, str]:
    """A row's provenance as label -> text, in the order a reader checks it."""
    prov = row.provenance
    facts = {"seeds": ", ".join(map(str, row.seeds))}
    for key, label in (
        ("weights", "weights"),
        ("git_sha", "git"),
        ("data_hash", "data hash"),
        ("config_hash", "config hash"),
        ("run_ids", "run ids"),
        ("device", "device"),
    ):
        if key in prov:
            value = prov[key]
            facts[label] = ", ".join(map(str, value)) if isinstance(value, list) else str(value)
    return facts


def provenance_tooltip(row: Row) -> str:
    """The short provenance a hover shows over a value (the expander has the rest)."""
    facts = provenance_facts(row)
    short = {k: facts[k] for k in ("seeds", "git", "data hash", "config hash", "device") if k in facts}
    if "git" in short:
        short["git"] = ", ".join(sha[:10] for sha in short["git"].split(", "))
    return "; ".join(f"{k}: {v}" for k, v in short.items())


def provenance_details(row: Row) -> str:
    """The row's full provenance behind a one-word expander."""
    items = "".join(f"<dt>{e(k)}</dt><dd>{e(v)}</dd>" for k, v in provenance_facts(row).items())
    return f"<details class='prov'><summary>provenance</summary><dl>{items}</dl></details>"


def value_cell(cell: TableCell | None, row: Row, best: bool) -> str:
    """One figure: value ± half its CI, the exact value to sort by, provenance on hover."""
    if cell is None:
        return "<td class='num' data-value=''>—</td>"
    mark = " best" if best else ""
    return (
        f"<td class='num{mark}' data-value='{cell.value:.6f}' title='{e(provenance_tooltip(row))}'>"
        f"{e(format_cell(cell))}</td>"
    )


@dataclass
class TableView:
    """How one board table is shown: its id (for the filter), its name for screen readers, a
    note under it, the link of a method name, which rows are controls, and extra columns put
    before the figures. (A note, not a ``<caption>``: a caption is as wide as its table and is
    cut off where a narrow screen scrolls the table.)"""

    table_id: str
    label: str = ""
    note: str = ""
    method_href: Callable[[str], str | None] = lambda method: None
    is_control: Callable[[Row], bool] = lambda row: False
    leading: Sequence[tuple[str, Callable[[Row], str]]] = ()


def board_table(table: Table, view: TableView) -> str:
    """A sortable table: one row per method, one column per figure with its direction."""
    heads = ["method", *(label for label, _ in view.leading)]
    heads += [f"{column} {arrow(table.metric_of(column))}" for column in table.metrics]
    label = f" aria-label='{e(view.label)}'" if view.label else ""
    parts = [f"<table class='board' id='{e(view.table_id)}'{label}><thead><tr>"]
    parts += [f"<th scope='col'><button type='button' class='sort'>{e(h)}</button></th>" for h in heads]
    parts.append("</tr></thead><tbody>")
    several = len(table.rows) > 1
    for row in table.rows:
        control = view.is_control(row)
        parts.append("<tr data-control>" if control else "<tr>")
        parts.append(
            f"<th scope='row' data-value='{e(row.method)}'>{method_label(row.method, view, control)}"
        )
        parts.append(f"{provenance_details(row)}</th>")
        parts += [f"<td>{text(row)}</td>" for _, text in view.leading]
        for column in table.metrics:
            best = several and table.best(column) == row.method
            parts.append(value_cell(row.cells.get(column), row, best))
        parts.append("</tr>")
    parts.append("</tbody></table>")
    note = f"<p class='note'>{e(view.note)}</p>" if view.note else ""
    return scroll_box(view.label or view.table_id, "".join(parts)) + note


def scroll_box(label: str, inner: str) -> str:
    """A box a wide table scrolls sideways in, so the page never does; focusable and named, so
    a keyboard can scroll it too (axe-core's scrollable-region-focusable)."""
    return f"<div class='scroll' tabindex='0' role='region' aria-label='{e(label)}'>{inner}</div>"


def paired(heading: str, table: str, images: list[str]) -> str:
    """A table under its heading with its plots beside it (below it where the window is narrow)."""
    return f"<h3>{heading}</h3><div class='pair'>{table}{gallery(images, kind='plots')}</div>"


def plain_table(label: str, heads: Sequence[str], body: str, table_id: str = "") -> str:
    """A table that needs no sorting: scoped column headings, ``body`` the escaped rows."""
    head = "".join(f"<th scope='col'>{e(h)}</th>" for h in heads)
    ident = f" id='{e(table_id)}'" if table_id else ""
    table = f"<table class='board'{ident}><thead><tr>{head}</tr></thead><tbody>{body}</tbody></table>"
    return scroll_box(label, table)


def method_label(method: str, view: TableView, control: bool) -> str:
    """A method's name, linked to its page where it has one, marked where it is a control."""
    href = view.method_href(method)
    text = e(method).replace("_", "_<wbr>")  # a long name breaks after an underscore, not mid-word
    name = f"<a href='{e(href)}'>{text}</a>" if href else text
    return name + ("<span class='badge'>control</span>" if control else "")


def figure(src: str, caption: str, alt: str | None = None) -> str:
    """A thumbnail that opens full size: the link is the image itself."""
    return (
        f"<figure><a href='{e(src)}'><img src='{e(src)}' alt='{e(alt or caption)}' loading='lazy'></a>"
        f"<figcaption>{e(caption)}</figcaption></figure>"
    )


def filter_controls(table_id: str, controls: bool = False) -> str:
    """A labelled search box (and a labelled hide-controls toggle) acting on one table."""
    parts = [
        "<div class='controls'>",
        f"<label>Filter rows <input type='search' data-filter='{e(table_id)}' "
        f"placeholder='method name'></label>",
    ]
    if controls:
        parts.append(
            f"<label><input type='checkbox' data-hide-controls='{e(table_id)}'> hide controls</label>"
        )
    parts.append("</div>")
    return "".join(parts)


def prose(text: str) -> str:
    """Docstring text as HTML: escaped, its ````literals```` set as code."""
    return re.sub(r"``(.+?)``", r"<code>\1</code>", e(text))


def definition_list(facts: dict[str, Any]) -> str:
    """Label -> text as a ``<dl>``, escaped."""
    return "<dl>" + "".join(f"<dt>{e(k)}</dt><dd>{e(str(v))}</dd>" for k, v in facts.items()) + "</dl>"


def dataset_selector(datasets: list[str], default: str | None = None) -> str:
    """One labelled selector for every block marked ``data-dataset`` on the page; without the
    script every block stays shown."""
    chosen = default if default in datasets else None
    options = "".join(
        f"<option value='{e(d)}'{' selected' if d == chosen else ''}>{e(d)}</option>" for d in datasets
    )
    return (
        "<div class='controls'><label for='dataset'>Data set</label>"
        f"<select id='dataset'><option value='*'>all data sets</option>{options}</select></div>"
    )


def section(anchor: str, heading: str, body: str) -> str:
    """A titled region: a landmark a screen reader lists by its heading."""
    slug = e(anchor)
    return (
        f"<section id='{slug}' aria-labelledby='{slug}-h'><h2 id='{slug}-h'>{e(heading)}</h2>{body}</section>"
    )


def gallery(names: list[str], folder: str = "plots/", kind: str = "plots gallery") -> str:
    """Thumbnails of the board's plots (by file name under ``folder``); '' when there are none."""
    if not names:
        return ""
    return f"<div class='{kind}'>" + "".join(figure(f"{folder}{n}", n) for n in names) + "</div>"
