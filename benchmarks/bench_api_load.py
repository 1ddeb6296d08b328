"""API load: porters' lookups against the real service under 100 concurrent clients.

The sample hospital with ``SPORING_BENCH_API_ASSETS`` (default 15,000) assets, each paired
with a tag whose current location is a room of the plan, is written to a fresh store; then
``sporing serve --role api`` (the production API role: uvicorn, one process) serves it, and
``SPORING_BENCH_API_CLIENTS`` (default 100) concurrent clients, each an ``httpx.AsyncClient``
with its own keep-alive connection and a porter API token, run two lookups for
``SPORING_BENCH_API_SECONDS`` (default 10) each, after a 2-second warm-up:

* "where is it": ``GET /api/v1/assets/{id}/location`` for a random asset (target p99 < 50 ms),
* "nearest available": ``GET /api/v1/nearest?type=...&from_room=...`` for a random type and
  patient room (target p99 < 200 ms),

each in two modes: *paced*, every client asking about once a second (a think time drawn
uniformly from 0-2 s: 100 busy porters' screens, about 100 requests/s), which is what the
latency targets are about; and *flat out*, every client asking again as soon as it has its
answer, which measures throughput (with 100 clients in a closed loop the latency then is just
100 / throughput, by Little's law).

Latency is measured by the client, from sending the request to reading the whole response, so
it includes queueing in the client. The client runs on the same machine as the server and
competes with it for the CPU: on a small machine the figures are a lower bound on what the
server does alone. So the table also gives the server's CPU time per request (from
``/proc/<pid>/stat``; what one request costs, whatever else runs) and the load average.

Backends: SQLite (embedded mode) always; TimescaleDB when ``SPORING_DATABASE_URL`` (default the
``scripts/services`` server) is reachable.

``--in-process`` instead times, with no server and no clients, the work behind those answers
on the same seeded SQLite store (:func:`in_process`): the full read of the current locations
(every :data:`tracker.api.snapshots.FULL_RELOAD_S`), the fleet index rebuilt for each new
locations snapshot, and one "nearest available" ranking with its routes.

Run::

    python -m pytest benchmarks/bench_api_load.py --benchmark-only -s
    python benchmarks/bench_api_load.py [--assets N] [--clients N] [--seconds S]
                                        [--backend sqlite|timescale|both]
    python benchmarks/bench_api_load.py --in-process [--assets N]
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import os
import random
import socket
import ssl
import subprocess
import sys
import tempfile
import time
import uuid
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from functools import partial
from pathlib import Path
from urllib.parse import urlsplit, urlunsplit

import httpx
import numpy as np
import pytest

from floorplans.sample import load_sample_site
from tracker.assets import Asset
from tracker.availability import StateMap
from tracker.lookup import Fleet, Locations, Registry, Wayfinder
from tracker.records import FixRecord, WriteBatch
from tracker.store import open_store
from tracker.store.base import all_assets

ASSETS = int(os.environ.get("SPORING_BENCH_API_ASSETS", "15000"))
CLIENTS = int(os.environ.get("SPORING_BENCH_API_CLIENTS", "100"))
SECONDS = float(os.environ.get("SPORING_BENCH_API_SECONDS", "10"))
WARMUP_S = 2.0
DB_URL = os.environ.get("SPORING_DATABASE_URL",
                        "postgresql://sporing:sporing@127.0.0.1:15432/sporing")
PACED_THINK_S = 1.0
TARGET_P99_MS = {"where is it": 50.0, "nearest available": 200.0}
ROOT = Path(__file__).resolve().parents[1]
NOTE = ("client and server share this machine's CPUs "
        f"({os.cpu_count()} logical); latencies include client-side queueing")


@dataclass(frozen=True, slots=True)
class Hospital:
    """What the clients ask about: asset ids, their types, and rooms porters start from."""

    assets: list[str]
    types: list[str]
    from_rooms: list[str]
    token: str


@dataclass(frozen=True, slots=True)
class LoadResult:
    """One lookup under load (``think_s`` 0: flat out)."""

    lookup: str
    think_s: float
    requests: int
    errors: int
    seconds: float
    p50_ms: float
    p99_ms: float
    server_cpu_ms: float | None = None
    client_cpu_ms: float | None = None

    @property
    def rps(self) -> float:
        """Successful requests per second."""
        return (self.requests - self.errors) / self.seconds

    @property
    def target_ms(self) -> float:
        """The p99 target."""
        return TARGET_P99_MS[self.lookup]

    @property
    def meets_target(self) -> bool:
        """p99 within the target and no failed request."""
        return self.errors == 0 and self.p99_ms < self.target_ms


# ----------------------------------------------------------------------------- data
def seed_hospital(url: str, n_assets: int, *, seed: int = 7) -> Hospital:
    """Write ``n_assets`` assets with tags and current locations into a fresh store at
    ``url`` (migrated here) and create a porter API token."""
    from simulator.assets import ASSET_TYPES
    from tracker.auth import AuthService

    site = load_sample_site()
    rng = random.Random(seed)
    rooms = [r for r in site.rooms if r.category not in ("elevator", "stairs")]
    names = [t.name for t in ASSET_TYPES]
    shares = [t.share for t in ASSET_TYPES]
    now = time.time()
    assets, fixes = [], []
    for i in range(n_assets):
        kind = rng.choices(names, shares)[0]
        aid, tag = f"{kind[:3].upper()}-{i:05d}", f"c3{i:010x}"
        assets.append(Asset(aid, f"{kind} {i}", type=kind, tags=(tag,)))
        room = rng.choice(rooms)
        p = room.polygon.representative_point()
        fixes.append(FixRecord(now - rng.uniform(1, 600), tag, aid, site.id,
                               site.level(room.level).building, room.level, room.id,
                               float(p.x), float(p.y), 1.5, 0.9, False))
    store = open_store(url)
    try:
        store.upgrade()
        for k in range(0, n_assets, 2000):
            store.upsert_assets(assets[k:k + 2000], at=now - 3600)
            store.write(WriteBatch(fixes[k:k + 2000]))
        token, _ = AuthService(lambda: store).create_token("bench-porter", "porter",
                                                           created_by="bench")
    finally:
        store.close()
    starts = [r.id for r in site.rooms if r.category == "patient_room"]
    return Hospital([a.id for a in assets], sorted(set(names)), starts, token)


# ----------------------------------------------------------------------------- server
def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        port: int = s.getsockname()[1]
        return port


@contextlib.contextmanager
def serve(url: str, *, timeout_s: float = 120.0) -> Iterator[tuple[str, int]]:
    """Run ``sporing serve --role api`` on ``url``; yields its base URL and process id once
    ready."""
    port = _free_port()
    env = {**os.environ, "SPORING_DATABASE__URL": url, "SPORING_API__PORT": str(port),
           "SPORING_LOG__LEVEL": "WARNING", "PYTHONPATH": str(ROOT)}
    proc = subprocess.Popen([sys.executable, "-m", "tracker", "serve", "--role", "api"],
                            env=env, cwd=ROOT)
    base = f"http://127.0.0.1:{port}"
    try:
        deadline = time.monotonic() + timeout_s
        while True:
            if proc.poll() is not None:
                raise RuntimeError(f"the server exited with {proc.returncode}")
            with contextlib.suppress(httpx.HTTPError):
                if httpx.get(f"{base}/readyz", timeout=2).status_code == 200:
                    break
            if time.monotonic() > deadline:
                raise RuntimeError(f"the server was not ready within {timeout_s:.0f} s")
            time.sleep(0.2)
        yield base, proc.pid
    finally:
        proc.terminate()
        try:
            proc.wait(15)
        except subprocess.TimeoutExpired:
            proc.kill()
            proc.wait()


# ----------------------------------------------------------------------------- load
def cpu_seconds(pid: int) -> float | None:
    """User + system CPU time of a process (Linux ``/proc``), or None where unavailable."""
    try:
        fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
    except OSError:
        return None
    return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")


async def _client(client: httpx.AsyncClient, path_of: Callable[[random.Random], str],
                  rng: random.Random, think_s: float, t_measure: float, t_end: float,
                  out: list[tuple[float, bool]]) -> None:
    if think_s > 0:  # spread the clients' first requests over one think time
        await asyncio.sleep(rng.uniform(0, think_s))
    while (t0 := time.perf_counter()) < t_end:
        try:
            r = await client.get(path_of(rng))
            ok = r.status_code == 200
        except httpx.HTTPError:
            ok = False
        if t0 >= t_measure:
            out.append((time.perf_counter() - t0, ok))
        if think_s > 0:
            pause = rng.uniform(0, 2 * think_s)
            await asyncio.sleep(min(pause, max(0.0, t_end - time.perf_counter())))


async def load(base: str, token: str, lookup: str, path_of: Callable[[random.Random], str],
               *, clients: int, seconds: float, think_s: float = 0.0,
               server_pid: int | None = None, seed: int = 11) -> LoadResult:
    """``clients`` concurrent clients asking ``path_of(rng)`` for ``WARMUP_S`` + ``seconds``,
    each waiting ``think_s`` on average between requests (0: none); statistics over the
    measured part (and the server's CPU time in it, given its pid)."""
    samples: list[tuple[float, bool]] = []
    # One TLS context for all (httpx loads the CA bundle per client otherwise: ~60 ms each,
    # blocking the loop), and every client made before the clock starts.
    tls = ssl.create_default_context()
    async with contextlib.AsyncExitStack() as stack:
        clients_ = [await stack.enter_async_context(httpx.AsyncClient(
            base_url=base, headers={"Authorization": f"Bearer {token}"}, verify=tls,
            limits=httpx.Limits(max_connections=1), timeout=30.0)) for _ in range(clients)]
        return await _measure(clients_, lookup, path_of, seconds=seconds, think_s=think_s,
                              server_pid=server_pid, seed=seed, samples=samples)


async def _measure(clients: list[httpx.AsyncClient], lookup: str,
                   path_of: Callable[[random.Random], str], *, seconds: float, think_s: float,
                   server_pid: int | None, seed: int,
                   samples: list[tuple[float, bool]]) -> LoadResult:
    start = time.perf_counter()
    t_measure, t_end = start + WARMUP_S, start + WARMUP_S + seconds
    cpu: list[float | None] = []
    own: list[float] = []

    async def sample_cpu() -> None:
        await asyncio.sleep(WARMUP_S)
        cpu.append(None if server_pid is None else cpu_seconds(server_pid))
        own.append(time.process_time())

    await asyncio.gather(sample_cpu(), *(
        _client(c, path_of, random.Random(seed * 1000 + i), think_s, t_measure, t_end, samples)
        for i, c in enumerate(clients)))
    measured = t_end - t_measure  # the requests counted are those started in this window
    cpu.append(None if server_pid is None else cpu_seconds(server_pid))
    own.append(time.process_time())
    lat = np.array([s for s, _ in samples]) * 1000.0
    errors = sum(1 for _, ok in samples if not ok)
    p50, p99 = (np.percentile(lat, [50, 99]) if len(lat) else (float("nan"),) * 2)
    c0, c1 = cpu
    per_request = (None if c0 is None or c1 is None or not samples
                   else (c1 - c0) * 1000.0 / len(samples))
    client = (own[1] - own[0]) * 1000.0 / len(samples) if samples else None
    return LoadResult(lookup, think_s, len(samples), errors, measured, float(p50), float(p99),
                      per_request, client)


def run(url: str, *, assets: int = ASSETS, clients: int = CLIENTS,
        seconds: float = SECONDS) -> list[LoadResult]:
    """Seed ``url``, serve it, and measure both lookups."""
    h = seed_hospital(url, assets)

    def where(rng: random.Random) -> str:
        return f"/api/v1/assets/{rng.choice(h.assets)}/location"

    def nearest(rng: random.Random) -> str:
        return f"/api/v1/nearest?type={rng.choice(h.types)}&from_room={rng.choice(h.from_rooms)}"

    with serve(url) as (base, pid):
        return [asyncio.run(load(base, h.token, lookup, path_of, clients=clients,
                                 seconds=seconds, think_s=think_s, server_pid=pid))
                for lookup, path_of in (("where is it", where), ("nearest available", nearest))
                for think_s in (PACED_THINK_S, 0.0)]


def table(backend: str, results: list[LoadResult], *, assets: int, clients: int) -> str:
    """The results as a text table."""
    lines = [f"{backend}: {assets:,} assets, {clients} concurrent clients",
             f"  {'lookup':<18} {'mode':<9} {'requests':>9} {'errors':>6} {'req/s':>6} "
             f"{'p50 ms':>7} {'p99 ms':>7} {'target':>7}  ok   CPU ms/req server, client"]
    for r in results:
        cpu = "   n/a" if r.server_cpu_ms is None else f"{r.server_cpu_ms:6.2f}"
        ccpu = "n/a" if r.client_cpu_ms is None else f"{r.client_cpu_ms:.2f}"
        mode = "paced" if r.think_s > 0 else "flat out"
        lines.append(f"  {r.lookup:<18} {mode:<9} {r.requests:>9,} {r.errors:>6} {r.rps:>6.0f} "
                     f"{r.p50_ms:>7.1f} {r.p99_ms:>7.1f} {'< ' + format(r.target_ms, '.0f'):>7}"
                     f"  {'yes' if r.meets_target else 'NO ':<3}  {cpu}, {ccpu}")
    load1, load5, _ = os.getloadavg()
    lines.append(f"  ({NOTE}; load average {load1:.1f} / {load5:.1f} (1 / 5 min) at the end)")
    return "\n".join(lines)


# ----------------------------------------------------------------------------- in-process
@dataclass(frozen=True, slots=True)
class InProcessResult:
    """Medians (and a p99) of the work behind the lookups, in milliseconds, one thread.

    Attributes:
        assets: Assets in the registry, each with a current location.
        full_read_ms: ``Store.current_locations`` of the whole site.
        fleet_ms: The current locations indexed as a new snapshot
            (:class:`~tracker.lookup.Locations`) and its :class:`~tracker.lookup.Fleet` with
            the available-per-type index (what the first lookup after each new snapshot
            builds).
        rank_ms: One "nearest available" answer from a built fleet: the available assets of a
            random type ranked from a random patient room, and the routes of the first five.
        rank_p99_ms: The 99th percentile of ``rank_ms``.
        tree_ms: The shortest-path tree of one start room, which the first ranking from that
            room adds (the walking graph keeps it).
    """

    assets: int
    full_read_ms: float
    fleet_ms: float
    rank_ms: float
    rank_p99_ms: float
    tree_ms: float


def _timed_ms(fn: Callable[[], object]) -> float:
    t0 = time.perf_counter()
    fn()
    return (time.perf_counter() - t0) * 1000.0


def in_process(url: str, h: Hospital, *, reads: int = 5, fleets: int = 20,
               rankings: int = 500, limit: int = 5, seed: int = 3) -> InProcessResult:
    """Time the snapshot work and the ranking on the store ``h`` was seeded into."""
    site = load_sample_site()
    store = open_store(url)
    try:
        registry = Registry.of(all_assets(store))
        read_ms = [_timed_ms(lambda: store.current_locations(site=site.id))
                   for _ in range(reads)]
        fixes = store.current_locations(site=site.id)
    finally:
        store.close()
    states = StateMap()
    wf = Wayfinder(site)

    def fleet() -> Fleet:
        loc = Locations.of(fixes, taken_at=time.time())
        fl = Fleet(site, registry, loc, states)
        fl.type_counts()  # builds the available index, as the first lookup would
        return fl

    fleet_ms = [_timed_ms(fleet) for _ in range(fleets)]
    fl = fleet()
    rng = random.Random(seed)
    # every start room's shortest-path tree, as a server that has run a while has them
    tree_ms = [_timed_ms(partial(wf.graph.distances_from, room)) for room in h.from_rooms]

    def rank() -> None:
        start = rng.choice(h.from_rooms)
        ranked = wf.nearest(start, fl.available(rng.choice(h.types)), limit=limit)
        for c in ranked.items:
            wf.route(start, c)

    rank_ms = np.array([_timed_ms(rank) for _ in range(rankings)])
    return InProcessResult(len(registry.assets), float(np.median(read_ms)),
                           float(np.median(fleet_ms)), float(np.median(rank_ms)),
                           float(np.percentile(rank_ms, 99)), float(np.median(tree_ms)))


def in_process_table(r: InProcessResult) -> str:
    """The in-process result as text."""
    return "\n".join([
        f"in-process (SQLite, {r.assets:,} assets, one thread; medians):",
        f"  full read of the current locations  {r.full_read_ms:7.1f} ms",
        f"  fleet index of a new snapshot       {r.fleet_ms:7.1f} ms",
        f"  nearest available, ranked + routes  {r.rank_ms:7.2f} ms (p99 {r.rank_p99_ms:.2f})",
        f"  first from a room: its path tree    {r.tree_ms:7.1f} ms more",
    ])


# ----------------------------------------------------------------------------- Timescale
@contextlib.contextmanager
def fresh_timescale() -> Iterator[str | None]:
    """A new database on the TimescaleDB server (dropped afterwards), or None if unreachable."""
    import psycopg

    name = f"sporing_api_{uuid.uuid4().hex[:8]}"
    try:
        with psycopg.connect(DB_URL, autocommit=True, connect_timeout=2) as c:
            c.execute(f'CREATE DATABASE "{name}"'.encode())
    except psycopg.OperationalError:
        yield None
        return
    try:
        yield urlunsplit(urlsplit(DB_URL)._replace(path=f"/{name}"))
    finally:
        with psycopg.connect(DB_URL, autocommit=True) as c:
            c.execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)'.encode())


