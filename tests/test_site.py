"""The static site as a reader meets it, checked without a browser: the ranked headline first
(columns from the protocols' declarations, controls marked), studies on their own page and never
as method pages, method pages as cards, provenance behind the cells rather than in columns,
what changed since the last publication, every link and image resolving, every name escaped,
and an accessibility check of the serious rules over the DOM.

The accessibility check here is written in Python over the parsed pages, so it runs wherever
the tests do; ``tests/test_site_axe.py`` (slow) runs axe-core itself in Chromium where npm can
install it. This one checks what axe-core rates serious or critical for pages like these -
images have alt text, data tables have header cells with a scope, form controls have a label,
the page has a language and main/navigation landmarks, ids are unique, and the site's palette
(``leaderboards/site.css``) has a contrast ratio of at least 4.5:1 (WCAG AA) for every text
colour on every background it is drawn on. The pages in a real browser (sorting, filtering, the
data-set selector, no sideways scroll at 1400 and 390 px) are ``tests/test_site_browser.py``.
"""

from __future__ import annotations

import json
import re
from collections.abc import Iterator
from html.parser import HTMLParser
from pathlib import Path
from urllib.parse import unquote, urlsplit

import pytest

from benchmarks.commands.board import board_judgings
from core.paths import file_slug
from leaderboards.site import write_site
from leaderboards.site_changes import moves, publication_start
from leaderboards.store import Figure, ResultsStore, RunRecord
from leaderboards.tables import Table, TableCell, build_tables, main_effects_tables

HOSTILE = "<script>alert(1)</script>"
#: (method, weights note): a flagship, baselines, a control, and a name that must stay text
METHODS = (
    ("synthetic_fingerprint", "trained on synthetic models only"),
    ("spectral", "random init"),
    ("fingerprint_random", "random init (control)"),
    (HOSTILE, "random init"),
    ("clip[all]", "pretrained"),
)
#: (protocol, split, metrics) each method is recorded under
CELLS = (
    ("zero_shot", "unseen_all", ("identification_accuracy", "verification_auroc")),
    ("closed_set", "known_test", ("accuracy", "macro_f1")),
    ("open_set", "unseen_all", ("auroc", "oscr")),
    ("detection", "unseen_all", ("auroc",)),
)


LONG_PATH = "/scratch/" + "a_rather_long_folder_name/" * 8
#: one unseen generator's zero-shot record, naming a generator that must stay text
GENERATOR_RECORD = {"g1": {"identification_accuracy": 0.5, "f1": 0.4, "mostly_confused_with": "<g2>"}}


def record(
    store: ResultsStore,
    method: str,
    protocol: str,
    split: str,
    figures: list[Figure],
    *,
    dataset: str = "zoo",
    weights: str = "random init",
    details: dict | None = None,
    config: dict | None = None,
) -> None:
    run = RunRecord(
        method, protocol, dataset, split, 0, config or {"m": method}, "d0", "abc123def456", {}, "cpu", 1.0,
        {"weights": weights, **(details or {})},
    )  # fmt: skip
    store.write_run(run, figures)


def filled_store(tmp_path: Path) -> ResultsStore:
    """Every method on every benchmark protocol on two data sets, and a factorial study."""
    store = ResultsStore(tmp_path / "r.sqlite")
    for i, (method, weights) in enumerate(METHODS):
        for protocol, split, metrics in CELLS:
            for dataset in ("zoo", "imagefolder:mine"):
                figures = [Figure(m, 0.1 * i + 0.3, 0.1 * i + 0.28, 0.1 * i + 0.32) for m in metrics]
                details = {"per_generator": GENERATOR_RECORD} if protocol == "zero_shot" else {}
                config = {"m": method, "root": LONG_PATH}  # a long line in the page's configuration
                record(
                    store,
                    method,
                    protocol,
                    split,
                    figures,
                    dataset=dataset,
                    weights=weights,
                    details=details,
                    config=config,
                )
    for variant, level in (
        ("synthetic_fingerprint[residual]", "residual"),
        ("synthetic_fingerprint[fft]", "fft"),
    ):
        figures = [Figure("identification_accuracy", 0.5, 0.4, 0.6), Figure("verification_auroc", 0.7)]
        details = {"factors": {"input": level}}
        record(store, variant, "flagship_ablation", "unseen_all", figures, details=details)
    return store


