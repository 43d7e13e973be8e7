"""The static site: an index with sortable tables linking a page per method, provenance escaped,
and - in a real headless Chromium - a column that sorts on a click."""

from __future__ import annotations

from pathlib import Path

import pytest

from core.paths import file_slug
from leaderboards.site import write_site
from leaderboards.store import Figure, ResultsStore
from leaderboards.tables import build_tables
from tests.test_board import record

CHROMIUM = next((p for p in ("/usr/bin/chromium", "/usr/bin/chromium-browser") if Path(p).exists()), None)


def filled_store(tmp_path: Path) -> ResultsStore:
    store = ResultsStore(tmp_path / "r.sqlite")
    for i, method in enumerate(("spectral", "<script>alert(1)</script>", "pose", "clip[all]")):
        record(
            store,
            method,
            0,
            [Figure("accuracy", 0.2 * i + 0.1, 0.1 * i, 0.3 * i + 0.2), Figure("macro_f1", 0.5)],
        )
    return store


def site(tmp_path: Path) -> tuple[Path, ResultsStore]:
    store = filled_store(tmp_path)
    image = tmp_path / "plot.png"
    image.write_bytes(b"\x89PNG\r\n\x1a\n")
    write_site(build_tables(store), store, tmp_path / "site", [image])
    return tmp_path / "site", store


def test_the_site_has_an_index_and_a_page_per_method(tmp_path: Path) -> None:
    out, store = site(tmp_path)
    index = (out / "index.html").read_text()
    methods = {row["method"] for row in store.runs()}
    for method in methods:
        page = out / "methods" / f"{file_slug(method)}.html"
        assert f"methods/{file_slug(method)}.html" in index and page.exists()
        text = page.read_text()
        assert "git" in text and "data hash" in text and "config hash" in text and "configuration (" in text
    assert "plots/plot.png" in index and (out / "plots" / "plot.png").exists()
    assert "<script>alert" not in index + "".join(p.read_text() for p in (out / "methods").iterdir())


@pytest.mark.skipif(CHROMIUM is None, reason="Chromium is not installed (apt-get install chromium)")
def test_a_real_browser_sorts_a_column_and_takes_a_screenshot(tmp_path: Path) -> None:
    sync_api = pytest.importorskip("playwright.sync_api", reason="playwright is a dev dependency")
    out, _ = site(tmp_path)
    with sync_api.sync_playwright() as p:
        browser = p.chromium.launch(executable_path=CHROMIUM, args=["--no-sandbox"])
        page = browser.new_page()
        page.goto((out / "index.html").as_uri())
        table = page.locator("table.board").first
        column = 1  # the first metric

        def values() -> list[float]:
            cells = table.locator(f"tbody tr td:nth-child({column + 1})")
            return [float(v) for v in cells.evaluate_all("cs => cs.map(c => c.dataset.value)")]

        table.locator("th").nth(column).click()
        ascending = values()
        table.locator("th").nth(column).click()
        descending = values()
        assert ascending == sorted(ascending) and descending == sorted(descending, reverse=True)
        assert len(ascending) > 1
        shot = tmp_path / "board.png"
        page.screenshot(path=str(shot), full_page=True)
        page.locator("table.board a").first.click()
        assert "configuration (" in page.content()
        browser.close()
    assert shot.stat().st_size > 1000