# ----------------------------------------------------------------------------- pytest
def _bench(benchmark: pytest.FixtureRequest, backend: str, url: str) -> None:
    results: list[LoadResult] = benchmark.pedantic(  # type: ignore[attr-defined]
        run, args=(url,), rounds=1, iterations=1)
    for r in results:
        key = r.lookup.replace(" ", "_") + ("_paced" if r.think_s > 0 else "_flat_out")
        benchmark.extra_info[f"{key}_p50_ms"] = round(r.p50_ms, 2)  # type: ignore[attr-defined]
        benchmark.extra_info[f"{key}_p99_ms"] = round(r.p99_ms, 2)  # type: ignore[attr-defined]
        benchmark.extra_info[f"{key}_rps"] = round(r.rps)  # type: ignore[attr-defined]
        benchmark.extra_info[f"{key}_server_cpu_ms"] = r.server_cpu_ms  # type: ignore[attr-defined]
        benchmark.extra_info[f"{key}_client_cpu_ms"] = r.client_cpu_ms  # type: ignore[attr-defined]
    benchmark.extra_info["note"] = NOTE  # type: ignore[attr-defined]
    print("\n" + table(backend, results, assets=ASSETS, clients=CLIENTS))
    assert all(r.requests > 0 and r.errors == 0 for r in results)


