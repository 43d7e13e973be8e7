"""Render leaderboard tables as Markdown, CSV, JSON, HTML (escaped, sortable, self-contained) and LaTeX."""

from __future__ import annotations

import base64
import csv
import io
import json
from collections.abc import Callable
from pathlib import Path

from leaderboards.names import html_text, latex_text, markdown_text
from leaderboards.tables import Table, format_cell, higher_is_better


def _arrow(metric: str) -> str:
    return "↑" if higher_is_better(metric) else "↓"


def to_markdown(tables: list[Table]) -> str:
    out = []
    for table in tables:
        out.append(f"### {markdown_text(table.title)}\n")
        header = [
            "method",
            *[f"{markdown_text(m)} {_arrow(table.metric_of(m))}" for m in table.metrics],
            "seeds",
            "weights",
        ]
        out.append("| " + " | ".join(header) + " |")
        out.append("|" + "---|" * len(header))
        for row in table.rows:
            cells = []
            for metric in table.metrics:
                text = format_cell(row.cells[metric]) if metric in row.cells else "—"
                cells.append(
                    f"**{text}**" if table.best(metric) == row.method and len(table.rows) > 1 else text
                )
            seeds = ",".join(map(str, row.seeds))
            row_text = [markdown_text(row.method), *cells, seeds, markdown_text(row.provenance["weights"])]
            out.append("| " + " | ".join(row_text) + " |")
        out.append("")
    return "\n".join(out)


def to_rows(tables: list[Table]) -> list[dict[str, object]]:
    flat = []
    for table in tables:
        for row in table.rows:
            for metric, cell in row.cells.items():
                flat.append(
                    {
                        "protocol": table.protocol,
                        "split": table.split,
                        "dataset": table.dataset,
                        "method": row.method,
                        "metric": table.metric_of(metric),
                        "column": metric,  # a robustness table's column is its perturbation
                        "value": cell.value,
                        "ci_low": cell.ci_low,
                        "ci_high": cell.ci_high,
                        "higher_is_better": higher_is_better(table.metric_of(metric)),
                        "seeds": row.seeds,
                        **row.provenance,
                    }
                )
    return flat


def to_csv(tables: list[Table]) -> str:
    buffer = io.StringIO()
    rows = to_rows(tables)
    writer = csv.DictWriter(buffer, fieldnames=list(rows[0]) if rows else ["protocol"])
    writer.writeheader()
    for row in rows:
        writer.writerow({k: json.dumps(v) if isinstance(v, list) else v for k, v in row.items()})
    return buffer.getvalue()


def to_json(tables: list[Table]) -> str:
    return json.dumps(to_rows(tables), indent=1)


def to_latex(tables: list[Table]) -> str:
    out = []
    for table in tables:
        out.append(f"% {latex_text(table.title)}")
        out.append("\\begin{tabular}{l" + "c" * len(table.metrics) + "}")
        out.append(
            " & ".join(
                [
                    "method",
                    *[
                        latex_text(m)
                        + (" $\\uparrow$" if higher_is_better(table.metric_of(m)) else " $\\downarrow$")
                        for m in table.metrics
                    ],
                ]
            )
            + " \\\\ \\hline"
        )
        for row in table.rows:
            cells = []
            for metric in table.metrics:
                cell = row.cells.get(metric)
                text = (
                    " $\\pm$ ".join(latex_text(part) for part in format_cell(cell).split(" ± "))
                    if cell
                    else "--"
                )
                cells.append(
                    f"\\textbf{{{text}}}"
                    if table.best(metric) == row.method and len(table.rows) > 1
                    else text
                )
            out.append(" & ".join([latex_text(row.method), *cells]) + " \\\\")
        out.append("\\end{tabular}\n")
    return "\n".join(out)


