"""The in-process rollup refresher: refreshes at once, keeps going until stopped, survives a
failing refresh."""

from __future__ import annotations

import asyncio
from pathlib import Path

from floorplans.sample import load_sample_site
from tracker.assets import Asset
from tracker.records import StayRecord, WriteBatch
from tracker.reports.refresher import refresh_loop
from tracker.reports.rollup import rollup_info
from tracker.store import open_store

T = 1_767_225_600.0  # 2026-01-01 00:00 UTC


def test_refresh_loop_brings_the_rollup_up_to_the_clock(tmp_path: Path) -> None:
    site = load_sample_site()
    store = open_store(f"sqlite:///{tmp_path / 'r.db'}")
    store.upgrade()
    store.upsert_assets([Asset("IP-1", "1", type="infusion-pump", tags=("t1",))], at=0.0)
    store.write(WriteBatch(stays=[StayRecord("t1", "IP-1", site.id, "A1", "A1.101",
                                             T - 7200, None, 0.9)]))
    clock = [T]

    async def run() -> None:
        stop = asyncio.Event()
        task = asyncio.create_task(refresh_loop(store, site, stop, every_s=30.0,
                                                clock=lambda: clock[0], rate=3000.0))
        while rollup_info(store)[1] != T:
            await asyncio.sleep(0.005)
        clock[0] = T + 1800
        while rollup_info(store)[1] != T + 1800:  # the next round, 10 ms later
            await asyncio.sleep(0.005)
        stop.set()
        await asyncio.wait_for(task, 5)

    try:
        asyncio.run(run())
        rows = store.query("SELECT state, sum(seconds) FROM asset_state_hours GROUP BY state")
        assert dict(rows)["in_use"] >= 2 * 3600 + 1800 - 1
    finally:
        store.close()


def test_a_failing_refresh_is_logged_and_retried(tmp_path: Path) -> None:
    site = load_sample_site()
    store = open_store(f"sqlite:///{tmp_path / 'r.db'}")  # not upgraded: no rollup tables
    calls = [0]

    def clock() -> float:
        calls[0] += 1
        if calls[0] == 2:
            store.upgrade()  # the database comes back before the second round
        return T

    async def run() -> None:
        stop = asyncio.Event()
        task = asyncio.create_task(refresh_loop(store, site, stop, every_s=1.0, clock=clock,
                                                rate=100.0))
        while rollup_info_or_none(store) != T:
            await asyncio.sleep(0.005)
        stop.set()
        await asyncio.wait_for(task, 5)

    try:
        asyncio.run(run())
        assert calls[0] >= 2
    finally:
        store.close()


def rollup_info_or_none(store: object) -> float | None:
    try:
        return rollup_info(store)[1]  # type: ignore[arg-type]
    except Exception:
        return None
