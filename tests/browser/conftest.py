"""Fixtures of the browser tests: Chromium, axe-core, a served page, fresh browser contexts.

The tests need Debian's Chromium (``/usr/bin/chromium``, or ``SPORING_CHROMIUM``), the Python
``playwright`` package, and axe-core (``SPORING_AXE_JS``, default the cache
``scripts/browser-deps`` fills). When one is missing they are skipped with the reason, unless
``CI`` or ``SPORING_REQUIRE_SERVICES=1`` is set: then they fail.
"""

from __future__ import annotations

import os
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import TYPE_CHECKING, Any

import pytest

from tests.browser.harness import AXE_DEFAULT, CHROMIUM, DESKTOP, PageServer, start_server
from tests.conftest import services_required

if TYPE_CHECKING:
    from playwright.sync_api import Browser, Page, ViewportSize

def _missing(what: str) -> None:
    msg = f"{what}; install it with 'scripts/browser-deps'"
    if services_required():
        pytest.fail(msg)
    pytest.skip(msg)


@pytest.fixture(scope="session")
def chromium() -> str:
    """Path of the Chromium executable."""
    if not os.access(CHROMIUM, os.X_OK):
        _missing(f"Chromium is not installed at {CHROMIUM}")
    try:
        import playwright.sync_api  # noqa: F401
    except ImportError:
        _missing("the Python package 'playwright' is not installed (pip install -e '.[dev]')")
    return CHROMIUM


@pytest.fixture(scope="session")
def axe_js() -> Path:
    """Path of ``axe.min.js``."""
    path = Path(os.environ.get("SPORING_AXE_JS", AXE_DEFAULT))
    if not path.is_file():
        _missing(f"axe-core is not at {path}")
    return path


@pytest.fixture(scope="module")
def page_server(tmp_path_factory: pytest.TempPathFactory) -> Iterator[PageServer]:
    """The real app on an SQLite store with the harness's fleet, on a free port."""
    with start_server(tmp_path_factory.mktemp("page") / "sporing.db") as server:
        yield server


@pytest.fixture(scope="module")
def browser(chromium: str) -> Iterator[Browser]:
    """One headless Chromium for the module."""
    from playwright.sync_api import sync_playwright

    with sync_playwright() as p:
        b = p.chromium.launch(executable_path=chromium, headless=True, args=["--no-sandbox"])
        try:
            yield b
        finally:
            b.close()


NewPage = Callable[..., "Page"]


@pytest.fixture
def new_page(browser: Browser, page_server: PageServer) -> Iterator[NewPage]:
    """Opens a page in a fresh context (own cookies and storage); closed after the test.

    Call as ``new_page(viewport=PHONE, locale="nb-NO")``; the page is at the app's URL.
    """
    contexts: list[Any] = []

    def make(viewport: ViewportSize | None = None, locale: str = "en-US") -> Page:
        ctx = browser.new_context(viewport=viewport or DESKTOP, locale=locale,
                                  base_url=page_server.url)
        ctx.set_default_timeout(15_000)
        contexts.append(ctx)
        page = ctx.new_page()
        errors: list[str] = []
        page.on("pageerror", lambda exc: errors.append(str(exc)))
        page.js_errors = errors  # type: ignore[attr-defined]
        page.goto(page_server.url)
        return page

    yield make
    for ctx in contexts:
        ctx.close()

