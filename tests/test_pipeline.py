"""The live pipeline: ticks, stays, storage hand-off, back-pressure, overload behaviour."""

from __future__ import annotations

import asyncio
import datetime as dt
from collections.abc import Iterator
from pathlib import Path

import numpy as np
import pytest

from floorplans.model import Site
from floorplans.sample import load_sample_site
from floorplans.spatial import SiteIndex
from gateway.canonical import Reading, ReadingBatch
from positioning.engine import FixFrame, StreamingEngine
from simulator.config import Scenario
from simulator.engine import Simulation
from tracker.pipeline import Pipeline
from tracker.records import StayRecord, WriteBatch

START = 1_764_147_600.0  # 2025-11-26T09:00:00Z


@pytest.fixture(scope="module")
def site() -> Site:
    return load_sample_site()


@pytest.fixture(scope="module")
def index(site: Site) -> SiteIndex:
    return SiteIndex(site)


def sim_batches(site: Site, index: SiteIndex, n: int, assets: int = 30
                ) -> Iterator[tuple[float, ReadingBatch]]:
    iso = dt.datetime.fromtimestamp(START, dt.UTC).isoformat()
    sim = Simulation(site, Scenario(assets=assets, duration_s=n, start=iso, seed=5),
                     index=index)
    for tick in sim.ticks():
        k = len(tick)
        yield tick.t1, ReadingBatch(tick.ts, tick.gateway.astype(np.int32),
                                    tick.tag.astype(np.int32), tick.rssi, tick.range_m,
                                    np.full(k, np.nan), sim.gateway_ids, sim.fleet.tags)


class Collect:
    """A store writer stand-in that keeps what it is given."""

    def __init__(self, accept: bool = True) -> None:
        self.batches: list[WriteBatch] = []
        self.accept = accept

    def submit(self, batch: WriteBatch) -> bool:
        self.batches.append(batch)
        return self.accept


def readings(n: int, ts: float = START, gateway: str = "gw-a1-001") -> list[Reading]:
    return [Reading(ts + i * 1e-3, gateway, f"tag{i % 7}", rssi=-70.0) for i in range(n)]


async def test_ticks_emit_fixes_stays_and_store_batches(site: Site, index: SiteIndex) -> None:
    sink = Collect()
    p = Pipeline(site, StreamingEngine(site, index=index), store_writer=sink,
                 asset_of=lambda tag, _ts: f"asset-{tag}", delay_s=0.0)
    frames = p.subscribe()
    n_in = 0
    for t1, batch in sim_batches(site, index, 20):
        await p.put(batch)
        n_in += len(batch)
        await p.tick(t1)
    assert p.stats.ticks == 20
    assert p.stats.readings_in == n_in == p.engine.stats.readings
    assert p.stats.fixes > 20 * 25  # nearly every one of the 30 tags, every tick after the first
    assert len(p.latest) >= 28
    some = next(iter(p.latest.values()))
    assert some.asset == f"asset-{some.tag}" and some.site == site.id and some.level
    stored = [f for b in sink.batches for f in b.fixes]
    stays = [s for b in sink.batches for s in b.stays]
    assert 0 < len(stored) < p.stats.fixes  # the change filter thins parked tags
    assert p.stats.fixes_stored == len(stored)
    assert {s.tag for s in stays if s.is_open} and all(s.asset for s in stays)
    assert p.stats.stays == len(stays)
    assert frames.qsize() == 16  # bounded: a slow listener keeps the newest frames
    latest: FixFrame | None = None
    while not frames.empty():
        latest = frames.get_nowait()
    assert latest is not None and latest.ts == pytest.approx(p.stats.last_tick_ts)
    # the pipeline holds the latest fix of every tag, by tag (the API's live snapshot reads it)
    assert any(f.level == some.level for f in p.latest.values())
    assert all(tag == f.tag for tag, f in p.latest.items())


async def test_put_waits_when_full_and_resumes_after_a_tick(site: Site) -> None:
    p = Pipeline(site, StreamingEngine(site), max_pending_readings=1000)
    await p.put(readings(800))
    blocked = asyncio.create_task(p.put(readings(500)))
    await asyncio.sleep(0.05)
    assert not blocked.done() and p.stats.put_waits == 1
    assert p.stats.pending_readings == 800
    await p.tick(START + 10)
    await asyncio.wait_for(blocked, 5.0)
    assert p.stats.pending_readings == 500
    assert p.stats.readings_in == 1300 and p.stats.readings_dropped == 0


async def test_oversized_batch_is_admitted_alone(site: Site) -> None:
    p = Pipeline(site, StreamingEngine(site), max_pending_readings=1000)
    await asyncio.wait_for(p.put(readings(2500)), 1.0)
    assert p.stats.pending_readings == 2500


async def test_offer_counts_drops_instead_of_waiting(site: Site) -> None:
    p = Pipeline(site, StreamingEngine(site), max_pending_readings=1000)
    assert p.offer(readings(900))
    assert not p.offer(readings(200))
    assert p.stats.readings_dropped == 200 and p.stats.readings_in == 900
    assert p.offer([])  # nothing to queue is not a drop


class SlowEngine(StreamingEngine):
    """An engine whose ticks take longer than the pipeline's cadence."""

    delay_s = 0.3

    def tick(self, t: float) -> FixFrame:
        import time

        time.sleep(self.delay_s)
        return super().tick(t)


