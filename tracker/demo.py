"""``sporing demo``: the whole system on one laptop, no broker and no database server needed.

The sample hospital (``floorplans.sample``), the simulator running in-process as the reading
source (real time by default, ``--speed`` to accelerate), the live pipeline, an SQLite store in
a state directory and the HTTP API with the live page. The HTTP server starts first, so
``/healthz`` answers at once and ``/readyz`` says what is still loading; the simulation and the
Numba kernels warm up in the background, and the first positions appear within seconds.
"""

from __future__ import annotations

import asyncio
import contextlib
import datetime as dt
import logging
import os
import secrets
import tempfile
import time
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np

from gateway.canonical import ReadingBatch
from tracker.api.state import AppState

__all__ = ["DEMO_PASSWORD_ENV", "DEMO_USERS", "Demo", "DemoOptions"]

#: Local users the demo creates (name, role), all with :attr:`Demo.password`.
DEMO_USERS = (("demo", "admin"), ("demo-biomed", "biomed"), ("demo-porter", "porter"))
#: Environment variable fixing the demo users' password (a random one is printed otherwise).
DEMO_PASSWORD_ENV = "SPORING_DEMO_PASSWORD"

log = logging.getLogger("sporing.demo")


@dataclass(frozen=True, slots=True)
class DemoOptions:
    """What the demo runs.

    Attributes:
        host, port: Where the HTTP API listens (port 0: a free port).
        assets: Simulated assets.
        speed: Simulated seconds per wall-clock second (1: real time).
        seed: Simulation seed.
        state_dir: Directory of the SQLite file and spool (a temporary one when None).
    """

    host: str = "127.0.0.1"
    port: int = 8000
    assets: int = 300
    speed: float = 1.0
    seed: int = 7
    state_dir: Path | None = None


