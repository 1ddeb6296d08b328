"""The porter page in a real Chromium against the real app: log in, search, nearest available
with the route on the map, live movement, language switch, keyboard only, phone and desktop
viewports, 200 % text, axe-core (WCAG 2.1 A/AA) and tag pairing for biomedical engineering."""

from __future__ import annotations

import re
import time
from pathlib import Path
from typing import TYPE_CHECKING, Any

import pytest

from tests.browser.harness import (
    DESKTOP,
    FROM_ROOM,
    GIAI_4715,
    PASSWORD,
    PHONE,
    USERS,
    PageServer,
    axe_serious,
    fix_in,
)
from tracker.records import WriteBatch

if TYPE_CHECKING:
    from playwright.sync_api import Page, ViewportSize

    from tests.browser.conftest import NewPage

pytestmark = [pytest.mark.browser, pytest.mark.integration]

SEEN = r"seen \d+ (s|min) ago"
IP4711_EN = ("Infusion pump IP-4711 — available — Lager medisinsk utstyr 3.113, Plan 3, "
             "building A")
IP4711_NB = "Infusjonspumpe IP-4711 — ledig — Lager medisinsk utstyr 3.113, Plan 3, bygg A"


def expect(target: Any) -> Any:
    from playwright.sync_api import expect as _expect

    return _expect(target)


def log_in(page: Page, role: str = "porter") -> None:
    page.locator("#username").fill(USERS[role])
    page.locator("#password").fill(PASSWORD)
    page.locator("#login-form button[type=submit]").click()
    expect(page.locator("#q")).to_be_visible()


def search(page: Page, q: str) -> Any:
    page.locator("#q").fill(q)
    first = page.locator("#search-results li").first
    expect(page.locator("#search-status")).not_to_be_empty()
    return first


def find_nearest(page: Page, type_: str = "infusion-pump", room: str = "Sengerom 3.101") -> None:
    page.locator("#type").select_option(type_)
    page.locator("#room").fill(room)
    page.locator("#nearest-form button[type=submit]").click()


def focused(page: Page, selector: str) -> bool:
    return bool(page.evaluate("s => document.activeElement?.matches(s) ?? false", selector))


def tab_to(page: Page, selector: str, *, back: bool = False, limit: int = 60) -> None:
    for _ in range(limit):
        if focused(page, selector):
            return
        page.keyboard.press("Shift+Tab" if back else "Tab")
    raise AssertionError(f"{selector} not reached with the keyboard in {limit} presses")


def focus_ring(page: Page) -> tuple[str, float]:
    style, width = page.evaluate("""() => {
        const s = getComputedStyle(document.activeElement);
        return [s.outlineStyle, parseFloat(s.outlineWidth)];
    }""")
    return str(style), float(width)


def dot_position(page: Page) -> tuple[float, float]:
    dot = page.locator("#asset-dot")
    return float(dot.get_attribute("cx") or "nan"), float(dot.get_attribute("cy") or "nan")


def no_js_errors(page: Page) -> None:
    assert page.js_errors == []  # type: ignore[attr-defined]


# ----------------------------------------------------------------------------- log in
def test_login_form_rejects_a_wrong_password_and_logs_in_and_out(new_page: NewPage) -> None:
    page = new_page(viewport=PHONE)
    expect(page.locator("#login")).to_be_visible()
    expect(page.locator("#app")).to_be_hidden()
    page.locator("#username").fill(USERS["porter"])
    page.locator("#password").fill("not-the-password")
    page.locator("#login-form button[type=submit]").click()
    expect(page.locator("#login-error")).to_have_text("Wrong user name or password.")
    expect(page.locator("#app")).to_be_hidden()
    log_in(page)
    expect(page.locator("#q")).to_be_focused()
    expect(page.locator("#who")).to_have_text("Logged in as porter1 (porter)")
    expect(page.locator("#pair")).to_be_hidden()
    page.locator("#logout").click()
    expect(page.locator("#login")).to_be_visible()
    expect(page.locator("#app")).to_be_hidden()
    assert page.request.get("api/v1/auth/me").status == 401
    no_js_errors(page)


# ----------------------------------------------------------------------------- search
def test_search_results_read_like_sentences(new_page: NewPage) -> None:
    page = new_page(viewport=PHONE)
    log_in(page)
    first = search(page, "4711")
    expect(page.locator("#search-status")).to_have_text("1 found.")
    expect(first.locator(".sentence")).to_have_text(re.compile(
        "^✓ " + re.escape(IP4711_EN) + " — " + SEEN + "$"))
    expect(search(page, "4714").locator(".sentence")).to_have_text(
        "? Infusion pump IP-4714 — not seen for 3 h, last seen in Urent skyllerom 2.113, "
        "Plan 2, building A")
    expect(search(page, "4715").locator(".sentence")).to_have_text(
        "? Infusion pump IP-4715 — never seen")
    expect(search(page, "MON-0001").locator(".sentence")).to_have_text(re.compile(
        r"^✕ Patient monitor MON-0001 — out of service — Rent lager 3\.211, Plan 3, "
        "building A — " + SEEN + "$"))
    page.locator("#q").fill("zzz-nothing")
    expect(page.locator("#search-status")).to_have_text("No equipment matches “zzz-nothing”.")
    expect(page.locator("#search-results li")).to_have_count(0)
    no_js_errors(page)