def test_api_load_sqlite(benchmark: pytest.FixtureRequest, tmp_path: Path) -> None:
    _bench(benchmark, "SQLite", f"sqlite:///{tmp_path / 'api-load.db'}")


def test_in_process(benchmark: pytest.FixtureRequest, tmp_path: Path) -> None:
    url = f"sqlite:///{tmp_path / 'in-process.db'}"
    h = seed_hospital(url, ASSETS)
    r: InProcessResult = benchmark.pedantic(  # type: ignore[attr-defined]
        in_process, args=(url, h), rounds=1, iterations=1)
    for key in ("full_read_ms", "fleet_ms", "rank_ms", "rank_p99_ms", "tree_ms"):
        benchmark.extra_info[key] = round(getattr(r, key), 2)  # type: ignore[attr-defined]
    print("\n" + in_process_table(r))
    assert r.assets == ASSETS


def test_api_load_timescale(benchmark: pytest.FixtureRequest) -> None:
    with fresh_timescale() as url:
        if url is None:
            pytest.skip("TimescaleDB not reachable; run scripts/services start")
        _bench(benchmark, "TimescaleDB", url)


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.split("\n", 1)[0])
    ap.add_argument("--assets", type=int, default=ASSETS)
    ap.add_argument("--clients", type=int, default=CLIENTS)
    ap.add_argument("--seconds", type=float, default=SECONDS)
    ap.add_argument("--backend", choices=("sqlite", "timescale", "both"), default="both")
    ap.add_argument("--in-process", action="store_true",
                    help="time the snapshot work and the ranking without a server (SQLite)")
    args = ap.parse_args()
    if args.in_process:
        with tempfile.TemporaryDirectory() as d:
            db = f"sqlite:///{Path(d) / 'in-process.db'}"
            print(in_process_table(in_process(db, seed_hospital(db, args.assets))))
        return

    def measure(url: str) -> list[LoadResult]:
        return run(url, assets=args.assets, clients=args.clients, seconds=args.seconds)

    if args.backend in ("sqlite", "both"):
        with tempfile.TemporaryDirectory() as d:
            res = measure(f"sqlite:///{Path(d) / 'api-load.db'}")
        print(table("SQLite", res, assets=args.assets, clients=args.clients), flush=True)
    if args.backend in ("timescale", "both"):
        with fresh_timescale() as url:
            if url is None:
                print(f"TimescaleDB: not reachable at {DB_URL}; skipped")
            else:
                res = measure(url)
                print(table("TimescaleDB", res, assets=args.assets, clients=args.clients))


if __name__ == "__main__":
    main()
