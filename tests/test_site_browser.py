"""The static site in a real headless Chromium, as a person would look at it: at 1400 px and at
390 px (a phone) every page fits the window (no page-wide sideways scroll: a wide table scrolls
inside its own box, its method column staying in view), the headline table shows its method
names and first figure, every image loads, a column sorts on a click, the filter and the
hide-controls toggle hide rows, and the data-set selector shows one data set's sections.

Skipped with the reason where Chromium (``apt-get install chromium``; ``.ci/run`` installs it)
or playwright is missing. The pages' accessibility and the resolving of every link are checked
without a browser in ``tests/test_site.py``.
"""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from benchmarks.commands.board import board_judgings
from leaderboards.site import write_site
from leaderboards.tables import build_tables, main_effects_tables
from tests.test_site import filled_store

CHROMIUM = next((p for p in ("/usr/bin/chromium", "/usr/bin/chromium-browser") if Path(p).exists()), None)
WIDTHS = (1400, 390)

pytestmark = pytest.mark.skipif(
    CHROMIUM is None, reason="Chromium is not installed (apt-get install chromium)"
)


def real_png(path: Path) -> Path:
    """A small real plot, so the browser has an image to decode."""
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    fig, ax = plt.subplots(figsize=(4, 3))
    ax.plot([0, 1], [0, 1])
    fig.savefig(path, dpi=60)
    plt.close(fig)
    return path


@pytest.fixture(scope="module")
def site(tmp_path_factory: pytest.TempPathFactory) -> Path:
    tmp = tmp_path_factory.mktemp("site")
    store = filled_store(tmp)
    images = [real_png(tmp / "open_set_unseen_all_zoo.png"), real_png(tmp / "confusion_spectral_zoo.png")]
    write_site(
        build_tables(store) + main_effects_tables(store), store, tmp / "site", images, board_judgings()
    )
    return tmp / "site"


@pytest.fixture(scope="module")
def browser() -> Iterator[Any]:
    sync_api = pytest.importorskip("playwright.sync_api", reason="playwright is a dev dependency")
    with sync_api.sync_playwright() as p:
        launched = p.chromium.launch(executable_path=CHROMIUM, args=["--no-sandbox"])
        yield launched
        launched.close()


def open_page(browser: Any, path: Path, width: int) -> Any:
    page = browser.new_page(viewport={"width": width, "height": 900})
    page.goto(path.as_uri())
    page.wait_for_load_state("load")
    return page


@pytest.mark.slow  # every page twice, every gallery open: ~15 s
@pytest.mark.parametrize("width", WIDTHS)
def test_every_page_fits_the_window_and_its_images_load(site: Path, browser: Any, width: int) -> None:
    for path in sorted(site.rglob("*.html")):
        page = open_page(browser, path, width)
        page.evaluate("document.querySelectorAll('details').forEach(d => d.open = true)")  # galleries too
        page.evaluate("document.querySelectorAll('img').forEach(i => i.loading = 'eager')")
        page.wait_for_function("Array.from(document.images).every(i => i.complete)")
        overflow = page.evaluate(
            "document.documentElement.scrollWidth - document.documentElement.clientWidth"
        )
        assert overflow <= 0, f"{path.name} at {width} px scrolls sideways by {overflow} px"
        broken = page.evaluate("Array.from(document.images).filter(i => !i.naturalWidth).map(i => i.src)")
        assert not broken, f"{path.name}: images that do not load: {broken}"
        page.close()


@pytest.mark.parametrize("width", WIDTHS)
def test_the_headline_is_readable_at_each_width(site: Path, browser: Any, width: int, tmp_path: Path) -> None:
    page = open_page(browser, site / "index.html", width)
    table = page.locator("#headline-table")
    box = table.locator("tbody th").first.bounding_box()
    first_figure = table.locator("tbody td.num").first.bounding_box()
    assert box and first_figure and box["x"] >= 0 and first_figure["x"] + first_figure["width"] <= width
    name_size = float(
        table.locator("tbody th a").first.evaluate("a => parseFloat(getComputedStyle(a).fontSize)")
    )
    assert name_size >= 13  # no shrinking to fit
    # the method column stays in view when the table is scrolled sideways
    page.locator("#headline-table").evaluate("t => t.parentElement.scrollLeft = 10000")
    after = table.locator("tbody th").first.bounding_box()
    assert after and abs(after["x"] - box["x"]) < 1
    shot = tmp_path / f"index_{width}.png"
    page.screenshot(path=str(shot), full_page=True)
    assert shot.stat().st_size > 5000
    page.close()


def test_sorting_filtering_and_the_data_set_selector(site: Path, browser: Any) -> None:
    page = open_page(browser, site / "index.html", 1400)
    table = page.locator("#headline-table")

    def column(index: int) -> list[str]:
        cells = table.locator(f"tbody tr:not([hidden]) > :nth-child({index + 1})")
        return cells.evaluate_all("cs => cs.map(c => c.dataset.value ?? c.textContent)")

    heading = table.locator("thead th").nth(2)  # the first figure
    heading.locator("button").click()
    ascending = [float(v) for v in column(2)]
    heading.locator("button").click()
    descending = [float(v) for v in column(2)]
    assert ascending == sorted(ascending) and descending == sorted(descending, reverse=True)
    assert heading.get_attribute("aria-sort") == "descending" and len(ascending) == 5

    page.get_by_label("Filter rows").first.fill("spectral")
    assert column(0) == ["spectral"]
    page.get_by_label("Filter rows").first.fill("")
    page.get_by_label("hide controls").check()
    assert "fingerprint_random" not in column(0) and len(column(0)) == 4

    zoo = page.locator("#q-zero_shot [data-dataset='zoo']")
    mine = page.locator("#q-zero_shot [data-dataset='imagefolder:mine']")
    assert zoo.is_visible() and not mine.is_visible()  # the headline's data set first
    page.get_by_label("Data set").select_option("imagefolder:mine")
    assert mine.is_visible() and not zoo.is_visible()
    page.get_by_label("Data set").select_option("*")
    assert mine.is_visible() and zoo.is_visible()

    page.locator("#headline-table a", has_text="spectral").click()
    assert "Figures across protocols" in page.content()
    page.close()
