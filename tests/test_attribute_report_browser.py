"""``modelprint attribute --format=html`` in a real headless Chromium, as the board's site is
tested: at 1400 and 390 px the page fits the window (the answers' table scrolls in its own box),
every thumbnail decodes, the decision selector and the filter hide rows, a column sorts."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest

from tests.test_attribute import html_report_of, references  # noqa: F401 - the gallery's fixture
from tests.test_site_browser import CHROMIUM, WIDTHS, browser, open_page  # noqa: F401 - fixtures

pytestmark = pytest.mark.skipif(
    CHROMIUM is None, reason="Chromium is not installed (apt-get install chromium)"
)


@pytest.fixture(scope="module")
def report(references: Path, tmp_path_factory: pytest.TempPathFactory) -> tuple[Path, dict[str, str]]:  # noqa: F811
    return html_report_of(references, tmp_path_factory.mktemp("report"))


@pytest.mark.parametrize("width", WIDTHS)
def test_the_report_fits_its_images_decode_and_rows_filter(
    report: tuple[Path, dict[str, str]],
    browser: Any,  # noqa: F811
    width: int,
) -> None:
    path, truth = report
    page = open_page(browser, path, width)
    assert page.evaluate("document.documentElement.scrollWidth") <= width
    images = page.evaluate("[...document.images].map(i => i.complete && i.naturalWidth > 0)")
    assert len(images) == 4 and all(images)  # the four queries
    backgrounds = page.evaluate(
        "[...document.querySelectorAll('span.thumb')].map(s => getComputedStyle(s).backgroundImage)"
    )
    assert len(backgrounds) == 12 and all(r.startswith('url("data:image/png') for r in backgrounds)
    shown = "[...document.querySelectorAll('#answers tbody tr')].filter(r => !r.hidden).length"
    assert page.evaluate(shown) == 4
    decision = sorted(truth.values())[0]
    page.select_option("select[data-filter-by='decision']", decision)
    assert page.evaluate(shown) == sum(d == decision for d in truth.values())
    page.select_option("select[data-filter-by='decision']", "*")
    page.fill("input[data-filter='answers']", "q070")
    assert page.evaluate(shown) == 1
    page.fill("input[data-filter='answers']", "")
    page.click("#answers thead th:nth-child(3) button.sort")  # margin, ascending
    margins = page.evaluate(
        "[...document.querySelectorAll('#answers tbody tr td:nth-child(3)')].map(c => +c.dataset.value)"
    )
    assert margins == sorted(margins)
    page.close()
