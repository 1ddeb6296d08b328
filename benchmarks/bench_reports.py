"""Report benchmark: every report over 30 days x 15,000 assets in TimescaleDB (docs/reports.md).

Builds a database (``--database``, default a new ``sporing_bench_reports`` database on the
server of ``$SPORING_DATABASE_URL``) holding, for the sample hospital's rooms:

* a registry of ``--assets`` assets (10 types, 12 departments, maintenance dates over four
  months) and one current location per asset (1 % not heard for three days, 0.5 % never);
* 30 days of synthetic stays, generated in SQL with ``generate_series`` (no Python loop over
  rows): each asset moves every 1-5 hours (its own period) between rooms drawn 45 % from use
  rooms, 40 % storage/clean utility, 10 % dirty utility, 5 % corridors, with a 5-minute gap
  before a third of its moves; 3 % of the assets never move (idle);
* the rollup computed from those stays in SQL (the same definitions as
  :mod:`tracker.reports.rollup` except the gaps, which the SQL leaves out): ``asset_state_hours``
  per UTC hour, ``asset_state_days`` per local day, ``fleet_hours`` per hour, type and
  department (concurrency approximated by the assets in use during the hour).

Then it times each report as the API or the command line runs it (best of ``--repeat``; the
rooms heat map reads the stays themselves, the forecast the hourly ``fleet_hours`` and the
current locations), and
the incremental refresh of the last hour for every asset (what the scheduled
``sporing report refresh`` does), and prints a Markdown table. Usage::

    python benchmarks/bench_reports.py --assets 15000 --days 30
    python benchmarks/bench_reports.py --reuse   # time again on the database already built
"""

from __future__ import annotations

import argparse
import datetime as dt
import os
import statistics
import sys
import time
from collections.abc import Callable
from typing import Any
from urllib.parse import urlsplit, urlunsplit

import psycopg

from floorplans.routing import WalkingGraph
from floorplans.sample import load_sample_site
from simulator.assets import ASSET_TYPES
from tracker.availability import AssetState, StateMap
from tracker.reports.fleet import fleet
from tracker.reports.forecast import forecast_with_moves
from tracker.reports.periods import zone
from tracker.reports.rollup import DAY_COLUMNS, refresh_rollup
from tracker.reports.rooms import room_time
from tracker.reports.states import StateRules
from tracker.reports.utilization import utilization
from tracker.reports.worklists import idle, maintenance, missing
from tracker.store import open_store

TZ = "Europe/Oslo"
DEPARTMENTS = ("Kirurgi 1A", "Kirurgi 1B", "Nevrologi 2A", "Nevrologi 2B", "Medisin 3A",
               "Medisin 3B", "Akuttmottak", "Intensiv 3A", "Intensiv 3B", "Radiologi",
               "Operasjon 2A", "Operasjon 2B")
_GROUPS = {"in_use": 0, "available": 1, "needs_cleaning": 2, "in_transit": 3}
_PER_STATE = ", ".join(f"sum(CASE WHEN state = '{s.value}' THEN seconds ELSE 0 END)"
                       for s in AssetState)


def _admin_url() -> str:
    return os.environ.get("SPORING_DATABASE_URL",
                          "postgresql://sporing:sporing@127.0.0.1:15432/sporing")


def _db_url(name: str) -> str:
    return urlunsplit(urlsplit(_admin_url())._replace(path=f"/{name}"))


def _exec(conn: psycopg.Connection[Any], label: str, q: str, params: Any = None) -> None:
    t = time.perf_counter()
    cur = conn.execute(q.encode(), params)
    print(f"  {label}: {cur.rowcount} rows in {time.perf_counter() - t:.1f} s", file=sys.stderr)


