"""The published board as a static site (``modelprint board --site DIR``).

``index.html``: one sortable table per protocol and split, each row linking to its method's
page, and the plots (files beside it, not inlined, so the page stays light). ``methods/<name>.html``:
that method's row in every table with its full provenance - seeds, git revisions, data and
config hashes, weights flag, results-store run ids - and the configuration of its newest shown run
per protocol, as recorded in the store. Every string from the store is HTML-escaped.
"""

from __future__ import annotations

import json
import shutil
from pathlib import Path

from core.paths import file_slug
from leaderboards.names import html_text
from leaderboards.render import to_html
from leaderboards.store import ResultsStore
from leaderboards.tables import Table, format_cell


def method_page(method: str, tables: list[Table], store: ResultsStore) -> str:
    e = html_text
    parts = [
        f"<!doctype html><html><head><meta charset='utf-8'><title>{e(method)} - modelprint</title>",
        "<style>body{font-family:sans-serif;margin:2em}table{border-collapse:collapse;margin-bottom:1.5em}"
        "td,th{border:1px solid #ccc;padding:4px 8px;vertical-align:top}th{background:#eee}"
        "pre{background:#f6f6f6;padding:1em;overflow:auto}</style></head><body>",
        f"<p><a href='../index.html'>&larr; leaderboard</a></p><h1>{e(method)}</h1>",
    ]
    for table in tables:
        row = next((r for r in table.rows if r.method == method), None)
        if row is None:
            continue
        parts.append(f"<h2>{e(table.title)}</h2><table class='method'><tbody>")
        for metric in table.metrics:
            cell = row.cells.get(metric)
            parts.append(f"<tr><th>{e(metric)}</th><td>{e(format_cell(cell)) if cell else '—'}</td></tr>")
        prov = row.provenance
        facts = {
            "seeds": ", ".join(map(str, row.seeds)),
            "weights": str(prov["weights"]),
            "git": ", ".join(prov["git_sha"]),
            "data hash": ", ".join(prov["data_hash"]),
            "config hash": ", ".join(prov["config_hash"]),
            "run ids": ", ".join(prov["run_ids"]),
            "device": str(prov["device"]),
        }
        parts += [f"<tr><th>{e(k)}</th><td>{e(v)}</td></tr>" for k, v in facts.items()]
        parts.append("</tbody></table>")
    latest = store.newest_current_runs(("protocol",), method=method)
    for (protocol,), run in sorted(latest.items()):
        config = json.dumps(json.loads(run["config_json"]), indent=2, sort_keys=True)
        parts.append(f"<h3>configuration ({e(protocol)}, run {e(run['run_id'])})</h3><pre>{e(config)}</pre>")
    parts.append("</body></html>")
    return "".join(parts)


def write_site(tables: list[Table], store: ResultsStore, out: Path, images: list[Path]) -> list[Path]:
    """index.html, one page per method and the plots, under ``out``."""
    (out / "methods").mkdir(parents=True, exist_ok=True)
    (out / "plots").mkdir(exist_ok=True)
    for image in images:
        if image.resolve() != (out / "plots" / image.name).resolve():
            shutil.copyfile(image, out / "plots" / image.name)
    index = to_html(
        tables,
        images=images,
        method_href=lambda m: f"methods/{file_slug(m)}.html",
        image_src=lambda image: f"plots/{image.name}",
    )
    written = [out / "index.html"]
    written[0].write_text(index)
    for method in sorted({row.method for table in tables for row in table.rows}):
        page = out / "methods" / f"{file_slug(method)}.html"
        page.write_text(method_page(method, tables, store))
        written.append(page)
    return written