def site(tmp_path: Path) -> tuple[Path, ResultsStore, list[Table]]:
    store = filled_store(tmp_path)
    image = tmp_path / "open_set_unseen_all_zoo.png"
    image.write_bytes(b"\x89PNG\r\n\x1a\n")
    stray = tmp_path / "something_else.png"
    stray.write_bytes(b"\x89PNG\r\n\x1a\n")
    tables = build_tables(store) + main_effects_tables(store)
    write_site(tables, store, tmp_path / "site", [image, stray], board_judgings())
    return tmp_path / "site", store, tables


def pages(out: Path) -> Iterator[Path]:
    yield from sorted(out.rglob("*.html"))


class Dom(HTMLParser):
    """The parts of a page the checks read: every element's tag and attributes in order, the
    text of each label, and which element each piece of text sits in."""

    def __init__(self) -> None:
        super().__init__()
        self.elements: list[tuple[str, dict[str, str]]] = []
        self.open: list[str] = []
        self.text_in: dict[str, str] = {}

    def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        self.elements.append((tag, {k: v or "" for k, v in attrs}))
        if tag not in ("img", "input", "meta", "br", "link"):
            self.open.append(tag)

    def handle_endtag(self, tag: str) -> None:
        while self.open and self.open.pop() != tag:
            pass

    def handle_data(self, data: str) -> None:
        if self.open:
            self.text_in[self.open[-1]] = self.text_in.get(self.open[-1], "") + data

    def all(self, tag: str) -> list[dict[str, str]]:
        return [attrs for name, attrs in self.elements if name == tag]


def dom(page: Path) -> Dom:
    parsed = Dom()
    parsed.feed(page.read_text())
    return parsed


def test_the_index_opens_with_the_ranked_headline_in_declared_order(tmp_path: Path) -> None:
    out, _, _ = site(tmp_path)
    index = (out / "index.html").read_text()
    first_table = index.index("<table")
    assert index.index("id='headline'") < first_table < index.index("id='changes'")
    head = index[first_table : index.index("</thead>", first_table)]
    columns = re.findall(r"<button type='button' class='sort'>([^<]*)</button>", head)
    assert columns[:2] == ["method", "rank"]
    assert [c.rsplit(" ", 1)[0] for c in columns[2:6]] == [
        "zero-shot identification",
        "zero-shot verification AUROC",
        "closed-set accuracy",
        "open-set AUROC",
    ]  # the protocols' HeadlineColumn positions, then detection's judged figure
    assert columns[6].startswith("detection AUROC")
    body = index[first_table : index.index("</table>", first_table)]
    rows = re.findall(r"<tr( data-control)?><th scope='row' data-value='([^']*)'", body)
    assert rows[0][1] == "clip[all]"  # the best first
    assert ("data-control", "fingerprint_random") in {(c.strip(), m) for c, m in rows}
    assert "class='badge'>control<" in body
    assert "synthetic_fingerprint, trained only on synthetic generators" in index


def test_studies_have_their_page_and_no_method_pages(tmp_path: Path) -> None:
    out, _, _ = site(tmp_path)
    method_pages = {p.name for p in (out / "methods").iterdir()}
    assert method_pages == {f"{file_slug(m)}.html" for m, _ in METHODS}
    assert "methods/spectral.html" in (out / "methods.html").read_text()
    studies = (out / "studies.html").read_text()
    assert "synthetic_fingerprint[residual]" in studies and "input=residual" in studies
    assert "flagship_ablation_main_effects" in studies
    index = (out / "index.html").read_text()
    assert "input=residual" not in index and "synthetic_fingerprint[residual]" not in index


