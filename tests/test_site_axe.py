"""axe-core over every page of the static site, in headless Chromium at 1400 and 390 px, with
every expander open: no violation of serious or critical impact.

axe-core is an npm package; nothing of it is vendored into the repository. The test installs it
with ``npm install`` into the user's cache (``$XDG_CACHE_HOME/modelprint/axe-core``, once; a
later run reuses it) or reads it from ``$MODELPRINT_AXE`` (a path to ``axe.min.js``), and is
skipped with the reason where neither npm nor Chromium is there. ``tests/test_site.py`` holds
the same serious rules checked in Python without a browser, which always runs.
"""

from __future__ import annotations

import os
import shutil
import subprocess
from pathlib import Path

import pytest

from tests.test_site_browser import CHROMIUM, browser, open_page, site  # noqa: F401 (fixtures)

#: the axe-core major version the check was written against
AXE = "axe-core@4"
SERIOUS = ("serious", "critical")

pytestmark = [
    pytest.mark.slow,
    pytest.mark.skipif(CHROMIUM is None, reason="Chromium is not installed (apt-get install chromium)"),
]


def axe_script() -> str:
    """axe.min.js: from ``$MODELPRINT_AXE``, the cache, or installed into the cache now."""
    if os.environ.get("MODELPRINT_AXE"):
        return Path(os.environ["MODELPRINT_AXE"]).read_text()
    cache = Path(os.environ.get("XDG_CACHE_HOME", Path.home() / ".cache")) / "modelprint" / "axe-core"
    script = cache / "node_modules" / "axe-core" / "axe.min.js"
    if not script.exists():
        npm = shutil.which("npm")
        if npm is None:
            pytest.skip("npm is not installed: axe-core cannot be fetched (apt-get install npm)")
        done = subprocess.run(
            [npm, "install", "--prefix", str(cache), "--no-audit", "--no-fund", "--silent", AXE],
            capture_output=True,
            text=True,
            timeout=300,
        )
        if done.returncode != 0 or not script.exists():
            pytest.skip(f"npm could not install {AXE}: {done.stderr.strip()[-300:]}")
    return script.read_text()


@pytest.mark.parametrize("width", (1400, 390))
def test_no_page_has_a_serious_accessibility_violation(site: Path, browser, width: int) -> None:  # noqa: F811
    axe = axe_script()
    found = []
    for path in sorted(site.rglob("*.html")):
        page = open_page(browser, path, width)
        page.evaluate("document.querySelectorAll('details').forEach(d => d.open = true)")
        page.add_script_tag(content=axe)
        violations = page.evaluate(
            "async () => (await axe.run(document, {resultTypes: ['violations']})).violations"
            ".map(v => [v.id, v.impact, v.nodes.length, v.help])"
        )
        found += [(path.name, *v) for v in violations if v[1] in SERIOUS]
        page.close()
    assert not found, f"serious accessibility violations at {width} px: {found}"
