"""A real Sporing HTTP server for the browser tests and the screenshots script.

:func:`start_server` fills an SQLite store with a small, known fleet on the sample hospital
(:func:`fill_store`), serves the real app with uvicorn in a background thread on a free port,
and creates one user per role through the real auth service. Nothing is mocked: the page talks
to the same endpoints as in production.

The fleet (``NOW`` is when the store is filled; the porter stands in ``FROM_ROOM``):

* ``IP-4711``: infusion pump in equipment storage ``A3.113`` on level 3, seen 20 s ago
  (available, the nearest from ``A3.101``);
* ``IP-4712``: infusion pump in clean utility ``A1.112`` on level 1 (available, farther);
* ``IP-4713``: infusion pump in patient room ``A3.105`` (in use);
* ``IP-4714``: infusion pump last seen 3 h ago in dirty utility ``A2.113`` (not seen);
* ``IP-4715``: infusion pump never seen (no tag), labelled with GS1 GIAI :data:`GIAI_4715`;
* two beds, a patient monitor in repair, and filler assets of every type on every
  level, so the live map has other tags to show.
"""

from __future__ import annotations

import asyncio
import contextlib
import os
import threading
import time
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING

import httpx

from floorplans.model import Site
from floorplans.sample import load_sample_site
from tracker.api.state import AppState
from tracker.assets import Asset
from tracker.auth import AuthService
from tracker.records import FixRecord, WriteBatch
from tracker.store import open_store

if TYPE_CHECKING:
    from playwright.sync_api import Page, ViewportSize

__all__ = [
    "AXE_DEFAULT",
    "CHROMIUM",
    "DESKTOP",
    "FROM_ROOM",
    "GIAI_4715",
    "PASSWORD",
    "PHONE",
    "USERS",
    "PageServer",
    "axe_serious",
    "fill_store",
    "fix_in",
    "start_server",
]

PHONE: ViewportSize = {"width": 360, "height": 740}
DESKTOP: ViewportSize = {"width": 1366, "height": 900}
CHROMIUM = os.environ.get("SPORING_CHROMIUM", "/usr/bin/chromium")
AXE_DEFAULT = "/var/cache/sporing/npm/node_modules/axe-core/axe.min.js"
FROM_ROOM = "A3.101"
PASSWORD = "correct-horse-battery"
GIAI_4715 = "7071234567890IP4715"
USERS = {"porter": "porter1", "biomed": "biomed1", "admin": "admin1"}
_TYPES = ("infusion-pump", "patient-monitor", "bed", "wheelchair", "ventilator", "ultrasound",
          "ecg", "defibrillator", "feeding-pump", "suction-pump")


def _tag(n: int) -> str:
    return f"5e0000{n:06x}"


def fix_in(site: Site, room_id: str, tag: str, asset: str | None, ts: float, *,
           dx: float = 0.0, gateway: str | None = None) -> FixRecord:
    """A fix at a point inside ``room_id`` (``dx`` metres east of its representative point),
    heard strongest by ``gateway``."""
    room = site.room(room_id)
    pt = room.polygon.representative_point()
    building = site.level(room.level).building
    return FixRecord(ts=ts, tag=tag, asset=asset, site=site.id, building=building,
                     level=room.level, room=room_id, x=pt.x + dx, y=pt.y, accuracy_m=2.5,
                     room_confidence=0.9, moving=False, gateway=gateway)


