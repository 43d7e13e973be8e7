"""A method's per-generator tables for its page: how it does on each unseen generator alone.

The views are the protocols' own (``Judging.per_generator``, as ``per_generator.md`` reads them)
and the records are the newest runs' (:func:`leaderboards.per_generator.newest_records`), read
once per view for every method page. A row gives the view's figure for that generator and the
generator its images are most often taken for (or its counterpart, under semantic shift).
"""

from __future__ import annotations

from typing import Any

from leaderboards.judging import Judgings, per_generator_views
from leaderboards.per_generator import newest_records
from leaderboards.site_html import e, plain_table, section
from leaderboards.store import ResultsStore

#: (record field, heading) of the figure a row shows, the first the record has
FIGURES = (
    ("identification_accuracy", "identification accuracy"),
    ("counterpart_share", "share to its counterpart"),
    ("auroc", "AUROC vs known test"),
)
#: (record field, heading) of the generator a row names, the first the record has
NAMES = (
    ("counterpart", "counterpart"),
    ("mostly_taken_for", "mostly taken for"),
    ("mostly_confused_with", "mostly confused with"),
)

#: (view title, data set) -> method -> generator -> its record
Records = dict[tuple[str, str], dict[str, dict[str, dict[str, Any]]]]


def generator_records(store: ResultsStore, judgings: Judgings) -> Records:
    """Every per-generator view's newest records, by (view title, data set)."""
    records: Records = {}
    for protocol, split, title in per_generator_views(judgings):
        for dataset, by_method in newest_records(store, protocol, split=split).items():
            records[(title, dataset)] = by_method
    return records


def generator_table(title: str, dataset: str, record: dict[str, dict[str, Any]]) -> str:
    """One view on one data set: a row per unseen generator."""
    sample = next(iter(record.values()), {})
    figure = next(((k, h) for k, h in FIGURES if k in sample), None)
    name = next(((k, h) for k, h in NAMES if k in sample), None)
    if figure is None:
        return ""
    heads = ["generator", figure[1], *([name[1]] if name else [])]
    rows = []
    for generator, values in sorted(record.items()):
        value = float(values.get(figure[0], 0.0))
        cells = f"<td class='num' data-value='{value:.6f}'>{value:.3f}</td>"
        if name:
            cells += f"<td>{e(str(values.get(name[0], '—')))}</td>"
        rows.append(f"<tr><th scope='row'>{e(generator)}</th>{cells}</tr>")
    table = plain_table(f"{title} per generator on {dataset}", heads, "".join(rows))
    return f"<details><summary>{e(title)} ({e(dataset)})</summary>{table}</details>"


def generators_section(method: str, records: Records) -> str:
    """The method's per-generator tables, each folded ('' when it has none)."""
    tables = [
        generator_table(title, dataset, by_method[method])
        for (title, dataset), by_method in sorted(records.items())
        if by_method.get(method)
    ]
    body = "".join(tables)
    return section("generators", "Per unseen generator", body) if body else ""
