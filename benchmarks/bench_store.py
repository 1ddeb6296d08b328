"""Store benchmarks: COPY throughput into TimescaleDB vs SQLite, and bytes per asset per day.

Throughput: ``python -m pytest benchmarks/bench_store.py --benchmark-only`` (needs the real
TimescaleDB from ``scripts/services start``; the SQLite case always runs).

Bytes per asset per day (the figure in docs/storage.md)::

    python benchmarks/bench_store.py --assets 40 --moving 0.25

simulates one day of 2-second fixes for a parked/moving mix, thins it with ChangeFilter,
writes it to a fresh database and reports table sizes (hypertable_size / pg_total_relation_size,
and compressed sizes when the server has compression).
"""

from __future__ import annotations

import argparse
import os
import random
import time
import uuid
from collections.abc import Iterator
from pathlib import Path
from urllib.parse import urlsplit, urlunsplit

import pytest

from tracker.records import FixRecord, StayRecord, WriteBatch
from tracker.store import open_store
from tracker.store.thinning import ChangeFilter

T0 = 1_780_000_000.0
DB_URL = os.environ.get("SPORING_DATABASE_URL",
                        "postgresql://sporing:sporing@127.0.0.1:15432/sporing")


def _fixes(n: int, start: float) -> list[FixRecord]:
    rng = random.Random(n)
    return [FixRecord(start + i * 0.01, f"tag-{i % 500:04d}", f"A{i % 500:05d}", "site", "bygg-a",
                      "L1", f"R{rng.randrange(200)}", rng.uniform(0, 100), rng.uniform(0, 50),
                      rng.uniform(0.5, 3), rng.random(), rng.random() < 0.2)
            for i in range(n)]


@pytest.fixture
def pg_url() -> Iterator[str]:
    import psycopg

    try:
        with psycopg.connect(DB_URL, autocommit=True, connect_timeout=2) as c:
            name = f"sporing_b_{uuid.uuid4().hex[:8]}"
            c.execute(f'CREATE DATABASE "{name}"'.encode())
    except psycopg.OperationalError:
        pytest.skip("TimescaleDB not reachable; run scripts/services start")
    yield urlunsplit(urlsplit(DB_URL)._replace(path=f"/{name}"))
    with psycopg.connect(DB_URL, autocommit=True) as c:
        c.execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)'.encode())


def _bench_write(benchmark: pytest.FixtureRequest, url: str) -> float:
    store = open_store(url)
    store.upgrade()
    counter = iter(range(10**6))
    batch_size = 10_000

    def setup() -> tuple[tuple[WriteBatch], dict[str, object]]:
        return (WriteBatch(_fixes(batch_size, T0 + next(counter) * 1000.0)),), {}

    benchmark.pedantic(store.write, setup=setup, rounds=8, warmup_rounds=1)  # type: ignore[attr-defined]
    store.close()
    rate = batch_size / benchmark.stats.stats.median  # type: ignore[attr-defined]
    benchmark.extra_info["fixes_per_s"] = round(rate)  # type: ignore[attr-defined]
    return rate


_RATES: dict[str, float] = {}


def test_sqlite_write_10k(benchmark: pytest.FixtureRequest, tmp_path: Path) -> None:
    _RATES["sqlite"] = _bench_write(benchmark, f"sqlite:///{tmp_path / 'b.db'}")


def test_timescale_copy_10k(benchmark: pytest.FixtureRequest, pg_url: str) -> None:
    rate = _bench_write(benchmark, pg_url)
    if "sqlite" in _RATES:
        benchmark.extra_info["vs_sqlite"] = round(rate / _RATES["sqlite"], 2)  # type: ignore[attr-defined]


# ---------------------------------------------------------------- bytes per asset per day
def simulate_day(n_assets: int, moving_share: float, seed: int = 7) -> Iterator[FixRecord]:
    """2-second fixes for one day. Parked assets jitter (sigma 0.3 m) in their room; moving
    assets are parked too but make a trip every ~2 h (walk 1.2 m/s through 6 rooms)."""
    rng = random.Random(seed)
    for a in range(n_assets):
        tag, asset = f"tag-{a:05d}", f"A{a:05d}"
        moving = a < n_assets * moving_share
        room, hx, hy = f"R{rng.randrange(300)}", rng.uniform(0, 200), rng.uniform(0, 60)
        t = 0.0
        next_trip = rng.uniform(0, 7200) if moving else 1e9
        while t < 86400:
            if t >= next_trip:
                for _ in range(6):
                    tx, ty = rng.uniform(0, 200), rng.uniform(0, 60)
                    troom = f"R{rng.randrange(300)}"
                    steps = int(max(1.0, ((tx - hx) ** 2 + (ty - hy) ** 2) ** 0.5 / 2.4))
                    for s in range(steps):
                        x = hx + (tx - hx) * s / steps
                        y = hy + (ty - hy) * s / steps
                        yield FixRecord(T0 + t, tag, asset, "site", "bygg-a", "L1",
                                        room if s < steps / 2 else troom, x, y, 1.2, 0.7, True)
                        t += 2
                    hx, hy, room = tx, ty, troom
                next_trip = t + rng.uniform(3600, 10800)
            yield FixRecord(T0 + t, tag, asset, "site", "bygg-a", "L1", room,
                            hx + rng.gauss(0, 0.3), hy + rng.gauss(0, 0.3), 1.5, 0.9, False)
            t += 2


