"""Screenshots of the web pages for the docs, at 360 px (phone) and at desktop width:
docs/img/lookup-phone.png, lookup-desktop.png (the porter page) and biomed-phone.png,
biomed-dashboard.png (the biomed pages).

Serves the real app on the browser tests' fleet (tests/browser/harness.py; the biomed pages
with a week of pump history from tests/browser/biomed_data.py) and photographs it in Debian's
Chromium. The porter page shows the nearest available infusion pump from Sengerom 3.101; the
biomed page the dashboard with the heat map of level 3. Needs what ``scripts/browser-deps``
installs.

Usage: .venv/bin/python scripts/screenshots.py [--pages porter biomed] [--out docs/img]
                                               [--lang en|nb]
"""

from __future__ import annotations

import argparse
import re
import sys
import tempfile
from pathlib import Path
from typing import TYPE_CHECKING

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from tests.browser.biomed_data import add_history  # noqa: E402
from tests.browser.harness import (  # noqa: E402
    CHROMIUM,
    DESKTOP,
    PASSWORD,
    PHONE,
    USERS,
    start_server,
)

if TYPE_CHECKING:
    from playwright.sync_api import Page

#: Page -> (user role, file name prefix, desktop file suffix).
PAGES = {"porter": ("porter", "lookup", "desktop"), "biomed": ("biomed", "biomed", "dashboard")}


def _porter(page: Page) -> bool:
    """Nearest available pump with its route, and one search result; phone shot is full page."""
    from playwright.sync_api import expect

    page.locator("#type").select_option("infusion-pump")
    page.locator("#room").fill("Sengerom 3.101")
    page.locator("#nearest-form button[type=submit]").click()
    expect(page.locator("#asset-dot")).to_be_attached()
    page.locator("#q").fill("4711")
    expect(page.locator("#search-results li")).to_have_count(1)
    page.locator("#q").blur()
    return False


def _biomed(page: Page) -> bool:
    """The dashboard with the level 3 heat map; both shots are full page."""
    from playwright.sync_api import expect

    page.locator("#biomed-link").click()
    expect(page.locator("#filter-status")).to_have_text(re.compile(r"\d{4}-\d\d-\d\d"))
    page.locator("#heat-level").select_option("A3")
    expect(page.locator("#heat-overlay polygon").first).to_be_attached()
    return True


def main(argv: list[str] | None = None) -> int:
    """Take the screenshots; returns the exit status."""
    from playwright.sync_api import sync_playwright

    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--pages", nargs="+", choices=sorted(PAGES), default=sorted(PAGES))
    parser.add_argument("--out", type=Path, default=ROOT / "docs" / "img")
    parser.add_argument("--lang", choices=("en", "nb"), default="en")
    args = parser.parse_args(argv)
    args.out.mkdir(parents=True, exist_ok=True)
    locale = {"en": "en-GB", "nb": "nb-NO"}[args.lang]
    with tempfile.TemporaryDirectory(prefix="sporing-shots-") as tmp, \
            start_server(Path(tmp) / "sporing.db") as server, sync_playwright() as p:
        assert server.state.store is not None
        if "biomed" in args.pages:
            add_history(server.state.store, server.site)
        browser = p.chromium.launch(executable_path=CHROMIUM, headless=True,
                                    args=["--no-sandbox"])
        for name in args.pages:
            role, prefix, desktop = PAGES[name]
            for shot, viewport, scale in (("phone", PHONE, 2), (desktop, DESKTOP, 1)):
                ctx = browser.new_context(viewport=viewport, locale=locale,
                                          device_scale_factor=scale)
                page = ctx.new_page()
                page.goto(server.url)
                page.locator("#username").fill(USERS[role])
                page.locator("#password").fill(PASSWORD)
                page.locator("#login-form button[type=submit]").click()
                full = (_biomed if name == "biomed" else _porter)(page)
                target = args.out / f"{prefix}-{shot}.png"
                page.screenshot(path=str(target), full_page=full or shot == "phone")
                print(target)
                ctx.close()
        browser.close()
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
