"""Alerting inside a Sporing process: the engine on the pipeline's ticks, the lifecycle in the
store, and the dispatcher delivering the outbox.

Threads and tasks:

* the pipeline calls :meth:`AlertRunner.on_tick` in its tick thread with the tick's fixes and
  stays; the engine evaluates there (CPU only, no I/O) and queues the transitions;
* an asyncio task records queued transitions in the store (in a worker thread; while the
  database is down they wait in memory and are retried);
* another refreshes the asset registry (every minute) and takes gateway health snapshots;
* the :class:`~tracker.alerts.delivery.Dispatcher` delivers the outbox.

At start-up the engine is seeded from the store: current locations, open stays, and the alerts
still unresolved (so they are not raised twice and resolve when their condition clears).
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import threading
import time
from collections import deque
from collections.abc import Callable, Mapping, Sequence
from typing import Any

from floorplans.model import Site
from gateway.batteries import TagBatteries
from gateway.health import GatewayHealth
from gateway.mqtt import MqttSettings
from tracker.alerts.delivery import Dispatcher
from tracker.alerts.engine import AlertEngine, Transition
from tracker.alerts.rules import AlertsConfig, check_against_site, parse_config
from tracker.alerts.store import AlertStore
from tracker.assets import Asset
from tracker.availability import StateMap
from tracker.records import FixRecord, GatewayStatusRecord, StayRecord
from tracker.settings import MqttConfig
from tracker.store.base import Store, StoreError

__all__ = ["AlertRunner", "AssetRegistry"]

log = logging.getLogger("sporing.alerts")


class AssetRegistry:
    """The asset registry in memory (the engine looks assets up every tick, so it must not
    query the database); callable as the engine's asset lookup."""

    def __init__(self, assets: Sequence[Asset] = ()) -> None:
        self._by_id: Mapping[str, Asset] = {a.id: a for a in assets}

    def load(self, store: Store, *, page: int = 1000) -> int:
        """Reload every asset from ``store``; returns how many."""
        by_id: dict[str, Asset] = {}
        offset = 0
        while True:
            items, total = store.search_assets(limit=page, offset=offset)
            by_id.update((a.id, a) for a in items)
            offset += len(items)
            if not items or offset >= total:
                break
        self._by_id = by_id
        return len(by_id)

    def __call__(self, asset_id: str) -> Asset | None:
        return self._by_id.get(asset_id)

    def __len__(self) -> int:
        return len(self._by_id)


def _status_rows(health: GatewayHealth, now: float) -> list[GatewayStatusRecord]:
    return [GatewayStatusRecord(ts=now, gateway=r.gateway, online=r.state == "online",
                                messages_per_s=r.messages_per_s,
                                readings_per_s=r.readings_per_s, last_seen=r.last_seen)
            for r in health.snapshot(now) if r.state != "never_seen"]


