"""Screenshots of the porter page for the docs: docs/img/lookup-phone.png and
docs/img/lookup-desktop.png.

Serves the real app on the browser tests' fleet (tests/browser/harness.py), logs in as a porter
in Debian's Chromium, asks for the nearest available infusion pump from Sengerom 3.101 and
photographs the result at 360 px and at desktop width. Needs what ``scripts/browser-deps``
installs.

Usage: .venv/bin/python scripts/screenshots.py [--out docs/img] [--lang en|nb]
"""

from __future__ import annotations

import argparse
import sys
import tempfile
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

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
        browser = p.chromium.launch(executable_path=CHROMIUM, headless=True,
                                    args=["--no-sandbox"])
        for name, viewport, scale in (("phone", PHONE, 2), ("desktop", DESKTOP, 1)):
            ctx = browser.new_context(viewport=viewport, locale=locale,
                                      device_scale_factor=scale)
            page = ctx.new_page()
            page.goto(server.url)
            page.locator("#username").fill(USERS["porter"])
            page.locator("#password").fill(PASSWORD)
            page.locator("#login-form button[type=submit]").click()
            page.locator("#type").select_option("infusion-pump")
            page.locator("#room").fill("Sengerom 3.101")
            page.locator("#nearest-form button[type=submit]").click()
            expect(page.locator("#asset-dot")).to_be_attached()
            page.locator("#q").fill("4711")
            expect(page.locator("#search-results li")).to_have_count(1)
            page.locator("#q").blur()
            target = args.out / f"lookup-{name}.png"
            page.screenshot(path=str(target), full_page=name == "phone")
            print(target)
            ctx.close()
        browser.close()
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