async def test_overload_positions_less_often_and_loses_no_reading(site: Site) -> None:
    engine = SlowEngine(site)
    p = Pipeline(site, engine, tick_s=0.1, delay_s=0.0)
    put = 0

    async def feed() -> None:
        nonlocal put
        import time

        for _ in range(30):
            batch = readings(50, ts=time.time())
            await p.put(batch)
            put += len(batch)
            await asyncio.sleep(0.05)

    async with p:
        await feed()
    # 1.5 s at a 0.1 s cadence would be ~15 ticks; each takes 0.3 s, so far fewer ran and
    # the skipped grid slots are counted.
    assert p.stats.ticks < 10
    assert p.stats.ticks_skipped > 0
    assert p.stats.tick_duration_s >= SlowEngine.delay_s
    # Every reading reached the engine (the last tick at stop takes what is pending).
    assert engine.stats.readings == put == p.stats.readings_in
    assert p.stats.readings_dropped == 0


async def test_failed_submit_is_counted(site: Site, index: SiteIndex) -> None:
    sink = Collect(accept=False)
    p = Pipeline(site, StreamingEngine(site, index=index), store_writer=sink, delay_s=0.0)
    for t1, batch in sim_batches(site, index, 3):
        await p.put(batch)
        await p.tick(t1)
    assert sink.batches and p.stats.write_rejected == len(sink.batches)
    assert p.stats.write_batches == 0


async def test_tick_listeners_run_after_the_batch_is_with_the_writer(site: Site,
                                                                    index: SiteIndex) -> None:
    sink = Collect()
    p = Pipeline(site, StreamingEngine(site, index=index), store_writer=sink, delay_s=0.0)
    seen: list[int] = []  # batches submitted when the listener ran

    def failing(t: float, fixes: object, stays: object) -> None:
        raise RuntimeError("a listener bug")

    p.add_tick_listener(failing)
    p.add_tick_listener(lambda t, fixes, stays: seen.append(len(sink.batches)))
    after: list[int] = []  # batches submitted once the tick returned
    for t1, batch in sim_batches(site, index, 3):
        await p.put(batch)
        await p.tick(t1)
        after.append(len(sink.batches))
    # Each tick's batch was with the writer before its listeners ran; a failing one stops
    # neither the next listener nor storage.
    assert seen == after and after[-1] > 0
    assert p.stats.write_batches == len(sink.batches)


async def test_resumed_stays_are_not_opened_twice(site: Site, index: SiteIndex) -> None:
    sink = Collect()
    p = Pipeline(site, StreamingEngine(site, index=index), store_writer=sink, delay_s=0.0)
    batches = list(sim_batches(site, index, 6))
    for t1, batch in batches[:5]:
        await p.put(batch)
        await p.tick(t1)
    open_now = {s.tag: s for s in p.stays.open_stays()}
    assert open_now
    # A restarted pipeline resumes those stays: its first frame must not open new ones.
    sink2 = Collect()
    p2 = Pipeline(site, StreamingEngine(site, index=index), store_writer=sink2, delay_s=0.0)
    assert p2.resume_stays(open_now.values()) == len(open_now)
    assert p2.resume_stays([StayRecord("x", None, site.id, None, "r", 1.0, 2.0, 1.0)]) == 0
    t1, batch = batches[5]
    await p2.put(batch)
    await p2.tick(t1)
    reopened = [s for b in sink2.batches for s in b.stays
                if s.is_open and s.tag in open_now and s.room == open_now[s.tag].room]
    assert reopened == []


async def test_latency_is_observed_when_fixes_are_stored(site: Site, index: SiteIndex,
                                                         tmp_path: Path) -> None:
    from tracker.store import open_store
    from tracker.store.writer import StoreWriter

    store = open_store(f"sqlite:///{tmp_path / 'p.db'}")
    store.upgrade()
    seen: list[float] = []
    with StoreWriter(store, tmp_path / "spool") as writer:
        p = Pipeline(site, StreamingEngine(site, index=index), store_writer=writer,
                     delay_s=0.0, observe_latency=seen.append)
        for t1, batch in sim_batches(site, index, 4):
            await p.put(batch)
            await p.tick(t1)
        assert writer.flush(10.0)
    rows = store.current_locations()
    store.close()
    assert rows and len(rows) == len({f.tag for f in rows})
    assert seen and all(0.0 <= s < 60.0 for s in seen)
    # every stored fix names a gateway of the plan that heard the tag (missing-asset report)
    assert {f.gateway for f in rows} <= {g.id for g in site.gateways}


def test_bad_arguments_are_refused(site: Site) -> None:
    with pytest.raises(ValueError, match="tick_s"):
        Pipeline(site, StreamingEngine(site), tick_s=0.0)
    with pytest.raises(ValueError, match="clock_rate"):
        Pipeline(site, StreamingEngine(site), clock_rate=-1.0)


def test_warm_up_compiles_without_touching_the_live_engine(site: Site) -> None:
    engine = StreamingEngine(site)
    p = Pipeline(site, engine)
    assert p.warm_up() >= 0.0
    assert engine.stats.readings == 0 and engine.stats.ticks == 0