def test_show_on_map_puts_the_dot_where_the_projection_says(
        new_page: NewPage, page_server: PageServer) -> None:
    page = new_page(viewport=PHONE)
    log_in(page)
    search(page, "4711").get_by_role("button", name="Show on map").click()
    expect(page.locator("#map-heading")).to_be_focused()
    expect(page.locator("#level")).to_have_value("A3")
    expect(page.locator("#asset-dot")).to_be_attached()
    expect(page.locator("#map-sentence")).to_have_text(re.compile(
        "^" + re.escape(IP4711_EN) + " — " + SEEN + "$"))
    level = next(lv for lv in page.request.get("api/v1/levels").json() if lv["id"] == "A3")
    loc = page.request.get("api/v1/assets/IP-4711").json()["location"]
    cx, cy = dot_position(page)
    assert cx == pytest.approx(level["offset_x"] + (loc["x"] - level["min_x"]) * level["scale"],
                               abs=0.5)
    assert cy == pytest.approx(level["offset_y"] + (level["max_y"] - loc["y"]) * level["scale"],
                               abs=0.5)
    expect(page.locator("#plan svg")).to_have_attribute("aria-label", "Floor plan of Plan 3, "
                                                                      "building A")
    no_js_errors(page)


def test_live_events_move_the_dot(new_page: NewPage, page_server: PageServer) -> None:
    page = new_page(viewport=DESKTOP)
    log_in(page)
    search(page, "4711").get_by_role("button", name="Show on map").click()
    expect(page.locator("#map-live")).to_have_text(re.compile(r"^Live: \d+ tags on this level\.$"))
    before = dot_position(page)
    store = page_server.state.store
    assert store is not None
    moved = fix_in(page_server.site, "A3.113", "5e0000000001", "IP-4711", time.time(), dx=1.5)
    store.write(WriteBatch(fixes=[moved]))
    scale = next(lv for lv in page.request.get("api/v1/levels").json()
                 if lv["id"] == "A3")["scale"]
    page.wait_for_function(
        "x => Math.abs(parseFloat(document.querySelector('#asset-dot').getAttribute('cx')) - x)"
        " > 1", arg=before[0], timeout=20_000)
    after = dot_position(page)
    assert after[0] - before[0] == pytest.approx(1.5 * scale, abs=0.5)
    assert after[1] == pytest.approx(before[1], abs=0.5)
    no_js_errors(page)


# ----------------------------------------------------------------------------- nearest
def test_nearest_available_lists_by_walking_distance_and_draws_the_route(
        new_page: NewPage) -> None:
    page = new_page(viewport=DESKTOP)
    log_in(page)
    expect(page.locator("#type option[value='infusion-pump']")).to_have_text(
        "Infusion pump (2 available)")
    find_nearest(page)
    expect(page.locator("#nearest-status")).to_have_text(
        "2 available nearest Sengerom 3.101, closest first.")
    items = page.locator("#nearest-results li .sentence")
    expect(items).to_have_count(2)
    expect(items.nth(0)).to_have_text(re.compile(
        "^✓ " + re.escape(IP4711_EN) + r" — \d+ m, about \d+ min — " + SEEN + "$"))
    expect(items.nth(1)).to_contain_text("Infusion pump IP-4712 — available — Rent lager 1.112, "
                                         "Plan 1, building A — ")
    metres = [int(re.search(r" — (\d+) m, about", t).group(1))  # type: ignore[union-attr]
              for t in items.all_text_contents()]
    assert metres == sorted(metres) and metres[0] < metres[1]
    # The nearest one is shown at once: route from my room (start square) to the dot.
    expect(page.locator("#level")).to_have_value("A3")
    expect(page.locator("#overlay polyline.route")).not_to_have_count(0)
    expect(page.locator("#overlay rect.start")).to_have_count(1)
    expect(page.locator("#asset-dot")).to_be_attached()
    expect(page.locator("#map-route")).to_have_text(re.compile(
        rf"^Walking route from Sengerom 3\.101: {metres[0]} m, about \d+ min\.$"))
    # The farther one is on level 1: the map switches level and says the route crosses levels.
    page.locator("#nearest-results li").nth(1).get_by_role("button", name="Show route").click()
    expect(page.locator("#level")).to_have_value("A1")
    expect(page.locator("#overlay polyline.route")).not_to_have_count(0)
    expect(page.locator("#overlay rect.start")).to_have_count(0)
    expect(page.locator("#map-route")).to_contain_text(
        "The route goes over Plan 3, building A → Plan 1, building A")
    # My room is remembered.
    page.reload()
    expect(page.locator("#room")).to_have_value(f"Sengerom 3.101 ({FROM_ROOM})")
    no_js_errors(page)


