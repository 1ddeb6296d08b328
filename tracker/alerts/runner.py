"""Alerting inside a Sporing process: the engine on the pipeline's ticks, the lifecycle in the
store, and the dispatcher delivering the outbox.

Threads and tasks:

* the pipeline calls :meth:`AlertRunner.on_tick` in its tick thread with the tick's fixes and
  stays (after handing the tick's batch to the store writer); the tag battery levels reported
  since the previous tick are drained there too; the engine evaluates there (CPU only, no I/O)
  and queues the transitions;
* an asyncio task records queued transitions in the store (in a worker thread; while the
  database is down they wait in memory and are retried);
* another refreshes the asset registry (every minute) and takes gateway health snapshots;
* the :class:`~tracker.alerts.delivery.Dispatcher` delivers the outbox.

At start-up the engine is seeded from the store: current locations, the open stays (read once by
the service, which also resumes them in the pipeline), and the alerts still unresolved (so they
are not raised twice and resolve when their condition clears).
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import threading
import time
from collections import deque
from collections.abc import Callable, Iterable, Mapping, Sequence
from dataclasses import replace
from typing import Any

from floorplans.model import Site
from gateway.batteries import TagBatteries
from gateway.health import GatewayHealth
from gateway.mqtt import MqttSettings
from tracker.alerts.delivery import Dispatcher
from tracker.alerts.engine import AlertEngine, Transition
from tracker.alerts.lifecycle import Alert
from tracker.alerts.rules import AlertsConfig, check_against_site, parse_config
from tracker.alerts.store import AlertStore
from tracker.assets import Asset
from tracker.availability import StateMap
from tracker.periodic import periodic
from tracker.records import (
    FixRecord,
    GatewayStatusRecord,
    StayRecord,
    status_records,
    stored_online,
)
from tracker.settings import MqttConfig
from tracker.store.base import Store, StoreError, all_assets

__all__ = ["AlertRunner", "AssetRegistry"]

log = logging.getLogger("sporing.alerts")


class AssetRegistry:
    """The asset registry in memory (the engine looks assets up every tick, so it must not
    query the database); callable as the engine's asset lookup."""

    def __init__(self, assets: Sequence[Asset] = ()) -> None:
        self._by_id: Mapping[str, Asset] = {a.id: a for a in assets}

    def load(self, store: Store, *, page: int = 1000) -> int:
        """Reload every asset from ``store``; returns how many."""
        self._by_id = {a.id: a for a in all_assets(store, page=page)}
        return len(self._by_id)

    def __call__(self, asset_id: str) -> Asset | None:
        return self._by_id.get(asset_id)

    def __len__(self) -> int:
        return len(self._by_id)