class Demo:
    """A running demo (see the module docstring); ``async with Demo(opts) as d: ...``."""

    def __init__(self, options: DemoOptions | None = None) -> None:
        from floorplans.sample import load_sample_site

        self.options = opts = options or DemoOptions()
        if opts.speed <= 0 or opts.assets < 1:
            raise ValueError(f"need speed > 0 and assets >= 1, got {opts.speed}, {opts.assets}")
        self.site = load_sample_site()
        self.state = AppState(site=self.site, starting="loading the simulation")
        self._tmp: tempfile.TemporaryDirectory[str] | None = None
        if opts.state_dir is None:
            self._tmp = tempfile.TemporaryDirectory(prefix="sporing-demo-")
            self.state_dir = Path(self._tmp.name)
        else:
            self.state_dir = opts.state_dir
            self.state_dir.mkdir(parents=True, exist_ok=True)
        self.http_port: int | None = None
        self.pipeline: Any = None
        self.writer: Any = None
        self.store: Any = None
        self._server: Any = None
        self._http_task: asyncio.Task[Any] | None = None
        self._boot: asyncio.Task[None] | None = None
        self._feeder: asyncio.Task[None] | None = None
        self._runner: asyncio.Task[None] | None = None
        self._rollup: asyncio.Task[None] | None = None
        self._stop = asyncio.Event()
        self._wall0 = time.time()
        self._sim0 = self._wall0
        self.password = os.environ.get(DEMO_PASSWORD_ENV) or secrets.token_urlsafe(9)

    @property
    def url(self) -> str:
        """The page's URL."""
        return f"http://{self.options.host}:{self.http_port}/"

    def clock(self) -> float:
        """Simulated time (UNIX seconds), ``speed`` times faster than the wall clock."""
        return self._sim0 + (time.time() - self._wall0) * self.options.speed

    async def start(self) -> None:
        """Serve HTTP now; load the simulation, store and pipeline in the background."""
        from tracker.app import create_app
        from tracker.service import start_http

        app = create_app(self.state)
        self._server, self._http_task, self.http_port = await start_http(
            app, self.options.host, self.options.port)
        self._boot = asyncio.create_task(self._boot_all(), name="sporing-demo-boot")

    async def wait_ready(self, timeout: float = 60.0) -> None:
        """Wait until the simulation feeds the pipeline (raises the boot error, if any)."""
        assert self._boot is not None
        await asyncio.wait_for(asyncio.shield(self._boot), timeout)

    async def _boot_all(self) -> None:
        try:
            await self._boot_inner()
        except Exception:
            log.exception("demo start-up failed")
            self.state.starting = "start-up failed (see the log)"
            raise

    async def _boot_inner(self) -> None:
        from positioning.engine import StreamingEngine
        from tracker.pipeline import Pipeline
        from tracker.service import PairingCache
        from tracker.store import open_store
        from tracker.store.writer import StoreWriter

        opts = self.options
        sim = await asyncio.to_thread(self._simulation)
        self.state.starting = "opening the database"
        db = self.state_dir / "sporing-demo.db"
        self.store = store = await asyncio.to_thread(open_store, f"sqlite:///{db}")
        await asyncio.to_thread(store.upgrade)
        self.state.store = store
        await asyncio.to_thread(self._demo_users)
        pairings = PairingCache()
        assets = _fleet_assets(sim)
        await asyncio.to_thread(store.upsert_assets, assets, at=self._sim0 - 86_400.0)
        for a in assets:
            for tag in a.tags:
                pairings.set(tag, a.id)
        self.writer = StoreWriter(store, self.state_dir / "spool")
        self.writer.start()
        self.state.writer = self.writer
        engine = StreamingEngine(self.site, index=sim.index)
        self.pipeline = Pipeline(self.site, engine, store_writer=self.writer,
                                 asset_of=pairings, tick_s=1.0, delay_s=0.2, clock=self.clock,
                                 clock_rate=opts.speed,
                                 observe_latency=self.state.metrics.observe_latency)
        self.state.starting = "compiling the positioning kernels (first run only)"
        took = await asyncio.to_thread(self.pipeline.warm_up)
        log.info("positioning kernels ready in %.1f s", took)
        self.state.pipeline = self.pipeline
        self._runner = asyncio.create_task(self.pipeline.run(), name="sporing-demo-pipeline")
        self._feeder = asyncio.create_task(self._feed(sim), name="sporing-demo-sim")
        from tracker.reports.refresher import refresh_loop

        # Reports read the rollup: refresh it every 30 simulated seconds.
        self._rollup = asyncio.create_task(
            refresh_loop(store, self.site, self._stop, every_s=30.0, clock=self.clock,
                         rate=opts.speed, state_map=self.state.states),
            name="sporing-demo-rollup")
        self.state.starting = None
        log.info("demo running: %d assets on %d levels, %d gateways, %.0fx real time",
                 opts.assets, len(self.site.levels), len(self.site.gateways), opts.speed)

    def _demo_users(self) -> None:
        from tracker.auth import AuthService
        from tracker.store.base import ConflictError

        auth = self.state.auth
        assert isinstance(auth, AuthService), "create_app installs the auth service"
        for name, role in DEMO_USERS:
            try:
                auth.create_user(name, self.password, role, display_name=f"Demo ({role})")
            except ConflictError:  # a kept state_dir: same users, this run's password
                auth.update_user(name, password=self.password)
        log.info("demo users %s, password %s (local demo only)",
                 ", ".join(n for n, _ in DEMO_USERS), self.password)

    def _simulation(self) -> Any:
        from floorplans.spatial import SiteIndex
        from simulator.config import Scenario
        from simulator.engine import Simulation

        opts = self.options
        start = dt.datetime.fromtimestamp(round(time.time()), dt.UTC)
        scenario = Scenario(name="demo", assets=opts.assets, duration_s=30 * 86_400.0,
                            start=start.isoformat(), seed=opts.seed)
        sim = Simulation(self.site, scenario, index=SiteIndex(self.site))
        self._wall0 = time.time()
        self._sim0 = sim.epoch0
        return sim

    async def _feed(self, sim: Any) -> None:
        """Step the simulation at the demo's pace and hand each step to the pipeline."""
        from gateway.health import GatewayHealth

        gids, tags = sim.gateway_ids, sim.fleet.tags
        health = self.state.health = GatewayHealth(gids)
        while not self._stop.is_set():
            tick = await asyncio.to_thread(sim.step, 10.0)
            wait = tick.t1 - self.clock()
            if wait > 0:
                with contextlib.suppress(TimeoutError):
                    await asyncio.wait_for(self._stop.wait(), timeout=wait / self.options.speed)
                if self._stop.is_set():
                    break
            n = len(tick)
            batch = ReadingBatch(tick.ts, tick.gateway.astype(np.int32),
                                 tick.tag.astype(np.int32), tick.rssi, tick.range_m,
                                 np.full(n, np.nan), gids, tags)
            counts = np.bincount(tick.gateway, minlength=len(gids))
            now = time.time()
            for g in np.flatnonzero(counts):
                health.observe(gids[int(g)], now, int(counts[g]))
            await self.pipeline.put(batch)

    async def stop(self) -> None:
        """Stop everything and remove a temporary state directory."""
        self._stop.set()
        for task in (self._boot, self._feeder):
            if task is not None:
                task.cancel()
                with contextlib.suppress(BaseException):
                    await task
        if self.pipeline is not None:
            self.pipeline.stop()
        if self._runner is not None:
            with contextlib.suppress(Exception):
                await self._runner
        if self._rollup is not None:  # ends after its current refresh (stop is set)
            with contextlib.suppress(Exception):
                await self._rollup
        if self.writer is not None:
            await asyncio.to_thread(self.writer.stop)
        if self._server is not None:
            self._server.should_exit = True
            if self._http_task is not None:
                with contextlib.suppress(Exception):
                    await self._http_task
        if self.store is not None:
            await asyncio.to_thread(self.store.close)
        if self._tmp is not None:
            self._tmp.cleanup()

    async def __aenter__(self) -> Demo:
        await self.start()
        return self

    async def __aexit__(self, *exc: object) -> None:
        await self.stop()


def _fleet_assets(sim: Any) -> list[Any]:
    from simulator.assets import ASSET_TYPES
    from tracker.assets import Asset

    fleet = sim.fleet
    out = []
    for i, aid in enumerate(fleet.ids):
        ti = int(fleet.type_index[i])
        kind = ASSET_TYPES[ti].name if ti >= 0 else "reference"
        out.append(Asset(id=aid, name=aid.replace("-", " ").capitalize(), type=kind,
                         department=fleet.department[i], tags=(fleet.tags[i],)))
    return out
