"""The biomed pages in a real Chromium against the real app: reached from the porter page by a
biomed user only, charts with their text alternatives, the heat map on the floor plan, the
worklists, acknowledging and resolving an alert, CSV downloads, both languages, axe-core at
360 px and on a desktop."""

from __future__ import annotations

import csv
import io
import re
from collections.abc import Iterator
from pathlib import Path
from typing import TYPE_CHECKING, Any

import pytest

from tests.browser.biomed_data import add_history
from tests.browser.harness import DESKTOP, PASSWORD, PHONE, USERS, PageServer, axe_serious

if TYPE_CHECKING:
    from playwright.sync_api import Page, ViewportSize

    from tests.browser.conftest import NewPage

pytestmark = [pytest.mark.browser, pytest.mark.integration]


def expect(target: Any) -> Any:
    from playwright.sync_api import expect as _expect

    return _expect(target)


@pytest.fixture(scope="module", autouse=True)
def history(page_server: PageServer) -> Iterator[None]:
    assert page_server.state.store is not None
    add_history(page_server.state.store, page_server.site)
    yield


def log_in(page: Page, role: str) -> None:
    page.locator("#username").fill(USERS[role])
    page.locator("#password").fill(PASSWORD)
    page.locator("#login-form button[type=submit]").click()
    expect(page.locator("#q")).to_be_visible()


def open_dashboard(page: Page, role: str = "biomed") -> None:
    log_in(page, role)
    page.locator("#biomed-link").click()
    expect(page).to_have_url(re.compile(r"/biomed$"))
    expect(page.locator("#filter-status")).to_have_text(re.compile(r"^Showing "))


def test_dashboard_charts_have_text_alternatives(new_page: NewPage) -> None:
    page = new_page()
    open_dashboard(page)
    expect(page.locator("#f-type")).to_have_value("infusion-pump")
    # Time in state: stacked bars with a summary sentence and a data table.
    expect(page.locator("#util-chart svg[role=img] rect").first).to_be_visible()
    assert page.locator("#util-chart svg").get_attribute("aria-labelledby") == "util-summary"
    expect(page.locator("#util-summary")).to_contain_text(
        re.compile(r"^Infusion pump: in use [\d.]+ % of the time"))
    page.locator("#util summary").click()
    expect(page.locator("#util-table tbody tr")).to_have_count(2)  # all + the department
    expect(page.locator("#util-table tbody tr").first.locator("th")).to_have_text(
        "All departments")
    # Concurrent use by hour of day: IP-4713 all day and IP-4711 08-14 make 2 at once.
    expect(page.locator("#hours-summary")).to_contain_text("5 owned; at most 2 in use at once")
    page.locator("#hours summary").click()
    expect(page.locator("#hours-table tbody tr")).to_have_count(24)
    expect(page.locator("#hours-table tbody tr").nth(10).locator("td").first).to_have_text("2")
    # Heat map on level 3: the patient room and the storage room are coloured.
    page.locator("#heat-level").select_option("A3")
    expect(page.locator("#heat-overlay polygon[data-room='A3.105']")).to_be_attached()
    expect(page.locator("#heat-overlay polygon[data-room='A3.113']")).to_be_attached()
    expect(page.locator("#heat-summary")).to_contain_text("most in Sengerom 3.105")
    # Fleet recommendation, maintenance route, missing list.
    expect(page.locator("#fleet-list li").first).to_contain_text("infusion pumps owned")
    expect(page.locator("#maint-table tbody tr")).to_have_count(1)
    expect(page.locator("#maint-table tbody tr th")).to_have_text("1")
    expect(page.locator("#maint-table tbody tr")).to_contain_text("IP-4712")
    expect(page.locator("#missing-table tbody")).to_contain_text("IP-4715")
    assert page.js_errors == []  # type: ignore[attr-defined]


def test_a_porter_gets_no_link_and_no_reports(new_page: NewPage) -> None:
    page = new_page()
    log_in(page, "porter")
    expect(page.locator("#biomed-link")).to_be_hidden()
    page.goto("biomed")
    expect(page.locator("#gate")).to_be_visible()
    expect(page.locator("#gate-text")).to_contain_text("porter1 is logged in as porter")
    expect(page.locator("#app")).to_be_hidden()


def test_acknowledge_and_resolve_an_alert(new_page: NewPage) -> None:
    page = new_page()
    open_dashboard(page)
    item = page.locator("#alerts-list li", has_text="Rent lager 1.112")
    expect(item).to_contain_text("Warning")
    item.get_by_role("button", name="Acknowledge").click()
    expect(page.locator("#alerts-status")).to_have_text(re.compile(r"^Alert \d+ acknowledged\.$"))
    item = page.locator("#alerts-list li", has_text="Rent lager 1.112")
    expect(item).to_contain_text("acknowledged by biomed1")
    expect(item.get_by_role("button", name="Acknowledge")).to_have_count(0)
    item.get_by_role("button", name="Resolve").click()
    expect(page.locator("#alerts-status")).to_have_text(re.compile(r"^Alert \d+ resolved\.$"))
    expect(page.locator("#alerts-list li", has_text="Rent lager 1.112")).to_have_count(0)


def test_csv_downloads(new_page: NewPage) -> None:
    page = new_page()
    open_dashboard(page)
    with page.expect_download() as info:
        page.locator("#util-csv").click()
    download = info.value
    assert re.fullmatch(r"sporing-utilization-\d{8}-\d{8}\.csv", download.suggested_filename)
    rows = list(csv.DictReader(io.StringIO(Path(download.path()).read_text("utf-8"))))
    assert {r["type"] for r in rows} == {"infusion-pump"}
    assert float(rows[0]["pct_in_use"]) > 0
    for link in ("fleet-csv", "heat-csv", "forecast-csv", "maint-csv", "missing-csv",
                 "idle-csv"):
        href = page.locator(f"#{link}").get_attribute("href") or ""
        r = page.request.get(href)
        assert r.status == 200 and r.headers["content-type"].startswith("text/csv"), link


def test_the_page_speaks_bokmal(new_page: NewPage) -> None:
    page = new_page(locale="nb-NO")
    page.locator("#username").fill(USERS["biomed"])
    page.locator("#password").fill(PASSWORD)
    page.locator("#login-form button[type=submit]").click()
    page.locator("#biomed-link").click()
    expect(page.locator("#util-heading")).to_have_text("Tid i hver tilstand")
    expect(page.locator("#util-summary")).to_contain_text("Infusjonspumpe: i bruk")
    expect(page.locator("#fleet-list li").first).to_contain_text("infusjonspumper eid")


@pytest.mark.parametrize("viewport", [PHONE, DESKTOP], ids=["phone", "desktop"])
def test_axe_finds_no_serious_violations(new_page: NewPage, axe_js: Path,
                                         viewport: ViewportSize) -> None:
    page = new_page(viewport=viewport)
    open_dashboard(page)
    page.locator("#heat-level").select_option("A3")
    expect(page.locator("#heat-overlay polygon").first).to_be_attached()
    for section in ("#util", "#hours", "#heat"):
        page.locator(f"{section} summary").click()
    assert axe_serious(page, axe_js) == []
    no_sideways = page.evaluate("document.documentElement.scrollWidth <= window.innerWidth")
    assert no_sideways