def measure_bytes(url: str, n_assets: int, moving_share: float) -> dict[str, float]:
    """Write one thinned simulated day into ``url`` and return sizes."""
    import psycopg

    store = open_store(url)
    store.upgrade()
    flt = ChangeFilter()
    raw = kept = 0
    batch: list[FixRecord] = []
    stays: list[StayRecord] = []
    last_room: dict[str, tuple[str, float]] = {}
    for f in simulate_day(n_assets, moving_share):
        raw += 1
        if not flt.accept(f):
            continue
        kept += 1
        batch.append(f)
        prev = last_room.get(f.tag)
        if prev is None or prev[0] != f.room:
            if prev is not None:
                stays.append(StayRecord(f.tag, f.asset, f.site, f.level, prev[0], prev[1], f.ts,
                                        0.9))
            last_room[f.tag] = (f.room or "", f.ts)
        if len(batch) >= 5000:
            store.write(WriteBatch(batch, stays))
            batch, stays = [], []
    store.write(WriteBatch(batch, stays))
    store.close()
    out: dict[str, float] = {"raw_fixes": raw, "stored_fixes": kept}
    with psycopg.connect(url, autocommit=True) as c:
        c.execute("VACUUM ANALYZE")
        has_ts = c.execute("SELECT count(*) FROM pg_extension WHERE extname='timescaledb'"
                           ).fetchone() == (1,)
        for table in ("positions", "stays", "current_location"):
            is_ht = has_ts and c.execute(
                "SELECT count(*) FROM timescaledb_information.hypertables"
                " WHERE hypertable_name = %s", (table,)).fetchone() == (1,)
            q = "SELECT hypertable_size(%s)" if is_ht else "SELECT pg_total_relation_size(%s)"
            row = c.execute(q.encode(), (table,)).fetchone()
            out[f"{table}_bytes"] = float(row[0]) if row and row[0] is not None else 0.0
        lic = c.execute("SELECT current_setting('timescaledb.license', true)").fetchone()
        if has_ts and lic and lic[0] == "timescale":
            c.execute("SELECT compress_chunk(c) FROM show_chunks('positions') c")
            row = c.execute("SELECT hypertable_size('positions')").fetchone()
            out["positions_compressed_bytes"] = float(row[0]) if row else 0.0
    per_asset = out["positions_bytes"] / n_assets
    out["positions_bytes_per_asset_day"] = per_asset
    out["bytes_per_stored_fix"] = out["positions_bytes"] / kept
    return out


def main() -> None:
    import psycopg

    ap = argparse.ArgumentParser(description=__doc__.split("\n", 1)[0])
    ap.add_argument("--assets", type=int, default=40)
    ap.add_argument("--moving", type=float, default=0.25)
    ap.add_argument("--sqlite", metavar="PATH", help="also measure an SQLite file here")
    args = ap.parse_args()
    name = f"sporing_bytes_{uuid.uuid4().hex[:8]}"
    with psycopg.connect(DB_URL, autocommit=True) as c:
        c.execute(f'CREATE DATABASE "{name}"'.encode())
    url = urlunsplit(urlsplit(DB_URL)._replace(path=f"/{name}"))
    t = time.perf_counter()
    try:
        for k, v in measure_bytes(url, args.assets, args.moving).items():
            print(f"{k:32s} {v:14,.0f}")
    finally:
        with psycopg.connect(DB_URL, autocommit=True) as c:
            c.execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)'.encode())
    if args.sqlite:
        p = Path(args.sqlite)
        p.unlink(missing_ok=True)
        store = open_store(f"sqlite:///{p}")
        store.upgrade()
        flt = ChangeFilter()
        fixes = [f for f in simulate_day(args.assets, args.moving) if flt.accept(f)]
        for i in range(0, len(fixes), 5000):
            store.write(WriteBatch(fixes[i:i + 5000]))
        store.close()
        print(f"{'sqlite_file_bytes_per_asset_day':32s} {p.stat().st_size / args.assets:14,.0f}")
    print(f"elapsed {time.perf_counter() - t:.1f} s")


if __name__ == "__main__":
    main()