def test_nearest_names_a_room_it_cannot_find(new_page: NewPage) -> None:
    page = new_page(viewport=PHONE)
    log_in(page)
    find_nearest(page, room="Nowhere 9.999")
    expect(page.locator("#nearest-status")).to_have_text(
        "No room matches “Nowhere 9.999”. Pick your room from the list.")
    expect(page.locator("#room")).to_be_focused()
    find_nearest(page, type_="defibrillator")
    expect(page.locator("#nearest-status")).to_have_text(
        "No available defibrillator can be reached from Sengerom 3.101.")


# ----------------------------------------------------------------------------- language
def test_language_follows_the_browser_and_the_switch_persists(new_page: NewPage) -> None:
    page = new_page(viewport=PHONE, locale="en-US")
    expect(page.locator("html")).to_have_attribute("lang", "en")
    expect(page.locator("#login-heading")).to_have_text("Log in")
    log_in(page)
    search(page, "4711")
    page.locator("#lang").select_option("nb")
    expect(page.locator("html")).to_have_attribute("lang", "nb")
    expect(page.locator("#search-heading")).to_have_text("Finn utstyr")
    expect(page.locator("label[for=q]")).to_have_text("Utstyrsnummer, navn eller type")
    expect(page.locator("#search-results li .sentence").first).to_have_text(re.compile(
        "^✓ " + re.escape(IP4711_NB) + r" — sett for \d+ (s|min) siden$"))
    expect(page.locator("#search-results li button").first).to_have_text("Vis på kartet")
    assert page.title() == "Sporing – finn utstyr"
    page.reload()
    expect(page.locator("#search-heading")).to_have_text("Finn utstyr")
    expect(page.locator("html")).to_have_attribute("lang", "nb")

    norwegian = new_page(viewport=PHONE, locale="nb-NO")
    expect(norwegian.locator("html")).to_have_attribute("lang", "nb")
    expect(norwegian.locator("#login-heading")).to_have_text("Logg inn")
    expect(norwegian.locator("#lang")).to_have_value("nb")
    no_js_errors(page)


# ----------------------------------------------------------------------------- keyboard
def test_main_flow_with_the_keyboard_only(new_page: NewPage) -> None:
    page = new_page(viewport=DESKTOP)
    page.keyboard.press("Tab")
    expect(page.locator("a.skip")).to_be_focused()
    expect(page.locator("a.skip")).to_be_in_viewport()
    tab_to(page, "#username")
    page.keyboard.type(USERS["porter"])
    page.keyboard.press("Tab")
    page.keyboard.type(PASSWORD)
    page.keyboard.press("Enter")
    expect(page.locator("#q")).to_be_focused()
    style, width = focus_ring(page)
    assert style != "none" and width >= 2

    # Nearest available: type (type-ahead on the select), room, submit with Enter.
    tab_to(page, "#type")
    page.keyboard.type("Inf")
    expect(page.locator("#type")).to_have_value("infusion-pump")
    page.keyboard.press("Tab")
    expect(page.locator("#room")).to_be_focused()
    page.keyboard.type("Sengerom 3.101")
    page.keyboard.press("Enter")
    expect(page.locator("#nearest-results li")).to_have_count(2)
    tab_to(page, "#nearest-results li:first-child button")
    style, width = focus_ring(page)
    assert style != "none" and width >= 2
    page.keyboard.press("Enter")
    expect(page.locator("#map-heading")).to_be_focused()
    expect(page.locator("#overlay polyline.route")).not_to_have_count(0)

    # Back to the search box, search and show on the map.
    tab_to(page, "#q", back=True)
    page.keyboard.type("4712")
    expect(page.locator("#search-results li")).to_have_count(1)
    page.keyboard.press("Tab")
    expect(page.locator("#search-results li button")).to_be_focused()
    page.keyboard.press("Enter")
    expect(page.locator("#map-heading")).to_be_focused()
    expect(page.locator("#level")).to_have_value("A1")
    expect(page.locator("#map-sentence")).to_contain_text("Infusion pump IP-4712")
    no_js_errors(page)