_SORT_SCRIPT = """
document.querySelectorAll('table.board th').forEach(function (th, col) {
  th.addEventListener('click', function () {
    var table = th.closest('table'), body = table.tBodies[0];
    var index = Array.prototype.indexOf.call(th.parentNode.children, th);
    var ascending = th.dataset.order !== 'asc';
    th.dataset.order = ascending ? 'asc' : 'desc';
    var rows = Array.prototype.slice.call(body.rows);
    rows.sort(function (a, b) {
      var x = a.cells[index].dataset.value || a.cells[index].textContent;
      var y = b.cells[index].dataset.value || b.cells[index].textContent;
      var nx = parseFloat(x), ny = parseFloat(y);
      var cmp = (!isNaN(nx) && !isNaN(ny)) ? nx - ny : x.localeCompare(y);
      return ascending ? cmp : -cmp;
    });
    rows.forEach(function (r) { body.appendChild(r); });
  });
});
"""


def to_html(
    tables: list[Table],
    title: str = "modelprint leaderboard",
    images: list[Path] | None = None,
    method_href: Callable[[str], str] | None = None,
    image_src: Callable[[Path], str] | None = None,
) -> str:
    """A page: every string escaped, columns sortable by a click, plots inlined (self-contained)
    unless ``image_src`` names where they are; ``method_href`` links each method's name."""
    e = html_text
    parts = [
        f"<!doctype html><html><head><meta charset='utf-8'><title>{e(title)}</title>",
        "<style>body{font-family:sans-serif;margin:2em}table{border-collapse:collapse;margin-bottom:2em}"
        "td,th{border:1px solid #ccc;padding:4px 8px}th{cursor:pointer;background:#eee}"
        ".best{font-weight:bold}"
        "</style></head><body>",
        f"<h1>{e(title)}</h1>",
    ]
    for table in tables:
        parts.append(f"<h2>{e(table.title)}</h2><table class='board'><thead><tr><th>method</th>")
        parts += [f"<th>{e(m)} {_arrow(table.metric_of(m))}</th>" for m in table.metrics]
        parts.append("<th>seeds</th><th>weights</th><th>git</th><th>data hash</th></tr></thead><tbody>")
        for row in table.rows:
            name = e(row.method)
            link = f"<a href='{e(method_href(row.method))}'>{name}</a>" if method_href else name
            parts.append(f"<tr><td data-value='{name}'>{link}</td>")
            for metric in table.metrics:
                cell = row.cells.get(metric)
                if cell is None:
                    parts.append("<td data-value=''>—</td>")
                    continue
                best = " class='best'" if table.best(metric) == row.method and len(table.rows) > 1 else ""
                parts.append(f"<td{best} data-value='{cell.value:.6f}'>{e(format_cell(cell))}</td>")
            prov = row.provenance
            parts.append(
                f"<td>{e(','.join(map(str, row.seeds)))}</td><td>{e(str(prov['weights']))}</td>"
                f"<td>{e(', '.join(s[:12] for s in prov['git_sha']))}</td>"
                f"<td>{e(', '.join(prov['data_hash']))}</td></tr>"
            )
        parts.append("</tbody></table>")
    for image in images or []:  # inlined, so the page is one self-contained file
        source = image_src(Path(image)) if image_src else None
        if source is None:
            source = "data:image/png;base64," + base64.b64encode(Path(image).read_bytes()).decode()
        name = e(Path(image).name)
        parts.append(f"<figure><img src='{e(source)}' alt='{name}'>")
        parts.append(f"<figcaption>{name}</figcaption></figure>")
    parts.append(f"<script>{_SORT_SCRIPT}</script></body></html>")  # static code, no data in it
    return "".join(parts)


def write_all(tables: list[Table], out: Path, images: list[Path] | None = None) -> list[Path]:
    out.mkdir(parents=True, exist_ok=True)
    plots = "".join(f"- [{markdown_text(Path(i).stem)}]({Path(i).name})\n" for i in images or [])
    files = {
        "board.md": to_markdown(tables) + (f"\n## Plots\n\n{plots}" if plots else ""),
        "board.csv": to_csv(tables),
        "board.json": to_json(tables),
        "board.tex": to_latex(tables),
        "board.html": to_html(tables, images=images),
    }
    for name, text in files.items():
        (out / name).write_text(text)
    return [out / name for name in files]
