"""Utilization from the engine's stays vs. the simulator's ground truth (docs/reports.md).

Simulates the sample hospital (``--assets``, ``--hours`` from ``--start``, ``--seed``) and feeds
its readings, step by step as the live pipeline does, to the streaming engine and the stay
tracker. The stays go into ``--database`` (default ``$SPORING_DATABASE_URL``: the real
TimescaleDB). The simulator's ground truth (the room each asset is really in, every 10 s and
whenever it moves) becomes *true stays* in a second store (SQLite). Both rollups are refreshed
with the same rules and the same utilization report is run on each; the table shows the
percentage of time in each state per type, measured and true, and the difference in
percentage points. Deterministic for a seed. Usage::

    python scripts/report_vs_truth.py --assets 200 --hours 24 --seed 2
"""

from __future__ import annotations

import argparse
import datetime as dt
import os
import sys
import tempfile
import time
from collections.abc import Iterator, Sequence
from dataclasses import dataclass, replace
from pathlib import Path

import numpy as np

from floorplans.model import Site
from floorplans.sample import generate_hospital, load_sample_site
from gateway.canonical import ReadingBatch
from positioning.engine import EngineConfig, StreamingEngine
from positioning.radiomap import RadioMapParams
from simulator.assets import ASSET_TYPES
from simulator.config import load_scenario
from simulator.engine import Simulation
from tracker.assets import Asset
from tracker.availability import AssetState, StateMap
from tracker.records import StayRecord, WriteBatch
from tracker.reports.rollup import refresh_rollup
from tracker.reports.states import StateRules
from tracker.reports.utilization import UtilizationRow, utilization
from tracker.stays import StayTracker
from tracker.store import Store, open_store

STATES = (AssetState.IN_USE, AssetState.AVAILABLE, AssetState.NEEDS_CLEANING,
          AssetState.IN_TRANSIT, AssetState.NOT_SEEN)


@dataclass(frozen=True, slots=True)
class Simulated:
    """Assets and stays of one simulated run.

    Attributes:
        truth_samples: Per type, per state, the number of 10-second ground-truth samples
            (every asset's true room every 10 s, mapped straight to a state): an independent
            estimate of the true utilization, to check the report on the true stays against.
    """

    assets: list[Asset]
    engine_stays: list[StayRecord]
    truth_stays: list[StayRecord]
    t0: float
    t1: float
    truth_samples: dict[str, dict[str, int]]


@dataclass(frozen=True, slots=True)
class Comparison:
    """Measured vs. true utilization of one type (``type`` "all": the whole fleet)."""

    type: str
    assets: int
    measured: dict[str, float]
    truth: dict[str, float]

    def diff(self, state: AssetState) -> float:
        """Measured minus true, percentage points."""
        return self.measured[state.value] - self.truth[state.value]


class _TruthStays:
    """True stays from the simulator's ground truth (room index per record)."""

    def __init__(self, site_id: str, asset_of: dict[str, str]) -> None:
        self.site_id, self.asset_of = site_id, asset_of
        self.open: dict[str, tuple[str, str | None, float]] = {}
        self.done: list[StayRecord] = []

    def observe(self, ts: float, tag: str, room: str | None, level: str | None) -> None:
        cur = self.open.get(tag)
        if cur is not None and cur[0] == room:
            return
        if cur is not None:
            self.done.append(self._stay(tag, cur, ts))
            del self.open[tag]
        if room is not None:
            self.open[tag] = (room, level, ts)

    def _stay(self, tag: str, cur: tuple[str, str | None, float], t_exit: float | None
              ) -> StayRecord:
        return StayRecord(tag, self.asset_of.get(tag), self.site_id, cur[1], cur[0], cur[2],
                          t_exit, 1.0)

    def all(self) -> list[StayRecord]:
        return self.done + [self._stay(t, c, None) for t, c in self.open.items()]


