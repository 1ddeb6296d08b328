"""Screenshots of the biomed pages for the docs: docs/img/biomed-dashboard.png (desktop) and
docs/img/biomed-phone.png (360 px).

Serves the real app on the browser tests' fleet with a week of pump history
(tests/browser/harness.py, tests/browser/biomed_data.py), logs in as biomed in Debian's
Chromium, opens the dashboard with the heat map on level 3 and photographs it. Needs what
``scripts/browser-deps`` installs.

Usage: .venv/bin/python scripts/screenshots_biomed.py [--out docs/img] [--lang en|nb]
"""

from __future__ import annotations

import argparse
import re
import sys
import tempfile
from pathlib import Path

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


def main(argv: list[str] | None = None) -> int:
    """Take both screenshots; returns the exit status."""
    from playwright.sync_api import expect, sync_playwright

    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--out", type=Path, default=ROOT / "docs" / "img")
    parser.add_argument("--lang", choices=("en", "nb"), default="en")
    args = parser.parse_args(argv)
    args.out.mkdir(parents=True, exist_ok=True)
    locale = {"en": "en-GB", "nb": "nb-NO"}[args.lang]
    with tempfile.TemporaryDirectory(prefix="sporing-shots-") as tmp, \
            start_server(Path(tmp) / "sporing.db") as server, sync_playwright() as p:
        assert server.state.store is not None
        add_history(server.state.store, server.site)
        browser = p.chromium.launch(executable_path=CHROMIUM, headless=True,
                                    args=["--no-sandbox"])
        for name, viewport, scale in (("phone", PHONE, 2), ("dashboard", DESKTOP, 1)):
            ctx = browser.new_context(viewport=viewport, locale=locale,
                                      device_scale_factor=scale)
            page = ctx.new_page()
            page.goto(server.url)
            page.locator("#username").fill(USERS["biomed"])
            page.locator("#password").fill(PASSWORD)
            page.locator("#login-form button[type=submit]").click()
            page.locator("#biomed-link").click()
            expect(page.locator("#filter-status")).to_have_text(re.compile(r"\d{4}-\d\d-\d\d"))
            page.locator("#heat-level").select_option("A3")
            expect(page.locator("#heat-overlay polygon").first).to_be_attached()
            target = args.out / f"biomed-{name}.png"
            page.screenshot(path=str(target), full_page=True)
            print(target)
            ctx.close()
        browser.close()
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