def test_method_pages_are_cards_with_figures_weights_and_configuration(tmp_path: Path) -> None:
    out, _, _ = site(tmp_path)
    page = (out / "methods" / "synthetic_fingerprint.html").read_text()
    for card in ("What it is", "Headline", "Weights"):
        assert f"<h2>{card}</h2>" in page
    assert "Extractor trained on synthetic models only" in page  # the method's own docstring
    assert "trained on synthetic models only" in page and "configuration (zero_shot" in page
    assert "<details open><summary>on zoo</summary>" in page  # the headline's data set first
    assert "<details><summary>on imagefolder:mine</summary>" in page
    assert "<script>" not in page  # nothing to sort or select: a method page is plain HTML
    assert "<h2 id='generators-h'>Per unseen generator</h2>" in page and "&lt;g2&gt;" in page
    control = (out / "methods" / "fingerprint_random.html").read_text()
    assert "class='badge'>control<" in control


def test_provenance_sits_behind_cells_not_in_columns(tmp_path: Path) -> None:
    out, _, _ = site(tmp_path)
    for page in pages(out):
        text = page.read_text()
        heads = re.findall(r"<th scope='col'>(?:<button[^>]*>)?([^<]*)", text)
        assert not {h for h in heads if h.split(" ")[0] in ("git", "seeds", "weights", "device")}, page
    index = (out / "index.html").read_text()
    assert "title='seeds: 0; git: abc123def4; data hash: d0; config hash:" in index
    assert "<details class='prov'><summary>provenance</summary><dl><dt>seeds</dt>" in index
    assert "<dt>run ids</dt>" in index


def test_every_link_and_image_resolves(tmp_path: Path) -> None:
    out, _, _ = site(tmp_path)
    ids = {page: {a["id"] for _, a in dom(page).elements if "id" in a} for page in pages(out)}
    checked = 0
    for page in pages(out):
        parsed = dom(page)
        targets = [a["href"] for a in parsed.all("a")] + [a["src"] for a in parsed.all("img")]
        for target in targets:
            parts = urlsplit(target)
            assert not parts.scheme and not parts.netloc, f"{page}: {target} leaves the site"
            path = (page.parent / unquote(parts.path)).resolve() if parts.path else page
            assert path.is_file(), f"{page}: {target} does not resolve"
            if parts.fragment:
                assert parts.fragment in ids[path], f"{page}: no #{parts.fragment} in {path.name}"
            checked += 1
    assert checked > 50
    assert "plots/something_else.png" in (out / "index.html").read_text()  # an unplaced plot still shows


def test_every_name_is_escaped(tmp_path: Path) -> None:
    out, _, _ = site(tmp_path)
    for page in pages(out):
        text = page.read_text()
        assert "<script>alert" not in text, page
        assert text.count("<script>") == (0 if page.parent.name == "methods" else 1)  # the site's own
    assert "&lt;script&gt;alert(1)&lt;/script&gt;" in (out / "index.html").read_text()


def test_the_site_writes_only_under_its_folder(tmp_path: Path) -> None:
    store = filled_store(tmp_path)
    before = {p: p.stat().st_mtime_ns for p in tmp_path.rglob("*")}
    write_site(build_tables(store), store, tmp_path / "site", [], board_judgings())
    changed = {p for p in tmp_path.rglob("*") if p not in before or p.stat().st_mtime_ns != before[p]}
    assert all(
        p == tmp_path / "site" or (tmp_path / "site") in p.parents
        for p in changed
        if "r.sqlite" not in p.name
    )