def build(url: str, *, assets: int, days: int, end: float) -> None:
    """Create the registry, stays, locations and rollup (see the module docstring)."""
    site = load_sample_site()
    sm = StateMap()
    store = open_store(url)
    store.upgrade()
    store.close()
    rooms = [(r.id, r.level, str(sm.of_category(r.category))) for r in site.rooms
             if r.category not in ("elevator", "stairs")]
    start = end - days * 86_400.0
    start_dt = dt.datetime.fromtimestamp(start, dt.UTC)
    end_dt = dt.datetime.fromtimestamp(end, dt.UTC)
    types = [t.name for t in ASSET_TYPES]
    with psycopg.connect(url, autocommit=True) as conn:
        conn.execute("SET work_mem = '256MB'")
        conn.execute("CREATE TABLE bench_rooms (id text PRIMARY KEY, level text, state text,"
                     " grp int, j int)")
        per_group: dict[int, int] = {}
        with conn.cursor().copy("COPY bench_rooms FROM STDIN") as cp:
            for rid, level, state in rooms:
                g = _GROUPS.get(state, 0)
                cp.write_row((rid, level, state, g, per_group.get(g, 0)))
                per_group[g] = per_group.get(g, 0) + 1
        conn.execute("CREATE TABLE bench_groups (grp int PRIMARY KEY, n int)")
        for g, n in per_group.items():
            conn.execute("INSERT INTO bench_groups VALUES (%s, %s)", (g, n))
        print("building:", file=sys.stderr)
        _exec(conn, "assets", """
            INSERT INTO assets (id, name, type, department, status, next_maintenance)
            SELECT 'asset-' || lpad(a::text, 5, '0'), 'Asset ' || a,
                   (%(types)s::text[])[1 + a %% cardinality(%(types)s::text[])],
                   (%(depts)s::text[])[1 + (a / 10) %% cardinality(%(depts)s::text[])],
                   CASE WHEN a %% 200 = 7 THEN 'in_repair' ELSE 'active' END,
                   (%(today)s::date + (abs(hashtext('m' || a)) %% 120 - 30))
            FROM generate_series(1, %(n)s) a""",
              {"types": types, "depts": list(DEPARTMENTS), "n": assets,
               "today": dt.date.fromtimestamp(end)})
        _exec(conn, "stays", """
            INSERT INTO stays (tag, asset, site, level, room, t_enter, t_exit, confidence)
            SELECT 'tag-' || a, 'asset-' || lpad(a::text, 5, '0'), 'fjellvik', r.level, r.id,
                   %(t0)s + k * l.len * INTERVAL '1 second',
                   CASE WHEN (k + 1) * l.len >= %(span)s THEN NULL
                        ELSE %(t0)s + ((k + 1) * l.len - g.gap) * INTERVAL '1 second' END,
                   0.9
            FROM generate_series(1, %(n)s) a
            CROSS JOIN LATERAL (SELECT CASE WHEN a %% 33 = 0 THEN %(span)s
                                       ELSE 3600 + abs(hashtext('L' || a)) %% 14400 END AS len
                               ) l
            CROSS JOIN LATERAL generate_series(0, ceil(%(span)s::numeric / l.len)::int - 1) k
            CROSS JOIN LATERAL (SELECT CASE WHEN abs(hashtext('g' || a || ':' || k)) %% 3 = 0
                                       THEN 300 ELSE 0 END AS gap,
                                       abs(hashtext('b' || a || ':' || k)) %% 100 AS b,
                                       abs(hashtext('r' || a || ':' || k)) AS h) g
            CROSS JOIN LATERAL (SELECT CASE WHEN g.b < 45 THEN 0 WHEN g.b < 85 THEN 1
                                       WHEN g.b < 95 THEN 2 ELSE 3 END AS grp) c
            JOIN bench_groups bg ON bg.grp = c.grp
            JOIN bench_rooms r ON r.grp = c.grp AND r.j = g.h %% bg.n""",
              {"t0": start_dt, "span": days * 86_400, "n": assets})
        _exec(conn, "current_location", """
            INSERT INTO current_location (tag, time, asset, site, building, level, room, x, y,
                                          accuracy_m, room_confidence, moving)
            SELECT DISTINCT ON (s.tag) s.tag,
                   CASE WHEN abs(hashtext('x' || s.tag)) %% 100 = 0
                        THEN %(end)s - INTERVAL '3 days'
                        ELSE %(end)s - INTERVAL '1 minute' END,
                   s.asset, s.site, 'A', s.level, s.room, 1, 1, 2, 0.9, false
            FROM stays s WHERE s.t_exit IS NULL AND abs(hashtext('n' || s.tag)) %% 200 <> 0
            ORDER BY s.tag, s.t_enter DESC""", {"end": end_dt})
        _exec(conn, "asset_state_hours", """
            INSERT INTO asset_state_hours (hour, asset, type, department, state, seconds, uses)
            SELECT h.hour, s.asset, a.type, a.department, r.state,
                   sum(extract(epoch FROM least(coalesce(s.t_exit, %(end)s),
                                                h.hour + INTERVAL '1 hour')
                                     - greatest(s.t_enter, h.hour))),
                   count(*) FILTER (WHERE r.state = 'in_use' AND s.t_enter >= h.hour)
            FROM stays s
            JOIN bench_rooms r ON r.id = s.room
            JOIN assets a ON a.id = s.asset
            CROSS JOIN LATERAL generate_series(
                date_trunc('hour', s.t_enter, 'UTC'),
                coalesce(s.t_exit, %(end)s) - INTERVAL '1 microsecond',
                INTERVAL '1 hour') AS h (hour)
            GROUP BY 1, 2, 3, 4, 5""", {"end": end_dt})
        _exec(conn, "asset_state_days", f"""
            INSERT INTO asset_state_days (day, asset, type, department, {DAY_COLUMNS}, uses)
            SELECT date_trunc('day', hour, %(tz)s), asset, max(type), max(department),
                   {_PER_STATE}, sum(uses)
            FROM asset_state_hours GROUP BY 1, asset""", {"tz": TZ})
        _exec(conn, "fleet_hours", """
            INSERT INTO fleet_hours (hour, type, department, assets, in_use_max, in_use_seconds,
                                     available_min, none_available_seconds)
            SELECT f.hour, f.type, coalesce(f.department, '*'), g.n, f.in_use, f.use_s,
                   f.avail, CASE WHEN f.avail = 0 THEN 3600 ELSE 0 END
            FROM (SELECT hour, type, department,
                         count(DISTINCT asset) FILTER (WHERE state = 'in_use') AS in_use,
                         coalesce(sum(seconds) FILTER (WHERE state = 'in_use'), 0) AS use_s,
                         count(*) FILTER (WHERE state = 'available' AND seconds >= 3599)
                             AS avail
                  FROM asset_state_hours GROUP BY GROUPING SETS ((hour, type, department),
                                                                 (hour, type))) f
            JOIN (SELECT type, department, count(*) AS n FROM assets
                  GROUP BY GROUPING SETS ((type, department), (type))) g
              ON g.type = f.type AND g.department IS NOT DISTINCT FROM f.department""")
        conn.execute("INSERT INTO report_rollup (id, tz, refreshed_to) VALUES (1, %s, %s)"
                     " ON CONFLICT (id) DO UPDATE SET refreshed_to = excluded.refreshed_to",
                     (TZ, end_dt))
        for table in ("stays", "asset_state_hours", "asset_state_days", "fleet_hours",
                      "assets", "current_location"):
            conn.execute(f"ANALYZE {table}".encode())