# ----------------------------------------------------------------------------- layout
@pytest.mark.parametrize("viewport", [PHONE, DESKTOP], ids=["phone", "desktop"])
def test_no_horizontal_scrolling_with_text_at_200_percent(
        new_page: NewPage, viewport: ViewportSize) -> None:
    page = new_page(viewport=viewport)
    page.add_style_tag(content="html { font-size: 200% !important; }")
    log_in(page)
    search(page, "4711")
    find_nearest(page)
    expect(page.locator("#nearest-results li")).to_have_count(2)
    width = page.evaluate("() => [document.documentElement.scrollWidth, window.innerWidth]")
    assert width[0] <= width[1], f"page is {width[0]} px wide in a {width[1]} px window"
    for sel in ("#search-results li .sentence", "#nearest-results li .sentence"):
        box = page.locator(sel).first.bounding_box()
        assert box is not None and box["x"] >= 0 and box["x"] + box["width"] <= width[1]


@pytest.mark.parametrize("viewport", [PHONE, DESKTOP], ids=["phone", "desktop"])
def test_map_sits_beside_the_lists_on_desktop_and_below_on_a_phone(
        new_page: NewPage, viewport: ViewportSize) -> None:
    page = new_page(viewport=viewport)
    log_in(page)
    search_box = page.locator("#search").bounding_box()
    map_box = page.locator("#map").bounding_box()
    assert search_box is not None and map_box is not None
    if viewport is PHONE:
        assert map_box["y"] > search_box["y"] + search_box["height"] - 1
        assert map_box["width"] <= viewport["width"]
    else:
        assert map_box["x"] >= search_box["x"] + search_box["width"] - 1
        assert map_box["y"] < search_box["y"] + search_box["height"]


# ----------------------------------------------------------------------------- axe-core
@pytest.mark.parametrize("viewport", [PHONE, DESKTOP], ids=["phone", "desktop"])
def test_axe_finds_no_serious_violations(new_page: NewPage, axe_js: Path,
                                         viewport: ViewportSize) -> None:
    page = new_page(viewport=viewport)
    expect(page.locator("#login")).to_be_visible()
    assert axe_serious(page, axe_js) == []
    log_in(page, "biomed")
    expect(page.locator("#pair")).to_be_visible()
    search(page, "4711")
    find_nearest(page)
    expect(page.locator("#asset-dot")).to_be_attached()
    assert axe_serious(page, axe_js) == []
    page.locator("#lang").select_option("nb")
    expect(page.locator("html")).to_have_attribute("lang", "nb")
    assert axe_serious(page, axe_js) == []


# ----------------------------------------------------------------------------- pairing
def test_biomed_pairs_and_unpairs_a_tag(new_page: NewPage) -> None:
    page = new_page(viewport=PHONE)
    log_in(page, "biomed")
    expect(page.locator("#pair")).to_be_visible()
    can_scan = page.evaluate(
        "() => 'BarcodeDetector' in window && Boolean(navigator.mediaDevices?.getUserMedia)")
    for scan in page.locator("button.scan").all():
        expect(scan).to_be_visible() if can_scan else expect(scan).to_be_hidden()

    status = page.locator("#pair-status")
    page.locator("#pair-asset").fill("IP-4715")
    page.locator("#pair-tag").fill("5E:00:00:00:0A:01")
    page.locator("#pair-form button[type=submit]").click()
    expect(status).to_have_text("Tag 5E:00:00:00:0A:01 is now paired with IP-4715.")
    assert page.request.get("api/v1/assets/IP-4715").json()["tags"] == ["5e0000000a01"]

    page.get_by_role("button", name="Unpair tag").click()
    expect(status).to_have_text("Tag 5E:00:00:00:0A:01 is no longer paired with any "
                                "equipment.")
    assert page.request.get("api/v1/assets/IP-4715").json()["tags"] == []

    # A GS1 element string (as a scanner reads the label) finds the asset by its GIAI.
    page.locator("#pair-asset").fill(f"(8004){GIAI_4715}")
    page.locator("#pair-tag").fill("5e0000000a02")
    page.locator("#pair-form button[type=submit]").click()
    expect(status).to_have_text("Tag 5e0000000a02 is now paired with IP-4715.")
    page.get_by_role("button", name="Unpair tag").click()
    expect(status).to_contain_text("no longer paired")

    # Bad input gets the server's precise answer, not a crash.
    page.locator("#pair-asset").fill("NO-SUCH-ASSET")
    page.locator("#pair-form button[type=submit]").click()
    expect(status).to_have_text(re.compile(r"^The server answered 404: .+"))
    page.locator("#pair-asset").fill("IP-4715")
    page.locator("#pair-tag").fill("not a tag")
    page.locator("#pair-form button[type=submit]").click()
    expect(status).to_have_text(re.compile(r"^The server answered 422: .*tag"))
    page.locator("#pair-tag").fill("")
    page.locator("#pair-form button[type=submit]").click()
    expect(status).to_have_text("Fill in the tag id.")
    expect(page.locator("#pair-tag")).to_be_focused()
    no_js_errors(page)
