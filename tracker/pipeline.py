"""The live pipeline: canonical readings in, fixes, stays and store batches out, tick by tick.

Readings come from the MQTT :class:`gateway.ingest.Ingestor` (its sink is :meth:`Pipeline.put`)
or straight from the simulator as :class:`gateway.canonical.ReadingBatch`. They wait in a
bounded pending list until the next tick. Every ``tick_s`` (on a wall-clock grid, ``delay_s``
behind it so readings still in flight count), one tick runs in a worker thread
(``asyncio.to_thread``; the Numba kernels release the GIL, so the event loop keeps serving
MQTT and HTTP):

1. the pending readings go into the :class:`positioning.engine.StreamingEngine` and it ticks;
2. the fixes become :class:`tracker.records.FixRecord` (paired asset via ``asset_of``) and the
   room stays advance (:class:`tracker.stays.StayTracker`);
3. :class:`tracker.store.thinning.ChangeFilter` keeps the fixes worth storing, and one
   :class:`tracker.records.WriteBatch` (fixes + stay updates) goes to the
   :class:`tracker.store.writer.StoreWriter`.

The latest fix of every tag is kept in memory (:attr:`Pipeline.latest`) for instant "where is
it" answers, and listeners (:meth:`Pipeline.subscribe`) receive every frame.

Back-pressure and overload:

* ``await put(readings)`` waits while ``max_pending_readings`` are pending, so the MQTT client
  stops taking messages and the broker keeps the QoS 1 backlog: nothing is lost.
* ``offer(readings)`` never waits: when full it refuses the batch and counts it in
  ``stats.readings_dropped`` (for sources that cannot wait, never silently).
* A tick that takes longer than ``tick_s`` delays the next one: the next tick runs at the
  current grid slot (skipped slots are counted in ``stats.ticks_skipped``) and the engine's
  window covers the gap, so the service positions less often instead of falling behind.
  Readings whose time is already older than the window when their tick comes are counted in
  ``stats.readings_expired``; every reading is accounted for.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import math
import time
from collections.abc import Callable, Iterable, Sequence
from dataclasses import dataclass, field
from typing import Any, Protocol

import numpy as np

from floorplans.model import Site
from gateway.canonical import Reading, ReadingBatch
from positioning.engine import FixFrame, StreamingEngine
from tracker.records import FixRecord, StayRecord, WriteBatch
from tracker.stays import StayTracker
from tracker.store.thinning import ChangeFilter

__all__ = ["BatchSink", "Pipeline", "PipelineStats"]

log = logging.getLogger("sporing.pipeline")

AssetOf = Callable[[str, float], str | None]
TickListener = Callable[[float, list[FixRecord], list[StayRecord]], None]


class BatchSink(Protocol):
    """Where write batches go (a :class:`tracker.store.writer.StoreWriter`)."""

    def submit(self, batch: WriteBatch) -> bool:
        """Queue a batch; False when refused."""
        ...


@dataclass(slots=True)
class PipelineStats:
    """Counters and gauges of the pipeline (exported as metrics).

    Attributes:
        readings_in: Readings accepted by :meth:`Pipeline.put` / :meth:`Pipeline.offer`.
        batches_in: Batches accepted.
        readings_dropped: Readings refused by :meth:`Pipeline.offer` (queue full).
        readings_expired: Readings already older than the engine window at their tick.
        put_waits: Times :meth:`Pipeline.put` had to wait for room.
        ticks: Ticks run.
        ticks_skipped: Grid slots skipped because a tick ran late (overload).
        fixes: Fixes computed.
        fixes_stored: Fixes that passed the change filter and were submitted.
        stays: Stay records submitted (opened or closed).
        write_batches: Batches handed to the store writer.
        write_rejected: Batches the writer refused (its queue stayed full).
        pending_readings: Readings waiting for the next tick.
        tick_lag_s: How late the last tick started after its grid slot.
        tick_duration_s: Duration of the last tick.
        max_tick_duration_s: Longest tick so far.
        last_tick_ts: Time of the last tick (pipeline clock).
    """

    readings_in: int = 0
    batches_in: int = 0
    readings_dropped: int = 0
    readings_expired: int = 0
    put_waits: int = 0
    ticks: int = 0
    ticks_skipped: int = 0
    fixes: int = 0
    fixes_stored: int = 0
    stays: int = 0
    write_batches: int = 0
    write_rejected: int = 0
    pending_readings: int = 0
    tick_lag_s: float = 0.0
    tick_duration_s: float = 0.0
    max_tick_duration_s: float = 0.0
    last_tick_ts: float | None = None


@dataclass(slots=True)
class _Pending:
    batches: list[ReadingBatch] = field(default_factory=list)
    received: list[float] = field(default_factory=list)
    n: int = 0


class _StoreProbe:
    """Wraps a writer's store to time "reading received → fix stored"."""

    def __init__(self, inner: Any, on_written: Callable[[WriteBatch], None]) -> None:
        self._inner = inner
        self._on_written = on_written

    def write(self, batch: WriteBatch) -> None:
        self._inner.write(batch)
        self._on_written(batch)

    def __getattr__(self, name: str) -> Any:
        return getattr(self._inner, name)