class AlertRunner:
    """Runs alerting in a process (see the module docstring).

    Args:
        config: The parsed ``[alerts]`` configuration.
        site: The floor plan.
        store: The (upgraded) store.
        mqtt: The broker for the ``mqtt`` target (None: no MQTT delivery).
        health: Returns the gateway health tracker (None while there is none).
        statuses_from_store: Take gateway health from the store instead (the latest status
            of each gateway, written every 30 s by the process that reads the vendor
            messages: a sharding parser worker), online as
            :func:`tracker.records.stored_online` says, so a gateway (or a parser tier) that
            went silent is caught even when no fresh row says so.
        batteries: Returns the ingestor's tag battery levels (None while there are none);
            what changed is drained on every tick and fed to ``low_battery`` rules.
        state_map: Room category -> asset state, for par levels.
        clock: Wall clock.
        refresh_s: Seconds between registry reloads; gateway health is sampled every
            ``refresh_s / 6``.
        owns_tag: In a sharded deployment, whether this process positions a tag: the engine
            is seeded only with those tags' locations, and only the alerts about assets whose
            first tag is one of them, or (with ``statuses_from_store``) about gateways, are
            resumed, so workers do not resolve each other's alerts; of the
            open stays given, only these tags' are taken. None: every tag.
        evaluate_every_s: Ticks are taken in every time, but the rules are evaluated at most
            this often (pipeline time): hold times are then counted in steps of it (see
            ``benchmarks/bench_alerts.py`` for what an evaluation costs).
    """

    def __init__(self, config: AlertsConfig, site: Site, store: Store, *,
                 mqtt: MqttSettings | None = None,
                 health: Callable[[], GatewayHealth | None] | None = None,
                 batteries: Callable[[], TagBatteries | None] | None = None,
                 state_map: StateMap | None = None, clock: Callable[[], float] = time.time,
                 refresh_s: float = 60.0, evaluate_every_s: float = 5.0,
                 statuses_from_store: bool = False,
                 owns_tag: Callable[[str], bool] | None = None) -> None:
        self.config = config
        self.engine = AlertEngine(config.active_rules, site, state_map=state_map)
        self.alerts = AlertStore(store)
        self.store = store
        self.registry = AssetRegistry()
        self.dispatcher = Dispatcher(self.alerts, config, mqtt=mqtt if config.mqtt else None,
                                     clock=clock)
        self.health = health or (lambda: None)
        self.statuses_from_store = statuses_from_store
        self.owns_tag = owns_tag
        self.batteries = batteries or (lambda: None)
        self.clock = clock
        self.refresh_s = refresh_s
        self.evaluate_every_s = evaluate_every_s
        self._evaluated: float | None = None
        self._queue: deque[Transition] = deque()
        self._statuses: list[GatewayStatusRecord] = []
        self._registry_loaded = 0.0
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
        try:
            tags = self.batteries()
            changed = tags.drain() if tags is not None else {}
            self.engine.update(fixes=fixes, stays=stays, statuses=statuses,
                               batteries={tag: r.percent for tag, r in changed.items()})
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
    def _seed(self, open_stays: Iterable[StayRecord]) -> None:
        n = self.registry.load(self.store)
        self._registry_loaded = self.clock()
        fixes = self.store.current_locations()
        owns = self.owns_tag
        if owns is not None:
            fixes = [f for f in fixes if owns(f.tag)]
            open_stays = [s for s in open_stays if owns(s.tag)]
        self.engine.update(fixes=fixes, stays=open_stays)
        resumed = sum(self.engine.resume([a.key], a.since) for a in self.alerts.unresolved()
                      if self._mine(a))
        log.info("alerts: %d rules, %d assets, %d locations, %d unresolved alerts resumed",
                 len(self.engine.rules), n, len(fixes), resumed)

    def _mine(self, alert: Alert) -> bool:
        """Whether this process resumes ``alert`` (see ``owns_tag``)."""
        owns = self.owns_tag
        if owns is None:
            return True
        if alert.kind == "gateway_offline":
            return self.statuses_from_store
        # (par_level and low_battery rules are refused with sharding: tracker.settings)
        asset = self.registry(alert.subject)
        return asset is not None and bool(asset.tags) and owns(min(asset.tags))

    async def start(self, *, open_stays: Iterable[StayRecord] = ()) -> None:
        """Seed the engine from the store and start recording and delivering.

        Args:
            open_stays: The stays open in the store (the service reads them once for the
                pipeline and the engine).
        """
        self._loop = asyncio.get_running_loop()
        self._stop.clear()
        try:
            await asyncio.to_thread(self._seed, open_stays)
        except StoreError as exc:  # alert anyway; alerts already open may be raised again
            log.warning("alert engine not seeded from the store: %s", exc)
        self._tasks = [
            asyncio.create_task(self._record_loop(), name="sporing-alerts-record"),
            asyncio.create_task(periodic(self._stop, max(self.refresh_s / 6.0, 1.0),
                                         self._refresh), name="sporing-alerts-refresh"),
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
        """Take the gateway health (the next tick hands it to the engine). Called every
        ``refresh_s / 6``."""
        health = self.health()
        if health is not None:
            rows = status_records(health, self.clock())
            with self._lock:
                self._statuses = rows

    async def sample_store(self) -> None:
        """Take the gateway health from the store (see ``statuses_from_store``)."""
        try:
            rows = await asyncio.to_thread(self.store.gateway_status)
        except StoreError as exc:
            log.warning("gateway health not read from the store: %s", exc)
            return
        now = self.clock()
        rows = [r if r.online == stored_online(r, now) else replace(r, online=False)
                for r in rows]
        with self._lock:
            self._statuses = rows

    async def _refresh(self) -> None:
        if self.statuses_from_store:
            await self.sample_store()
        else:
            self.sample()
        if self.clock() - self._registry_loaded >= self.refresh_s:
            self._registry_loaded = self.clock()
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