def fill_store(url: str, site: Site, now: float) -> None:
    """Create the schema and write the fleet described in the module docstring."""
    store = open_store(url)
    try:
        store.upgrade()
        assets: list[Asset] = []
        fixes: list[FixRecord] = []

        def add(aid: str, kind: str, room: str | None, age_s: float | None, n: int, *,
                name: str | None = None, model: str | None = None,
                status: str = "active", giai: str | None = None) -> None:
            tags: tuple[str, ...] = (_tag(n),) if age_s is not None else ()
            assets.append(Asset(aid, name or aid, type=kind, model=model, status=status,
                                giai=giai, department="Medisinsk sengepost", tags=tags))
            if age_s is not None and room is not None:
                fixes.append(fix_in(site, room, tags[0], aid, now - age_s))

        add("IP-4711", "infusion-pump", "A3.113", 20, 1, name="Volumat Agilia",
            model="Agilia VP")
        add("IP-4712", "infusion-pump", "A1.112", 35, 2, name="Volumat Agilia")
        add("IP-4713", "infusion-pump", "A3.105", 15, 3, name="Volumat Agilia")
        add("IP-4714", "infusion-pump", "A2.113", 3 * 3600, 4, name="Volumat Agilia")
        add("IP-4715", "infusion-pump", None, None, 5, name="Volumat Agilia",
            giai=GIAI_4715)
        add("BED-0001", "bed", "A3.110", 40, 6)
        add("BED-0002", "bed", "A3.215", 50, 7)
        add("MON-0001", "patient-monitor", "A3.211", 30, 8, status="in_repair")
        candidates = [r.id for r in site.rooms
                      if r.category in ("patient_room", "icu", "operating_room", "emergency")]
        for i in range(60):
            kind = _TYPES[i % len(_TYPES)]
            if kind == "infusion-pump":
                continue
            room = candidates[(i * 7) % len(candidates)]
            add(f"{kind.upper()[:3]}-{9000 + i}", kind, room, 10 + i, 100 + i)
        store.upsert_assets(assets, at=now - 86_400.0)
        store.write(WriteBatch(fixes=fixes))
    finally:
        store.close()


@dataclass
class PageServer:
    """A running server: its base URL (ending in ``/``), state and the thread serving it."""

    url: str
    state: AppState
    site: Site
    _stop: threading.Event = field(default_factory=threading.Event)
    _thread: threading.Thread | None = None

    def stop(self) -> None:
        """Stop serving and wait for the thread (the app's lifespan closes the store)."""
        self._stop.set()
        if self._thread is not None:
            self._thread.join(timeout=30)


def _serve(state: AppState, ready: threading.Event, stop: threading.Event,
           out: dict[str, object]) -> None:
    from tracker.app import create_app
    from tracker.service import start_http

    async def main() -> None:
        try:
            server, task, port = await start_http(create_app(state), "127.0.0.1", 0)
        except Exception as exc:  # reported to the caller
            out["error"] = exc
            ready.set()
            return
        out["port"] = port
        ready.set()
        while not stop.is_set() and not task.done():
            await asyncio.sleep(0.05)
        server.should_exit = True
        # Open event streams end when their page closes; do not wait for ever.
        with contextlib.suppress(TimeoutError):
            await asyncio.wait_for(task, 10)

    asyncio.run(main())


@contextmanager
def start_server(db_path: Path, *, site: Site | None = None) -> Iterator[PageServer]:
    """Fill a store at ``db_path``, serve it, create the users; stop at exit."""
    site = site or load_sample_site()
    url = f"sqlite:///{db_path}"
    fill_store(url, site, time.time())
    state = AppState(site=site, database_url=url)
    ready, stop = threading.Event(), threading.Event()
    out: dict[str, object] = {}
    thread = threading.Thread(target=_serve, args=(state, ready, stop, out),
                              name="sporing-page-server", daemon=True)
    thread.start()
    if not ready.wait(60):
        raise RuntimeError("the HTTP server did not start within 60 s")
    if "error" in out:
        raise RuntimeError(f"the HTTP server did not start: {out['error']}")
    server = PageServer(f"http://127.0.0.1:{out['port']}/", state, site, stop, thread)
    try:
        auth = state.auth
        assert isinstance(auth, AuthService), "create_app installs the auth service"
        for role, name in USERS.items():
            auth.create_user(name, PASSWORD, role)
        r = httpx.get(server.url + "readyz", timeout=10)
        if r.status_code != 200:
            raise RuntimeError(f"server not ready: {r.status_code} {r.text}")
        yield server
    finally:
        server.stop()


def axe_serious(page: Page, axe_js: Path) -> list[str]:
    """The serious and critical WCAG 2.1 A/AA violations axe-core finds on ``page`` now."""
    page.add_script_tag(path=str(axe_js))
    result = page.evaluate("""async () => {
        const r = await axe.run(document, {runOnly: {type: "tag",
            values: ["wcag2a", "wcag2aa", "wcag21a", "wcag21aa"]}});
        return r.violations.map(v => ({id: v.id, impact: v.impact, help: v.help,
                                       nodes: v.nodes.map(n => n.target.join(" "))}));
    }""")
    return [f"{v['id']} ({v['impact']}): {v['help']} at {v['nodes'][:5]}" for v in result
            if v["impact"] in ("serious", "critical")]