def simulate(site: Site, *, assets: int, hours: float, seed: int, start: str,
             tick_s: float = 1.0, config: EngineConfig | None = None) -> Simulated:
    """Run the simulation, the engine and the stay tracker; collect both sets of stays."""
    scenario = replace(load_scenario("hospital-day")[0], assets=assets,
                       duration_s=hours * 3600.0, seed=seed, start=start)
    sim = Simulation(site, scenario)
    fleet = sim.fleet
    registry: list[Asset] = []
    asset_of: dict[str, str] = {}
    for i, aid in enumerate(fleet.ids):
        ti = int(fleet.type_index[i])
        if ti < 0:  # fixed reference tags are not assets
            continue
        registry.append(Asset(id=aid, name=aid, type=ASSET_TYPES[ti].name,
                              department=fleet.department[i], tags=(fleet.tags[i],)))
        asset_of[fleet.tags[i]] = aid
    engine = StreamingEngine(site, config or EngineConfig(), index=sim.index)
    tracker = StayTracker(site.id, lambda tag, _ts: asset_of.get(tag))
    truth = _TruthStays(site.id, asset_of)
    gids, tags = sim.gateway_ids, fleet.tags
    room_ids, level_ids = sim.index.room_ids, sim.index.level_ids
    stays: list[StayRecord] = []
    samples: dict[str, dict[str, int]] = {}
    state_map, type_of = StateMap(), {a.tags[0]: a.type or "" for a in registry}
    next_tick = sim.epoch0 + tick_s
    for tick in sim.ticks(truth_every_s=10.0):
        every = len(tick.truth) == len(fleet)
        for k, a in enumerate(tick.truth.tolist()):
            if tags[a] not in asset_of:
                continue
            r = int(tick.truth_room[k])
            room = room_ids[r] if r >= 0 else None
            truth.observe(tick.t0, tags[a], room,
                          level_ids[int(tick.truth_level[k])] if r >= 0 else None)
            if every:
                state = (AssetState.NOT_SEEN if r == -3 else
                         state_map.of_category(site.room(room).category if room else None))
                per = samples.setdefault(type_of[tags[a]], {})
                per[state.value] = per.get(state.value, 0) + 1
        n = len(tick)
        engine.add_batch(ReadingBatch(tick.ts, tick.gateway.astype(np.int32),
                                      tick.tag.astype(np.int32), tick.rssi, tick.range_m,
                                      np.full(n, np.nan), gids, tags))
        while next_tick <= tick.t1 + 1e-9:
            stays.extend(tracker.update(engine.tick(next_tick)))
            next_tick += tick_s
    t1 = sim.epoch0 + scenario.duration_s
    return Simulated(registry, stays, truth.all(), sim.epoch0, t1, samples)


def _load(store: Store, assets: Sequence[Asset], stays: Sequence[StayRecord]) -> None:
    store.upgrade()
    store.upsert_assets(assets, at=0.0)
    for i in range(0, len(stays), 5000):
        store.write(WriteBatch(stays=stays[i:i + 5000]))


def _pct(rows: Sequence[UtilizationRow]) -> dict[str, float]:
    total = sum(r.seconds for r in rows)
    return {s.value: 100.0 * sum(r.state_seconds[s.value] for r in rows) / total
            for s in STATES} if total else {s.value: 0.0 for s in STATES}


def compare(site: Site, run: Simulated, measured: Store, truth: Store) -> list[Comparison]:
    """Load both stores, refresh both rollups and compare utilization per type."""
    _load(measured, run.assets, run.engine_stays)
    _load(truth, run.assets, run.truth_stays)
    return report(site, measured, truth, run.t0, run.t1)


def report(site: Site, measured: Store, truth: Store, t0: float, t1: float,
           rules: StateRules | None = None) -> list[Comparison]:
    """Refresh both rollups over ``[t0, t1)`` and compare utilization per type."""
    rules = rules or StateRules.for_site(site)
    result: dict[str, list[list[UtilizationRow]]] = {}
    for store in (measured, truth):
        refresh_rollup(store, rules, t0, t1, now=t1)
        for row in utilization(store, t0, t1, by="type", now=t1):
            result.setdefault(row.type or "", [[], []])[store is truth].append(row)
    counts: dict[str, int] = {}
    for (typ,) in measured.query("SELECT type FROM assets WHERE status <> 'retired'"):
        counts[typ or ""] = counts.get(typ or "", 0) + 1
    out = [Comparison(t, counts.get(t, 0), _pct(m), _pct(tr))
           for t, (m, tr) in sorted(result.items())]
    every = [r for m, _ in result.values() for r in m]
    every_t = [r for _, tr in result.values() for r in tr]
    out.append(Comparison("all", sum(counts.values()), _pct(every), _pct(every_t)))
    return out