def test_a_re_render_removes_its_own_stale_pages_and_plots_only(tmp_path: Path) -> None:
    """What an earlier render wrote and this one does not is removed; a user's own files - even
    a plot named as the site might name one - stay, and an unreadable record removes nothing."""
    from leaderboards.site import WRITTEN_RECORD

    store = filled_store(tmp_path)
    out = tmp_path / "site"
    (out / "methods").mkdir(parents=True)
    (out / "plots").mkdir()
    gone_method, gone_plot = out / "methods" / "retired.html", out / "plots" / "retired.png"
    mine, notes = out / "plots" / "my_own.png", out / "notes.txt"
    for path in (gone_method, gone_plot, mine, notes):
        path.write_bytes(b"old")
    (out / WRITTEN_RECORD).write_text('["methods/retired.html", "plots/retired.png", "../notes.txt"]')
    written = write_site(build_tables(store), store, out, [], board_judgings())
    assert not gone_method.exists() and not gone_plot.exists()
    assert mine.read_bytes() == notes.read_bytes() == b"old" and all(p.exists() for p in written)
    recorded = json.loads((out / WRITTEN_RECORD).read_text())
    assert "index.html" in recorded and "plots/my_own.png" not in recorded

    gone_plot.write_bytes(b"old")
    (out / WRITTEN_RECORD).write_text("{not json")
    write_site(build_tables(store), store, out, [], board_judgings())
    assert gone_plot.exists() and mine.exists()


def test_a_figure_that_moved_beyond_its_interval_is_listed() -> None:
    def table(value: float, half: float) -> Table:
        from leaderboards.tables import Row

        cell = TableCell(value, value - half, value + half)
        return Table(
            "zero_shot",
            "unseen_all",
            "zoo",
            ["identification_accuracy"],
            [Row("m", {"identification_accuracy": cell}, [0], {})],
        )

    found, added, gone = moves([table(0.5, 0.01)], [table(0.6, 0.02)])
    assert [(m.method, m.better) for m in found] == [("m", True)] and (added, gone) == (0, 0)
    assert moves([table(0.5, 0.05)], [table(0.52, 0.05)])[0] == []  # within the interval


def test_the_last_publication_is_the_store_before_its_newest_burst(tmp_path: Path) -> None:
    assert publication_start(["2026-12-01T10:00:00+00:00", "2026-12-01T11:00:00+00:00"]) is None
    created = ["2026-12-01T10:00:00+00:00", "2026-12-02T09:00:00+00:00", "2026-12-02T09:30:00+00:00"]
    assert publication_start(created) == "2026-12-02T09:00:00+00:00"
    # a store whose second burst (a new configuration of one cell) moved a figure
    old = filled_store(tmp_path)
    store = ResultsStore(tmp_path / "history.sqlite")
    runs = old.runs_with_figures().values()
    store.copy_runs(({**run, "created_at": "2026-01-01T00:00:00+00:00"}, figures) for run, figures in runs)
    figures = [
        Figure("identification_accuracy", 0.9, 0.89, 0.91),
        Figure("verification_auroc", 0.2, 0.19, 0.21),
    ]
    record(store, "spectral", "zero_shot", "unseen_all", figures, config={"m": "spectral", "k": 2})
    out = tmp_path / "site"
    write_site(build_tables(store), store, out, [], board_judgings())
    index = (out / "index.html").read_text()
    assert "2 figures moved beyond their intervals, 0 new, 0 no longer shown" in index
    assert "class='change-up'>better<" in index and "class='change-down'>worse<" in index


# ---- the accessibility check (serious rules, over the DOM) ----

CSS = Path(__file__).resolve().parents[1] / "leaderboards" / "site.css"


def luminance(colour: str) -> float:
    """WCAG relative luminance of ``#rrggbb``."""
    channels = [int(colour[i : i + 2], 16) / 255 for i in (1, 3, 5)]
    linear = [c / 12.92 if c <= 0.03928 else ((c + 0.055) / 1.055) ** 2.4 for c in channels]
    return 0.2126 * linear[0] + 0.7152 * linear[1] + 0.0722 * linear[2]


def contrast(a: str, b: str) -> float:
    high, low = sorted((luminance(a), luminance(b)), reverse=True)
    return (high + 0.05) / (low + 0.05)