def _best(fn: Callable[[], Any], repeat: int) -> tuple[float, float, int]:
    times: list[float] = []
    n = 0
    for _ in range(repeat):
        t = time.perf_counter()
        out = fn()
        times.append(time.perf_counter() - t)
        n = len(out) if hasattr(out, "__len__") else 0
    return min(times), statistics.median(times), n


def measure(url: str, *, days: int, end: float, repeat: int) -> list[tuple[str, float, float,
                                                                           int]]:
    """Time each report; returns (name, best s, median s, rows)."""
    site = load_sample_site()
    graph = WalkingGraph.from_site(site)
    rules = StateRules.for_site(site)
    store = open_store(url, use_timescaledb=True)
    store.upgrade()
    t0 = end - days * 86_400.0
    ragged = (t0 + 10 * 3600.0, end - 14 * 3600.0)
    now = end + 60.0
    cases: list[tuple[str, Callable[[], Any]]] = [
        ("utilization by type, whole window", lambda: utilization(
            store, t0, end, by="type", now=now)),
        ("utilization by type, per day", lambda: utilization(
            store, t0, end, by="type", period="day", now=now)),
        ("utilization by department, per week", lambda: utilization(
            store, t0, end, by="department", period="week", now=now)),
        ("utilization by type and department, per month", lambda: utilization(
            store, t0, end, by="type_department", period="month", now=now)),
        ("utilization per asset (15,000 rows), whole window", lambda: utilization(
            store, t0, end, by="asset", now=now)),
        ("utilization by type, window not on midnights", lambda: utilization(
            store, ragged[0], ragged[1], by="type", now=now)),
        ("utilization of one type per asset, per week", lambda: utilization(
            store, t0, end, by="asset", period="week", type="infusion-pump", now=now)),
        ("fleet, every type and department", lambda: fleet(store, t0, end, now=now)),
        ("fleet, one type in one department", lambda: fleet(
            store, t0, end, type="infusion-pump", department="Medisin 3A", now=now)),
        ("rooms (heat map), one type, whole window", lambda: room_time(
            store, site, t0, end, type="infusion-pump", now=now)),
        ("rooms (heat map), one type, last 7 days", lambda: room_time(
            store, site, end - 7 * 86_400.0, end, type="infusion-pump", now=now)),
        ("forecast and moves, every type and department (8 weeks)",
         lambda: forecast_with_moves(store, site, weeks=8, tz=TZ, now=now)[0]),
        ("idle (7 days)", lambda: idle(store, site, days=7, now=now)),
        ("missing (24 hours)", lambda: missing(store, site, hours=24, now=now)),
        ("maintenance (14 days), walking route", lambda: maintenance(
            store, site, days=14, graph=graph, now=now, start_room=site.rooms[0].id)),
    ]
    out = []
    try:
        for name, fn in cases:
            fn()  # warm the connection pool and caches
            best, med, n = _best(fn, repeat)
            out.append((name, best, med, n))
            print(f"  {name}: best {best:.3f} s, median {med:.3f} s, {n} rows", file=sys.stderr)
        hour_end = end
        res = refresh_rollup(store, rules, hour_end - 3600.0, hour_end, now=hour_end, tz=TZ)
        t = time.perf_counter()
        res = refresh_rollup(store, rules, hour_end - 3600.0, hour_end, now=hour_end, tz=TZ)
        took = time.perf_counter() - t
        out.append((f"refresh of the last hour ({res.assets} assets, {res.stays} stays)",
                    took, took, res.hour_rows))
    finally:
        store.close()
    return out


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--assets", type=int, default=15_000)
    ap.add_argument("--days", type=int, default=30)
    ap.add_argument("--repeat", type=int, default=5)
    ap.add_argument("--database", default=None,
                    help="database to build in (default: a new sporing_bench_reports database)")
    ap.add_argument("--reuse", action="store_true", help="time an already built database")
    args = ap.parse_args()
    # The window ends at a local midnight, so whole days come from asset_state_days.
    today = dt.datetime.now(zone(TZ)).date()
    end = dt.datetime(today.year, today.month, today.day, tzinfo=zone(TZ)).timestamp()
    url = args.database or _db_url("sporing_bench_reports")
    if not args.reuse:
        if args.database is None:
            with psycopg.connect(_admin_url(), autocommit=True) as c:
                c.execute(b'DROP DATABASE IF EXISTS "sporing_bench_reports" WITH (FORCE)')
                c.execute(b'CREATE DATABASE "sporing_bench_reports"')
        t = time.perf_counter()
        build(url, assets=args.assets, days=args.days, end=end)
        print(f"built in {time.perf_counter() - t:.0f} s", file=sys.stderr)
    with psycopg.connect(url) as c:
        sizes = {t: c.execute(f"SELECT count(*) FROM {t}".encode()).fetchone()
                 for t in ("stays", "asset_state_hours", "asset_state_days", "fleet_hours")}
    print(f"\n{args.assets} assets, {args.days} days: "
          + ", ".join(f"{t} {v[0] if v else 0:,} rows" for t, v in sizes.items()) + "\n")
    print("| report | best | median | rows |")
    print("|---|---:|---:|---:|")
    for name, best, med, n in measure(url, days=args.days, end=end, repeat=args.repeat):
        print(f"| {name} | {best:.3f} s | {med:.3f} s | {n:,} |")


if __name__ == "__main__":
    main()
