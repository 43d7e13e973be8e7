"""The published board as a static site (``modelprint board --site DIR``), a page researchers read.

``index.html`` leads with the ranked headline (zero shot on unseen generators first, as the
protocols declare it), then what changed since the last publication, then one section per
question with each table's plots beside it and a data-set selector; ``studies.html`` holds the
flagship's ablation, the scaling study, synthetic-space statistics and training records;
``methods/<name>.html`` is a page of cards for each benchmark method (never for a study's
variant) and ``methods.html`` lists them. Plots are files beside the pages (``plots/``),
not inlined, so pages stay light; style and script are inlined, so the site works from
``file://`` offline. Every string from the store is escaped (:mod:`leaderboards.names`).

Each piece has its module: ``site_html`` (shell, tables, figures), ``site_headline``,
``site_index``, ``site_studies``, ``site_methods``, ``site_changes``, ``site_plots``.
"""

from __future__ import annotations

import json
import shutil
from pathlib import Path

from core.paths import file_slug
from leaderboards.judging import Judging, Judgings
from leaderboards.site_changes import changes_section
from leaderboards.site_generators import generator_records
from leaderboards.site_headline import flagship_claim, site_headline
from leaderboards.site_html import PAGES
from leaderboards.site_index import index_page
from leaderboards.site_methods import method_page, methods_index
from leaderboards.site_plots import PlotIndex
from leaderboards.site_studies import is_study, studies_page
from leaderboards.store import ResultsStore
from leaderboards.tables import Table


def write_site(
    tables: list[Table], store: ResultsStore, out: Path, images: list[Path], judgings: Judgings | None = None
) -> list[Path]:
    """index.html, studies.html, a page per method and the plots, under ``out``.

    ``judgings`` are the board's declarations of how each protocol is judged
    (``benchmarks.commands.board.board_judgings()``): they give the headline's columns and
    tell benchmark protocols from studies. Without them no headline can be read and every
    table is taken for a benchmark protocol's."""
    if judgings is None:
        judgings = {t.protocol.split("@")[0]: Judging() for t in tables}
    (out / "methods").mkdir(parents=True, exist_ok=True)
    (out / "plots").mkdir(exist_ok=True)
    for image in images:
        if image.resolve() != (out / "plots" / image.name).resolve():
            shutil.copyfile(image, out / "plots" / image.name)
    plots = PlotIndex(images)
    studies = [t for t in tables if is_study(t.protocol, judgings)]
    board = [t for t in tables if not is_study(t.protocol, judgings)]
    methods = sorted({row.method for table in board for row in table.rows})
    href = {m: f"methods/{file_slug(m)}.html" for m in methods}
    headline, headline_note = site_headline(board, judgings)
    nav = [(page, label) for page, label in PAGES if studies or page != "studies.html"]
    records = generator_records(store, judgings)
    written: dict[Path, str] = {}
    for method in methods:
        written[out / href[method]] = method_page(method, board, headline, store, plots, records, nav)
    written[out / "methods.html"] = methods_index(methods, board, headline, href, nav)
    if studies:  # a page only where there are studies: no page without a name from the store
        written[out / "studies.html"] = studies_page(studies, plots, file_slug)
    written[out / "index.html"] = index_page(
        headline,
        flagship_claim(headline),
        changes_section(store, tables),
        [t for t in board if not t.value_metric],
        [t for t in board if t.value_metric],
        plots,
        judgings,
        href.get,
        file_slug,
        nav,
        headline_note,
    )
    for path, text in written.items():
        path.write_text(text)
    remove_stale(out, set(written) | {out / "plots" / image.name for image in images})
    return [out / "index.html", *(p for p in written if p != out / "index.html")]


#: what the site writes, by pattern, and the record of what the last render wrote: a page or
#: plot of an earlier render that this one does not write (a method gone from the board, a study
#: no longer recorded) is removed, so the site never links to or serves a stale figure. Only a
#: file both recorded and of the site's own patterns is ever removed: a user's own plot beside
#: the site's, with a name the site could have written, is left alone.
SITE_FILES = ("methods/*.html", "plots/*.png", "studies.html", "methods.html")
WRITTEN_RECORD = ".modelprint-site.json"


def remove_stale(out: Path, kept: set[Path]) -> list[Path]:
    """Delete the files the last render under ``out`` recorded that are not in ``kept``, then
    record ``kept``; returns what was deleted. An unreadable record deletes nothing."""
    record = out / WRITTEN_RECORD
    try:
        earlier = json.loads(record.read_text()) if record.is_file() else []
    except (OSError, ValueError):
        earlier = []
    names = {str(name) for name in earlier} if isinstance(earlier, list) else set()
    own = {p for pattern in SITE_FILES for p in out.glob(pattern)}
    stale = sorted(p for p in own if p.relative_to(out).as_posix() in names and p not in kept and p.is_file())
    for path in stale:
        path.unlink()
    record.write_text(json.dumps(sorted(p.relative_to(out).as_posix() for p in kept), indent=1) + "\n")
    return stale