def table(rows: Sequence[Comparison]) -> Iterator[str]:
    """Markdown table: measured / true % per state, and the largest difference."""
    head = " | ".join(s.value.replace("_", " ") for s in STATES)
    yield f"| type | assets | {head} | largest difference |"
    yield "|---|---:|" + "---:|" * len(STATES) + "---:|"
    for c in rows:
        cells = " | ".join(f"{c.measured[s.value]:.1f} / {c.truth[s.value]:.1f}" for s in STATES)
        worst = max(STATES, key=lambda s: abs(c.diff(s)))
        yield (f"| {c.type} | {c.assets} | {cells} | {c.diff(worst):+.1f} pp"
               f" ({worst.value.replace('_', ' ')}) |")


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--assets", type=int, default=200)
    ap.add_argument("--hours", type=float, default=24.0)
    ap.add_argument("--seed", type=int, default=2)
    ap.add_argument("--start", default="2025-11-26T00:00:00+01:00")
    ap.add_argument("--database", default=os.environ.get("SPORING_DATABASE_URL"),
                    help="an empty database for the measured stays (default"
                         " $SPORING_DATABASE_URL)")
    ap.add_argument("--truth-database", default=None, metavar="URL",
                    help="an empty database for the true stays (default: a temporary SQLite)")
    ap.add_argument("--patient-room-gateways", action="store_true",
                    help="the room-level layout: a gateway in every patient room too")
    ap.add_argument("--radio-exponent", type=float, default=RadioMapParams().path_loss_exponent,
                    help="path-loss exponent of the engine's radio map (default: the engine's)")
    ap.add_argument("--reuse", action="store_true",
                    help="compare the stays already in both databases (needs"
                         " --truth-database) instead of simulating again")
    args = ap.parse_args()
    if not args.database:
        sys.exit("error: pass --database URL or set SPORING_DATABASE_URL")
    if args.truth_database and args.truth_database.rstrip("/") == args.database.rstrip("/"):
        sys.exit("error: --truth-database must be another database than --database (the true "
                 "and the measured stays would be mixed in one table)")
    site = (generate_hospital(patient_room_gateways=True) if args.patient_room_gateways
            else load_sample_site())
    if args.reuse:
        if not args.truth_database:
            sys.exit("error: --reuse needs --truth-database")
        t0 = dt.datetime.fromisoformat(args.start).timestamp()
        measured, truth = open_store(args.database), open_store(args.truth_database)
        try:
            rows = report(site, measured, truth, t0, t0 + args.hours * 3600.0)
        finally:
            truth.close()
            measured.close()
        _print(args, rows)
        return
    t = time.time()
    config = EngineConfig(radio_map_params=RadioMapParams(
        path_loss_exponent=args.radio_exponent))
    run = simulate(site, assets=args.assets, hours=args.hours, seed=args.seed, start=args.start,
                   config=config)
    print(f"simulated and positioned in {time.time() - t:.0f} s: {len(run.engine_stays)} stay"
          f" records measured, {len(run.truth_stays)} true stays", file=sys.stderr)
    measured = open_store(args.database)
    with tempfile.TemporaryDirectory() as tmp:
        truth = open_store(args.truth_database or f"sqlite:///{Path(tmp) / 'truth.db'}")
        try:
            rows = compare(site, run, measured, truth)
        finally:
            truth.close()
            measured.close()
    _print(args, rows)


def _print(args: argparse.Namespace, rows: Sequence[Comparison]) -> None:
    print(f"\n{rows[-1].assets} assets, {args.hours:g} simulated hours from {args.start},"
          f" seed {args.seed}; measured / true % of time\n")
    for line in table(rows):
        print(line)


if __name__ == "__main__":
    main()