def test_the_palette_has_aa_contrast_on_every_background() -> None:
    css = CSS.read_text()
    palette = dict(re.findall(r"--([a-z]+):\s*(#[0-9a-f]{6})", css))
    texts = [palette[n] for n in ("text", "muted", "link", "accent")] + re.findall(
        r"\.change-(?:up|down) \{ color: (#[0-9a-f]{6})", css
    )
    backgrounds = ["#ffffff", palette["head"], palette["stripe"], palette["best"]]
    worst = min(contrast(t, b) for t in texts for b in backgrounds)
    assert len(texts) == 6 and worst >= 4.5, f"lowest contrast {worst:.2f}"


def test_the_pages_pass_the_serious_accessibility_rules(tmp_path: Path) -> None:
    out, _, _ = site(tmp_path)
    for page in pages(out):
        parsed = dom(page)
        html = parsed.all("html")[0]
        assert html.get("lang") == "en", page
        tags = {tag for tag, _ in parsed.elements}
        assert {"header", "nav", "main", "footer", "h1"} <= tags, page
        assert all(img.get("alt") for img in parsed.all("img")), f"{page}: an image without alt"
        ids = [a["id"] for _, a in parsed.elements if "id" in a]
        assert len(ids) == len(set(ids)), f"{page}: duplicate ids"
        text = page.read_text()
        for table in re.findall(r"<table.*?</table>", text, re.S):
            assert "<th scope='col'" in table, f"{page}: a table without column headers"
        labelled = {a.get("for") for a in parsed.all("label")}
        for control in parsed.all("input") + parsed.all("select"):
            inside_label = re.search(
                r"<label>[^<]*<input[^>]*"
                + re.escape(control.get("data-filter", control.get("data-hide-controls", "@"))),
                text,
            )
            assert control.get("id") in labelled or inside_label, f"{page}: an unlabelled control {control}"


def cells_table(
    protocol: str, split: str, columns: dict[str, dict[str, float]], value_metric: str | None = None
) -> Table:
    """A table from method -> column -> value, each with an interval of ± 0.01."""
    from leaderboards.tables import Row

    rows = [
        Row(m, {c: TableCell(v, v - 0.01, v + 0.01) for c, v in by_column.items()}, [0], {"weights": "w"})
        for m, by_column in columns.items()
    ]
    metrics = list(next(iter(columns.values())))
    return Table(protocol, split, "zoo", metrics, rows, value_metric)


def test_the_headline_follows_whatever_the_declarations_say() -> None:
    from leaderboards.judging import HeadlineColumn, Judging
    from leaderboards.site_headline import site_headline

    judgings = {
        "b_protocol": Judging(headline=(HeadlineColumn(0, "s", "auroc", "B first"),)),
        "a_protocol": Judging(headline=(HeadlineColumn(1, "s", "accuracy", "A second"),)),
        "judged_only": Judging(robustness_metrics=("auroc",), robustness_splits=("t",)),
    }
    tables = [
        cells_table("a_protocol", "s", {"x": {"accuracy": 0.9}, "y": {"accuracy": 0.1}}),
        cells_table("b_protocol", "s", {"x": {"auroc": 0.2}, "y": {"auroc": 0.8}}),
        cells_table("judged_only", "t", {"x": {"auroc": 0.5}, "y": {"auroc": 0.6}}),
        cells_table(
            "b_protocol",
            "s",
            {
                "x": {"clean": 0.2, "jpeg:75": 0.1, "blur:1": 0.3},
                "y": {"clean": 0.8, "jpeg:75": 0.5, "blur:1": 0.6},
            },
            value_metric="auroc",
        ),
    ]
    headline, note = site_headline(tables, judgings)
    assert headline.metrics == ["B first", "A second", "judged_only AUROC", "robustness mean"]
    assert [r.method for r in headline.rows] == ["y", "x"]  # ranked by the first declared column
    mean = {r.method: r.cells["robustness mean"].value for r in headline.rows}
    assert mean["x"] == pytest.approx(0.2) and mean["y"] == pytest.approx(0.55)  # clean left out
    assert "B first under delivery, averaged over the 2 perturbations" in note
