"""Process wiring: ingestion, pipeline, storage and the HTTP API in one asyncio process.

Roles (``settings.role``):

* ``all``: MQTT ingest → pipeline → store writer, plus the HTTP API and page on
  ``api.host:api.port`` (small and medium sites: one process does everything);
* ``ingest``: the same without the read API; ``/healthz``, ``/readyz`` and ``/metrics`` listen
  on ``api.ops_port`` (scale-out: several ingest processes, see ``docs/deployment.md``);
* ``api``: only the HTTP API, reading locations and gateway health from the database;
* ``parse`` (with ``sharding.shards`` > 0): a stateless parser worker: vendor topics on a
  shared subscription → canonical readings republished to the shard topics
  (:mod:`gateway.sharding`); it owns gateway health (stored every 30 s) and tag batteries. An
  ``ingest`` process with ``sharding.shards`` > 0 is then positioning worker
  ``sharding.worker`` of ``sharding.workers`` and reads only its shards.

Start-up order keeps the guarantees simple: the HTTP server (health endpoints) first, then the
database (migrations applied, retried with backoff until it answers; meanwhile ``/readyz`` says
why it is not ready and nothing is consumed from the broker, which keeps the QoS 1 backlog),
then the writer, the pipeline and last the MQTT subscription. Shutdown runs in reverse: stop
taking messages, position what is pending, write or spool every batch, close.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import random
import time
from collections.abc import Callable
from pathlib import Path
from typing import TYPE_CHECKING, Any

from floorplans.model import Site
from tracker.api.state import AppState
from tracker.logs import log_context
from tracker.periodic import periodic
from tracker.records import STATUS_EVERY_S, status_records
from tracker.settings import Settings

if TYPE_CHECKING:
    from tracker.records import StayRecord

__all__ = ["PairingCache", "Service", "load_site", "start_http"]

log = logging.getLogger("sporing.service")


def load_site(path: str) -> Site:
    """The floor plan at ``path`` (native GeoJSON), or the sample hospital when empty."""
    if not path:
        from floorplans.sample import load_sample_site

        return load_sample_site()
    from floorplans.geojson import load_site as load

    site, problems = load(Path(path).expanduser())
    for p in problems:
        log.warning("floor plan %s: %s", path, p)
    return site


class PairingCache:
    """Tag → asset pairings from the store, refreshed periodically (the pipeline asks per fix,
    so it must not query the database)."""

    def __init__(self) -> None:
        self._by_tag: dict[str, list[tuple[float, float | None, str]]] = {}

    def load(self, store: Any) -> int:
        """Reload every pairing from ``store``; returns how many were loaded."""
        by_tag: dict[str, list[tuple[float, float | None, str]]] = {}
        pairings = store.pairings()
        for p in pairings:
            by_tag.setdefault(p.tag, []).append((p.since, p.until, p.asset))
        self._by_tag = by_tag
        return len(pairings)

    def set(self, tag: str, asset: str, since: float = 0.0) -> None:
        """Pair a tag locally (e.g. from the demo's registry before it is stored)."""
        self._by_tag.setdefault(tag, []).append((since, None, asset))

    def __call__(self, tag: str, ts: float) -> str | None:
        for since, until, asset in reversed(self._by_tag.get(tag, ())):
            if since <= ts and (until is None or ts < until):
                return asset
        return None


async def _retry(what: str, fn: Callable[[], Any], state: AppState,
                 stop: asyncio.Event) -> Any:
    """Call ``fn`` in a thread until it stops raising StoreUnavailableError (backoff with
    full jitter, 0.5 s doubling to 30 s)."""
    from tracker.store.base import StoreUnavailableError

    attempt = 0
    while True:
        try:
            return await asyncio.to_thread(fn)
        except StoreUnavailableError as exc:
            wait = random.uniform(0, min(30.0, 0.5 * 2 ** attempt))
            attempt += 1
            state.starting = f"waiting for the database ({what})"
            log.warning("database unavailable during %s (%s); retrying in %.1f s", what, exc,
                        wait)
            with contextlib.suppress(TimeoutError):
                await asyncio.wait_for(stop.wait(), timeout=wait)
            if stop.is_set():
                raise


class Service:
    """One Sporing process (see the module docstring).

    Args:
        settings: The configuration.
        site: A loaded floor plan (default: ``settings.site`` or the sample hospital).

    Use ``async with Service(settings) as svc:`` (starts everything, stops on exit) or
    ``await svc.run()`` until :meth:`request_stop`.
    """

    def __init__(self, settings: Settings, *, site: Site | None = None) -> None:
        self.settings = settings
        self.site = site or load_site(settings.site)
        self.role = settings.role
        self.sharded = settings.sharding.shards > 0
        sh = settings.sharding
        #: A sharded positioning worker's shards (None: not one).
        self._own_shards: frozenset[int] | None = None
        if self.sharded and self.role == "ingest":
            from gateway.sharding import assign_shards

            self._own_shards = frozenset(assign_shards(sh.worker, sh.workers, sh.shards))
        self.state = AppState(site=self.site, ops_only=self.role in ("ingest", "parse"),
                              starting="starting",
                              secure_cookies=settings.api.secure_cookies,
                              states=settings.state_map())
        self.store: Any = None
        self.writer: Any = None
        self.pipeline: Any = None
        self.ingestor: Any = None
        self.pairings = PairingCache()
        self.alerts: Any = None
        self._stop = asyncio.Event()
        self._tasks: list[asyncio.Task[Any]] = []
        self._calibration_file: Path | None = None
        self._server: Any = None
        self._server_task: asyncio.Task[Any] | None = None
        self.http_port: int | None = None

    # ------------------------------------------------------------------ lifecycle
    async def start(self) -> None:
        """Start the HTTP server, then (roles ``all``/``ingest``) storage, pipeline, ingest;
        (role ``parse``) storage and the parser worker."""
        s = self.settings
        with log_context(role=self.role):
            if self.role == "api":
                self.state.database_url = s.database.url or None
                self.state.starting = None
                await self._start_http(s.api.port)
                return
            if self.role == "parse":
                await self._start_parse()
                return
            await self._start_http(s.api.ops_port if self.role == "ingest" else s.api.port)
            await self._start_storage()
            self._start_pipeline()
            open_stays = await self._open_stays()
            if s.alerts.get("rules"):
                from tracker.alerts.runner import AlertRunner

                self.alerts = AlertRunner.from_settings(
                    s.alerts, self.site, self.store, mqtt=s.mqtt,
                    health=lambda: self.state.health,
                    batteries=lambda: None if self.ingestor is None else self.ingestor.batteries,
                    state_map=self.state.states, owns_tag=self._owns_tag(),
                    # one worker watches the gateways (health from the parsers, via the store)
                    statuses_from_store=self.sharded and s.sharding.worker == 0)
                self.alerts.attach(self.pipeline)
                await self.alerts.start(open_stays=open_stays)
            self.state.starting = "compiling the positioning kernels"
            took = await asyncio.to_thread(self.pipeline.warm_up)
            log.info("positioning kernels ready in %.1f s", took)
            self._tasks.append(asyncio.create_task(self._resume_and_run(open_stays),
                                                   name="sporing-pipeline"))
            await self._start_ingest()
            if self.role == "all":  # one process: keep the report rollup fresh (5 min)
                from tracker.reports.refresher import refresh_loop

                self._tasks.append(asyncio.create_task(
                    refresh_loop(self.store, self.site, self._stop, every_s=300.0,
                                 state_map=self.state.states),
                    name="sporing-report-rollup"))
            self.state.starting = None
            log.info("sporing %s running: site %s, %d gateways, database %s", self.role,
                     self.site.id, len(self.site.gateways), _redact(s.database.url))

    async def _start_parse(self) -> None:
        """Role ``parse``: ops endpoints, the store (gateway health only) and a parser
        worker."""
        from gateway.gatewaymap import GatewayMap
        from gateway.sharding import parser_worker

        s = self.settings
        if not self.sharded:
            raise ValueError("role parse needs sharding.shards > 0 ([sharding] shards in the "
                             "TOML file, or SPORING_SHARDING__SHARDS)")
        await self._start_http(s.api.ops_port)
        await self._start_storage()
        m = s.mqtt
        self.ingestor = parser_worker(
            m.broker(), s.sharding.shards, topic_map=s.topic_map, group=s.sharding.group,
            prefix=s.sharding.prefix,
            gateway_map=GatewayMap.from_site(self.site, s.gateway_aliases),
            topic_prefix=m.topic_prefix, batch_size=m.batch_size,
            batch_interval_s=m.batch_interval_s, dead_letter=m.dead_letter)
        await self._subscribe(self.ingestor, owns_gateway_health=True)
        self.state.starting = None
        log.info("sporing parse running: %d shards under %s, database %s", s.sharding.shards,
                 s.sharding.prefix, _redact(s.database.url))

    async def _start_http(self, port: int) -> None:
        from tracker.app import create_app

        s = self.settings
        app = create_app(self.state, root_path=s.api.root_path)
        self._server, self._server_task, self.http_port = await start_http(app, s.api.host,
                                                                            port)

    async def _start_storage(self) -> None:
        from tracker.store import open_store
        from tracker.store.writer import StoreWriter

        s = self.settings
        if not s.database.url:
            raise ValueError("database.url is not set (TOML [database] url, or "
                             "SPORING_DATABASE__URL)")
        self.store = store = await asyncio.to_thread(open_store, s.database.url)
        self.state.store = store
        if s.database.migrate:
            applied = await _retry("migrations", store.upgrade, self.state, self._stop)
            if applied:
                log.info("applied migrations: %s", ", ".join(applied))
        await _retry("pairings", lambda: self.pairings.load(store), self.state, self._stop)
        spool = Path(s.database.spool_dir or Path(s.state_dir or ".") / "spool").expanduser()
        spool.mkdir(parents=True, exist_ok=True)
        self.writer = StoreWriter(store, spool, spool_max_bytes=s.database.spool_max_bytes)
        self.writer.start()
        self.state.writer = self.writer

    def _start_pipeline(self) -> None:
        from positioning.autocal import AutoCalParams
        from positioning.cadence import CadenceParams
        from positioning.engine import EngineConfig, StreamingEngine
        from positioning.radiomap import RadioMapParams
        from tracker.calibration_file import load_calibration
        from tracker.pipeline import Pipeline
        from tracker.store.thinning import ChangeFilter

        e, th = self.settings.engine, self.settings.thinning
        engine = StreamingEngine(self.site, EngineConfig(
            tick_s=e.tick_s, window_s=e.window_s, max_gateways=e.max_gateways,
            rssi_1m_dbm=e.rssi_1m_dbm, path_loss_exponent=e.path_loss_exponent,
            radio_map=e.radio_map,
            radio_map_params=RadioMapParams(path_loss_exponent=e.radio_map_exponent),
            autocal=AutoCalParams(enabled=e.self_calibration),
            cadence=CadenceParams(parked_every_s=e.parked_every_s)))
        self._calibration_file = path = self._calibration_path()
        if path is not None:
            load_calibration(path, engine)
            self._tasks.append(asyncio.create_task(
                periodic(self._stop, 600.0, lambda: self._save_calibration(path)),
                name="sporing-calibration"))
        self.pipeline = Pipeline(
            self.site, engine, store_writer=self.writer, asset_of=self.pairings,
            tick_s=e.tick_s, delay_s=e.delay_s, max_pending_readings=e.max_pending_readings,
            change_filter=ChangeFilter(min_move_m=th.min_move_m,
                                       accuracy_factor=th.accuracy_factor,
                                       heartbeat_s=th.heartbeat_s, smoothing=th.smoothing),
            stale_after_s=e.stale_after_s, observe_latency=self.state.metrics.observe_latency)
        self.state.pipeline = self.pipeline

    def _calibration_path(self) -> Path | None:
        s = self.settings
        if s.engine.calibration_file:
            return Path(s.engine.calibration_file).expanduser()
        return Path(s.state_dir).expanduser() / "calibration.json" if s.state_dir else None

    async def _save_calibration(self, path: Path) -> None:
        from tracker.calibration_file import save_calibration

        if self.pipeline is None:
            return
        try:
            state = await self.pipeline.calibration_state()
            await asyncio.to_thread(save_calibration, path, state)
        except Exception as exc:  # a full disk must not stop positioning
            log.warning("calibration not saved to %s: %s", path, exc)

    async def _open_stays(self) -> list[StayRecord]:
        """The stays still open in the store (read once at start-up: the pipeline resumes
        them, the alert engine is seeded with them; a sharded worker only its own tags',
        or it would close the others' stays when their tags stay silent here); empty when
        the store fails."""
        now = time.time()
        try:
            stays = await asyncio.to_thread(self.store.stays, now - 1.0, now)
        except Exception as exc:
            log.warning("could not read the open stays: %s", exc)
            return []
        owns = self._owns_tag()
        return [s for s in stays if s.t_exit is None and (owns is None or owns(s.tag))]

    def _owns_tag(self) -> Callable[[str], bool] | None:
        """Whether this process positions a tag (a sharded worker: its shards); None: all."""
        mine, n = self._own_shards, self.settings.sharding.shards
        if mine is None:
            return None
        from gateway.sharding import shard_of

        return lambda tag: shard_of(tag, n) in mine

    async def _resume_and_run(self, open_stays: list[StayRecord]) -> None:
        try:
            n = self.pipeline.resume_stays(open_stays)
            if n:
                log.info("resumed %d open stays", n)
        except Exception as exc:
            log.warning("could not resume open stays: %s", exc)
        await self.pipeline.run()

    async def _start_ingest(self) -> None:
        """The pipeline's feed: the vendor topics (this process owns gateway health), or, in
        a sharded deployment, this worker's shards of the canonical stream (gateway health
        and tag batteries stay with the parser workers, which see the vendor messages)."""
        from gateway.gatewaymap import GatewayMap
        from gateway.ingest import Ingestor
        from gateway.sharding import positioning_worker

        m, sh = self.settings.mqtt, self.settings.sharding
        if self._own_shards is not None:
            self.ingestor = positioning_worker(
                m.broker(), self._own_shards, self.pipeline.put, prefix=sh.prefix,
                batch_size=m.batch_size, batch_interval_s=m.batch_interval_s,
                dead_letter=m.dead_letter)
            log.info("positioning worker %d of %d: %d of %d shards", sh.worker, sh.workers,
                     len(self._own_shards), sh.shards)
        else:
            self.ingestor = Ingestor(
                m.broker(), self.pipeline.put, topic_map=self.settings.topic_map,
                gateway_map=GatewayMap.from_site(self.site, self.settings.gateway_aliases),
                share_group=m.share_group, topic_prefix=m.topic_prefix,
                batch_size=m.batch_size, batch_interval_s=m.batch_interval_s,
                dead_letter=m.dead_letter)
        await self._subscribe(self.ingestor, owns_gateway_health=self._own_shards is None)
        self._tasks.append(asyncio.create_task(
            periodic(self._stop, 60.0, self._reload_pairings), name="sporing-pairings"))

    async def _subscribe(self, ingestor: Any, *, owns_gateway_health: bool) -> None:
        """Expose ``ingestor`` to the ops endpoints and start it; the process that sees the
        vendor messages also stores gateway health every 30 s."""
        self.state.ingestor = ingestor
        if owns_gateway_health:
            self.state.health = ingestor.health
            self._tasks.append(asyncio.create_task(
                periodic(self._stop, STATUS_EVERY_S, self.submit_gateway_status),
                name="sporing-status"))
        await ingestor.__aenter__()

    def submit_gateway_status(self) -> int:
        """Store the current gateway health (every 30 s and at shutdown); returns rows."""
        from tracker.records import WriteBatch

        if self.ingestor is None or self.writer is None or self.state.health is None:
            return 0  # (a sharded positioning worker: the parser workers own gateway health)
        rows = status_records(self.ingestor.health, time.time())
        if rows:
            self.writer.submit(WriteBatch(statuses=rows))
        return len(rows)

    async def _reload_pairings(self) -> None:
        try:
            await asyncio.to_thread(self.pairings.load, self.store)
        except Exception as exc:
            log.warning("pairings not refreshed: %s", exc)

    def request_stop(self) -> None:
        """Ask :meth:`run` to stop (signal handlers call this)."""
        self._stop.set()

    async def stop(self) -> None:
        """Stop in reverse order; every received reading is positioned and stored or
        spooled."""
        self._stop.set()
        with log_context(role=self.role):
            if self.ingestor is not None:
                await self.ingestor.__aexit__(None, None, None)
            if self.pipeline is not None:
                self.pipeline.stop()
            for t in self._tasks:
                with contextlib.suppress(Exception, asyncio.CancelledError):
                    await asyncio.wait_for(t, timeout=30.0)
            self._tasks.clear()
            # after the pipeline's last tick: what it learned last is saved too
            if self._calibration_file is not None:
                await self._save_calibration(self._calibration_file)
            self.submit_gateway_status()
            if self.alerts is not None:
                await self.alerts.stop()
            if self.writer is not None:
                await asyncio.to_thread(self.writer.stop)
            if self._server is not None:
                self._server.should_exit = True
                if self._server_task is not None:
                    with contextlib.suppress(Exception):
                        await self._server_task
            if self.store is not None:
                await asyncio.to_thread(self.store.close)
                self.store = None
            log.info("sporing %s stopped", self.role)

    async def run(self) -> None:
        """Start, wait for :meth:`request_stop`, stop."""
        try:
            await self.start()
            await self._stop.wait()
        finally:
            await self.stop()

    async def __aenter__(self) -> Service:
        try:
            await self.start()
        except BaseException:
            await self.stop()
            raise
        return self

    async def __aexit__(self, *exc: object) -> None:
        await self.stop()


async def start_http(app: Any, host: str, port: int) -> tuple[Any, asyncio.Task[Any], int]:
    """Serve ``app`` with uvicorn in this event loop; returns ``(server, task, bound port)``
    once it listens (port 0 picks a free port). Stop with ``server.should_exit = True``.

    Raises:
        RuntimeError: The server could not start (port in use, bad host).
    """
    import socket

    import uvicorn

    try:
        infos = socket.getaddrinfo(host, port, type=socket.SOCK_STREAM)
        family, _, proto = infos[0][:3]
        # proto must be IPPROTO_TCP (not 0): asyncio sets TCP_NODELAY only on accepted sockets
        # whose proto says TCP, and without it every keep-alive response waits ~40 ms (Nagle
        # and delayed ACK: uvicorn writes headers and body separately).
        sock = socket.socket(family, socket.SOCK_STREAM, proto)
        sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        sock.bind((host, port))
    except OSError as exc:
        raise RuntimeError(f"cannot listen on {host}:{port}: {exc.strerror or exc}") from None
    sock.set_inheritable(True)
    config = uvicorn.Config(app, host=host, port=port, log_config=None, access_log=False,
                            lifespan="on")
    server = uvicorn.Server(config)
    # The service installs its own SIGINT/SIGTERM handling; uvicorn must not take it over.
    server.capture_signals = contextlib.nullcontext  # type: ignore[method-assign,assignment]
    task = asyncio.create_task(server.serve(sockets=[sock]), name="sporing-http")
    while not server.started:
        if task.done():
            err = task.exception() if not task.cancelled() else None
            raise RuntimeError(f"HTTP server did not start on {host}:{port}: {err or 'exited'}")
        await asyncio.sleep(0.02)
    bound = int(sock.getsockname()[1])
    log.info("HTTP on http://%s:%d", host, bound)
    return server, task, bound


def _redact(url: str) -> str:
    """A URL without its password (for logs)."""
    if "@" not in url:
        return url
    scheme, _, rest = url.partition("://")
    cred, _, host = rest.rpartition("@")
    user = cred.split(":", 1)[0]
    return f"{scheme}://{user}:***@{host}"