class AlertRunner:
    """Runs alerting in a process (see the module docstring).

    Args:
        config: The parsed ``[alerts]`` configuration.
        site: The floor plan.
        store: The (upgraded) store.
        mqtt: The broker for the ``mqtt`` target (None: no MQTT delivery).
        health: Returns the gateway health tracker (None while there is none).
        batteries: Returns the ingestor's tag battery levels (None while there are none);
            what changed is drained every ``refresh_s / 6`` and fed to ``low_battery`` rules.
        state_map: Room category -> asset state, for par levels.
        clock: Wall clock.
        refresh_s: Seconds between registry reloads; gateway health is sampled every
            ``refresh_s / 6``.
        evaluate_every_s: Ticks are taken in every time, but the rules are evaluated at most
            this often (pipeline time): hold times are then counted in steps of it. Evaluation
            costs about 0.1 s per 15,000 assets, too much for every 1 s tick.
    """

    def __init__(self, config: AlertsConfig, site: Site, store: Store, *,
                 mqtt: MqttSettings | None = None,
                 health: Callable[[], GatewayHealth | None] | None = None,
                 batteries: Callable[[], TagBatteries | None] | None = None,
                 state_map: StateMap | None = None, clock: Callable[[], float] = time.time,
                 refresh_s: float = 60.0, evaluate_every_s: float = 5.0) -> None:
        self.config = config
        self.engine = AlertEngine(config.active_rules, site, state_map=state_map)
        self.alerts = AlertStore(store)
        self.store = store
        self.registry = AssetRegistry()
        self.dispatcher = Dispatcher(self.alerts, config, mqtt=mqtt if config.mqtt else None,
                                     clock=clock)
        self.health = health or (lambda: None)
        self.batteries = batteries or (lambda: None)
        self._battery_levels: dict[str, float] = {}
        self.clock = clock
        self.refresh_s = refresh_s
        self.evaluate_every_s = evaluate_every_s
        self._evaluated: float | None = None
        self._queue: deque[Transition] = deque()
        self._statuses: list[GatewayStatusRecord] = []
        self._lock = threading.Lock()
        self._stop = asyncio.Event()
        self._recorded = asyncio.Event()
        self._tasks: list[asyncio.Task[Any]] = []
        self._loop: asyncio.AbstractEventLoop | None = None

    @classmethod
    def from_settings(cls, raw: Mapping[str, Any], site: Site, store: Store, *,
                      mqtt: MqttConfig | None = None, **kwargs: Any) -> AlertRunner:
        """Build from the raw ``[alerts]`` table (checked against the floor plan) and the
        service's ``[mqtt]`` section (the broker alerts are published on).

        Raises:
            AlertConfigError: naming the rule and field at fault.
        """
        config = parse_config(raw)
        check_against_site(config, site)
        broker = mqtt.broker() if mqtt is not None and config.mqtt else None
        return cls(config, site, store, mqtt=broker, **kwargs)

    # ------------------------------------------------------------------ pipeline side
    def attach(self, pipeline: Any) -> None:
        """Receive the ticks of a :class:`tracker.pipeline.Pipeline`."""
        pipeline.add_tick_listener(self.on_tick)

    def on_tick(self, t: float, fixes: Sequence[FixRecord],
                stays: Sequence[StayRecord]) -> None:
        """One pipeline tick (called in the tick thread): evaluate and queue transitions."""
        with self._lock:
            statuses, self._statuses = self._statuses, []
            levels, self._battery_levels = self._battery_levels, {}
        try:
            self.engine.update(fixes=fixes, stays=stays, statuses=statuses,
                               batteries=levels or None, now=t)
            last = self._evaluated
            if last is not None and 0 <= t - last < self.evaluate_every_s:
                return
            self._evaluated = t
            transitions = self.engine.evaluate(t, self.registry)
        except Exception:  # an alert bug must never stop positioning
            log.exception("alert evaluation failed at %.3f", t)
            return
        if transitions:
            with self._lock:
                self._queue.extend(transitions)
            if self._loop is not None:
                self._loop.call_soon_threadsafe(self._recorded.set)

    # ------------------------------------------------------------------ lifecycle
    def _seed(self) -> None:
        n = self.registry.load(self.store)
        now = self.clock()
        fixes = self.store.current_locations()
        open_stays = [s for s in self.store.stays(now - 1.0, now) if s.t_exit is None]
        self.engine.update(fixes=fixes, stays=open_stays)
        resumed = sum(self.engine.resume([a.key], a.since) for a in self.alerts.unresolved())
        log.info("alerts: %d rules, %d assets, %d locations, %d unresolved alerts resumed",
                 len(self.engine.rules), n, len(fixes), resumed)

    async def start(self) -> None:
        """Seed the engine from the store and start recording and delivering."""
        self._loop = asyncio.get_running_loop()
        self._stop.clear()
        try:
            await asyncio.to_thread(self._seed)
        except StoreError as exc:  # alert anyway; alerts already open may be raised again
            log.warning("alert engine not seeded from the store: %s", exc)
        self._tasks = [
            asyncio.create_task(self._record_loop(), name="sporing-alerts-record"),
            asyncio.create_task(self._refresh_loop(), name="sporing-alerts-refresh"),
            asyncio.create_task(self.dispatcher.run(self._stop), name="sporing-alerts-deliver"),
        ]

    async def record_pending(self) -> int:
        """Record the queued transitions now; returns the events recorded.

        Raises:
            StoreError: The store failed; the transitions stay queued.
        """
        with self._lock:
            batch = list(self._queue)
            self._queue.clear()
        if not batch:
            return 0
        try:
            events = await asyncio.to_thread(self.alerts.record, batch, now=self.clock())
        except BaseException:
            with self._lock:
                self._queue.extendleft(reversed(batch))
            raise
        if events:
            self.dispatcher.wake()
        return len(events)

    async def _record_loop(self) -> None:
        failures = 0
        while not self._stop.is_set():
            self._recorded.clear()
            try:
                await self.record_pending()
                failures = 0
                wait = 5.0
            except StoreError as exc:
                failures += 1
                wait = min(30.0, 0.5 * 2 ** failures)
                log.warning("alerts not recorded yet (%s); retrying in %.1f s", exc, wait)
            with contextlib.suppress(TimeoutError):
                await asyncio.wait_for(self._recorded.wait(), timeout=wait)

    def sample(self) -> None:
        """Take the gateway health and the tag battery levels reported since the last sample
        (the next tick hands them to the engine). Called every ``refresh_s / 6``."""
        health = self.health()
        if health is not None:
            rows = _status_rows(health, self.clock())
            with self._lock:
                self._statuses = rows
        batteries = self.batteries()
        if batteries is not None:
            changed = batteries.drain()
            if changed:
                with self._lock:
                    self._battery_levels.update({t: r.percent for t, r in changed.items()})

    async def _refresh_loop(self) -> None:
        every = max(self.refresh_s / 6.0, 1.0)
        last_registry = self.clock()
        while not self._stop.is_set():
            with contextlib.suppress(TimeoutError):
                await asyncio.wait_for(self._stop.wait(), timeout=every)
            self.sample()
            if self.clock() - last_registry >= self.refresh_s:
                last_registry = self.clock()
                try:
                    await asyncio.to_thread(self.registry.load, self.store)
                except StoreError as exc:
                    log.warning("asset registry not refreshed: %s", exc)

    async def stop(self) -> None:
        """Record what is queued, stop delivering, close the clients."""
        self._stop.set()
        self._recorded.set()
        for task in self._tasks:
            with contextlib.suppress(Exception, asyncio.CancelledError):
                await asyncio.wait_for(task, timeout=30.0)
        self._tasks.clear()
        with contextlib.suppress(StoreError):
            await self.record_pending()
        await self.dispatcher.close()