class Pipeline:
    """Feeds readings through the engine on a fixed cadence (see the module docstring).

    Args:
        site: The floor plan (its id is written into the records).
        engine: The streaming engine (owned by the pipeline from now on).
        store_writer: Receives one :class:`WriteBatch` per tick with something to store
            (None: nothing is stored, e.g. tests).
        asset_of: Maps ``(tag, ts)`` to the paired asset id.
        tick_s: Seconds between ticks.
        delay_s: Ticks run this far behind the clock, so readings still in transit count.
        max_pending_readings: Readings that may wait for a tick before :meth:`put` waits.
        change_filter: Decides which fixes are stored (default :class:`ChangeFilter`).
        stale_after_s: Open stays of tags unheard this long are closed.
        clock: Time source of the ticks (default ``time.time``; the demo uses simulated time).
        observe_latency: Called with seconds from a reading batch's receipt to its fixes being
            stored (the fix latency histogram).
        clock_rate: Clock seconds per wall-clock second (an accelerated simulation's speed).
    """

    def __init__(
        self, site: Site, engine: StreamingEngine, *, store_writer: BatchSink | None = None,
        asset_of: AssetOf | None = None, tick_s: float = 1.0, delay_s: float = 0.5,
        max_pending_readings: int = 500_000, change_filter: ChangeFilter | None = None,
        stale_after_s: float = 300.0, clock: Callable[[], float] = time.time,
        observe_latency: Callable[[float], None] | None = None, clock_rate: float = 1.0,
    ) -> None:
        if not (tick_s > 0 and delay_s >= 0 and max_pending_readings >= 1 and clock_rate > 0):
            raise ValueError(f"need tick_s > 0, delay_s >= 0 and max_pending_readings >= 1, "
                             f"and clock_rate > 0, got {tick_s=}, {delay_s=}, "
                             f"{max_pending_readings=}, {clock_rate=}")
        self.site = site
        self.engine = engine
        self.writer = store_writer
        self.asset_of: AssetOf = asset_of or (lambda _tag, _ts: None)
        self.tick_s = tick_s
        self.delay_s = delay_s
        self.max_pending_readings = max_pending_readings
        self.change_filter = change_filter or ChangeFilter()
        self.stays = StayTracker(site.id, self.asset_of, stale_after_s=stale_after_s)
        self.clock = clock
        self.clock_rate = clock_rate
        self.observe_latency = observe_latency
        self.stats = PipelineStats()
        #: The latest fix of every tag seen since start (not thinned).
        self.latest: dict[str, FixRecord] = {}
        self._pending = _Pending()
        self._space = asyncio.Condition()
        self._stop = asyncio.Event()
        self._listeners: set[asyncio.Queue[FixFrame]] = set()
        self._batch_listeners: list[Callable[[WriteBatch], None]] = []
        self._tick_listeners: list[TickListener] = []
        self._inflight: dict[int, tuple[WriteBatch, list[float]]] = {}
        self._tick_lock = asyncio.Lock()
        self._runner: asyncio.Task[None] | None = None
        self.running = False
        if store_writer is not None and hasattr(store_writer, "store"):
            store_writer.store = _StoreProbe(store_writer.store, self._written)

    # ------------------------------------------------------------------ input
    @staticmethod
    def _as_batch(readings: Sequence[Reading] | ReadingBatch) -> ReadingBatch:
        if isinstance(readings, ReadingBatch):
            return readings
        return ReadingBatch.from_readings(list(readings))

    def _has_room(self, n: int) -> bool:
        p = self._pending.n
        return p == 0 or p + n <= self.max_pending_readings

    def _enqueue(self, batch: ReadingBatch) -> None:
        p = self._pending
        p.batches.append(batch)
        p.received.append(time.time())
        p.n += len(batch)
        self.stats.readings_in += len(batch)
        self.stats.batches_in += 1
        self.stats.pending_readings = p.n

    async def put(self, readings: Sequence[Reading] | ReadingBatch) -> None:
        """Queue readings for the next tick, waiting while the pending list is full.

        Usable directly as the Ingestor's sink. An empty batch is ignored; a batch larger than
        the bound is admitted alone once the list is empty.
        """
        batch = self._as_batch(readings)
        if len(batch) == 0:
            return
        async with self._space:
            if not self._has_room(len(batch)):
                self.stats.put_waits += 1
                await self._space.wait_for(lambda: self._has_room(len(batch)))
            self._enqueue(batch)

    def offer(self, readings: Sequence[Reading] | ReadingBatch) -> bool:
        """Queue readings without waiting; returns False (and counts the readings in
        ``stats.readings_dropped``) when the pending list is full."""
        batch = self._as_batch(readings)
        if len(batch) == 0:
            return True
        if not self._has_room(len(batch)):
            self.stats.readings_dropped += len(batch)
            return False
        self._enqueue(batch)
        return True

    # ------------------------------------------------------------------ listeners
    def subscribe(self, maxsize: int = 16) -> asyncio.Queue[FixFrame]:
        """A queue receiving every frame; a slow listener loses its oldest frames."""
        q: asyncio.Queue[FixFrame] = asyncio.Queue(maxsize)
        self._listeners.add(q)
        return q

    def unsubscribe(self, q: asyncio.Queue[FixFrame]) -> None:
        """Stop sending frames to ``q``."""
        self._listeners.discard(q)

    def add_batch_listener(self, fn: Callable[[WriteBatch], None]) -> None:
        """Call ``fn`` (in the tick thread) with every batch submitted to the writer."""
        self._batch_listeners.append(fn)

    def add_tick_listener(self, fn: TickListener) -> None:
        """Call ``fn(t, fixes, stays)`` (in the tick thread) with every tick's time, all its
        fixes and the stays it opened or closed (e.g. :class:`tracker.alerts.AlertRunner`),
        once the tick's batch is with the store writer (storage never waits for listeners)."""
        self._tick_listeners.append(fn)

    def resume_stays(self, open_stays: Iterable[StayRecord]) -> int:
        """Continue the open stays found in the store after a restart (instead of opening a
        second stay of the same tag); returns how many were resumed."""
        return self.stays.resume(open_stays, self.clock())

    # ------------------------------------------------------------------ ticking
    def _records(self, frame: FixFrame) -> list[FixRecord]:
        site = self.site.id
        t = float(frame.ts)
        # rounded column-wise (NumPy), and positional arguments: this runs for every tag on
        # every tick
        xs, ys = np.round(frame.x, 3).tolist(), np.round(frame.y, 3).tolist()
        acc = np.round(frame.accuracy_m, 3).tolist()
        conf = np.round(frame.room_confidence, 4).tolist()
        moving = frame.moving.tolist()
        gws = frame.gateway or (None,) * len(frame.tag)
        asset_of = self.asset_of
        return [FixRecord(t, tag, asset_of(tag, t), site, b, lv, rm, x, y, a, c, mv, g)
                for tag, b, lv, rm, x, y, a, c, mv, g in zip(
                    frame.tag, frame.building, frame.level, frame.room, xs, ys, acc, conf,
                    moving, gws, strict=True)]

    def _compute(self, pending: _Pending, t: float) -> tuple[FixFrame, list[FixRecord],
                                                              WriteBatch | None]:
        """The CPU part of a tick (runs in a worker thread)."""
        horizon = t - self.engine.config.window_s
        for b in pending.batches:
            self.stats.readings_expired += int(np.count_nonzero(b.ts <= horizon))
            self.engine.add_batch(b)
        frame = self.engine.tick(t)
        fixes = self._records(frame)
        stays: list[StayRecord] = self.stays.update(frame)
        stored = self.change_filter.filter(fixes)
        batch = WriteBatch(stored, stays) if stored or stays else None
        if batch is not None and self.writer is not None:
            self._inflight[id(batch)] = (batch, pending.received)
            while len(self._inflight) > 4096:
                self._inflight.pop(next(iter(self._inflight)))
            for fn in self._batch_listeners:
                fn(batch)
            if self.writer.submit(batch):
                self.stats.write_batches += 1
            else:
                self.stats.write_rejected += 1
                self._inflight.pop(id(batch), None)
        if batch is not None:
            self.stats.fixes_stored += len(stored)
            self.stats.stays += len(stays)
        if self.writer is None and fixes and self.observe_latency is not None:
            now = time.time()
            for r in pending.received:
                self.observe_latency(now - r)
        for listener in self._tick_listeners:  # after the writer has the batch: never delay it
            try:
                listener(t, fixes, stays)
            except Exception:  # a listener's bug must not stop positioning or storage
                log.exception("tick listener %r failed at %.3f", listener, t)
        return frame, fixes, batch

    def _written(self, batch: WriteBatch) -> None:
        hit = self._inflight.pop(id(batch), None)
        if hit is None or hit[0] is not batch or not batch.fixes:
            return
        if self.observe_latency is not None:
            now = time.time()
            for r in hit[1]:
                self.observe_latency(now - r)

    async def tick(self, t: float) -> FixFrame:
        """Run one tick at time ``t`` now (the loop calls this; tests may too)."""
        async with self._tick_lock:
            async with self._space:
                pending, self._pending = self._pending, _Pending()
                self.stats.pending_readings = 0
                self._space.notify_all()
            t0 = time.perf_counter()
            frame, fixes, _batch = await asyncio.to_thread(self._compute, pending, t)
            dur = time.perf_counter() - t0
            st = self.stats
            st.ticks += 1
            st.fixes += len(fixes)
            st.tick_duration_s = dur
            st.max_tick_duration_s = max(st.max_tick_duration_s, dur)
            st.last_tick_ts = t
            for f in fixes:
                self.latest[f.tag] = f
            for q in list(self._listeners):
                if q.full():
                    with contextlib.suppress(asyncio.QueueEmpty):
                        q.get_nowait()
                q.put_nowait(frame)
            return frame

    async def calibration_state(self) -> dict[str, Any] | None:
        """The engine's learned self-calibration, taken between ticks (None: none)."""
        async with self._tick_lock:
            return self.engine.calibration_state()

    async def run(self) -> None:
        """Tick on the grid until :meth:`stop`; a last tick positions what is pending."""
        self._stop.clear()
        self.running = True
        step = self.tick_s
        slot = (math.floor(self.clock() / step) + 1) * step
        try:
            while not self._stop.is_set():
                wait = (slot - self.clock()) / self.clock_rate
                if wait > 0:
                    with contextlib.suppress(TimeoutError):
                        await asyncio.wait_for(self._stop.wait(), timeout=wait)
                    if self._stop.is_set():
                        break
                now = self.clock()
                current = max(slot, math.floor(now / step) * step)
                skipped = round((current - slot) / step)
                self.stats.ticks_skipped += max(skipped, 0)
                self.stats.tick_lag_s = max(now - current, 0.0)
                try:
                    await self.tick(current - self.delay_s)
                except Exception:  # a bad tick must not stop the service
                    log.exception("tick at %.3f failed", current)
                slot = current + step
        finally:
            self.running = False
            if self._pending.n:
                with contextlib.suppress(Exception):
                    await self.tick(self.clock() - self.delay_s)

    def stop(self) -> None:
        """Ask :meth:`run` to finish (after one last tick)."""
        self._stop.set()

    async def __aenter__(self) -> Pipeline:
        if self._runner is not None:
            raise RuntimeError("the Pipeline is already running (not re-entrant)")
        self._runner = asyncio.create_task(self.run(), name="sporing-pipeline")
        return self

    async def __aexit__(self, *exc: object) -> None:
        self.stop()
        runner, self._runner = self._runner, None
        if runner is not None:
            await runner

    def warm_up(self) -> float:
        """Compile the engine's Numba kernels on a throwaway engine (synthetic readings of one
        tag near the first gateways of the first level); returns the seconds it took. Call it
        in a thread before serving, so the first real tick is not minutes late."""
        t0 = time.perf_counter()
        site = self.site
        if not site.levels or not site.gateways:
            return 0.0
        level = site.levels[0].id
        gws = [g for g in site.gateways if g.level == level][:6] or list(site.gateways[:6])
        scratch = StreamingEngine(site, self.engine.config, index=self.engine.index)
        for k in range(4):
            scratch.add([Reading(float(k) + 0.1 * j, g.id, "warm-up", rssi=-60.0 - 3.0 * j)
                         for j, g in enumerate(gws)])
            scratch.tick(float(k) + 0.9)
        return time.perf_counter() - t0
