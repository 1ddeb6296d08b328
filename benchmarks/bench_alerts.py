"""Alert engine cost per tick: :meth:`AlertEngine.update` (taking in a tick's fixes, stays and
battery levels) and :meth:`AlertEngine.evaluate` (five rules judged over every asset), the two
calls :class:`tracker.alerts.runner.AlertRunner` makes in the pipeline's tick thread.

The site is the sample hospital; every asset has a paired tag, a fix in a random room of its
building, an open stay there and a battery level (worst case for the rules that scan them).
The five rules are those of the example in ``docs/alerts.md`` that look at assets: a geofence,
a restricted area, a par level (one room and one department), missing and low battery.

Scale with SPORING_BENCH_ALERT_ASSETS (default 15,000 assets). Run::

    python -m pytest benchmarks/bench_alerts.py --benchmark-only -q -s
"""

from __future__ import annotations

import os
import random
from typing import Any

import pytest

from floorplans.model import Site
from floorplans.sample import load_sample_site
from tracker.alerts.engine import AlertEngine
from tracker.alerts.rules import parse_config
from tracker.alerts.runner import AssetRegistry
from tracker.assets import Asset
from tracker.records import FixRecord, StayRecord

ASSETS = int(os.environ.get("SPORING_BENCH_ALERT_ASSETS", "15000"))
T0 = 1_764_147_600.0  # 2025-11-26T09:00:00Z
TYPES = ("bed", "infusion_pump", "wheelchair", "patient_monitor", "ventilator")
RULES = {"rules": [
    {"id": "beds-stay-in-a", "kind": "geofence", "asset_types": ["bed"], "buildings": ["A"],
     "exit_rooms": ["A1.G00"], "raise_after_s": 30},
    {"id": "pumps-kirurgi-1a", "kind": "par_level", "asset_type": "infusion_pump",
     "minimum": 4, "rooms": ["A1.112"], "departments": ["Kirurgi 1A"], "raise_after_s": 300,
     "clear_after_s": 120},
    {"id": "no-beds-in-theatres", "kind": "restricted_area", "asset_types": ["bed"],
     "categories": ["operating_room"]},
    {"id": "missing-24h", "kind": "missing", "after_h": 24},
    {"id": "tag-battery", "kind": "low_battery", "below_pct": 15},
]}


class Tick:
    """One pipeline tick's worth of facts for every asset."""

    def __init__(self, site: Site, n: int, seed: int = 11) -> None:
        rng = random.Random(seed)
        departments = sorted({r.department for r in site.rooms if r.department})
        rooms = [r for r in site.rooms if r.category not in ("elevator", "stairs")]
        self.assets = [Asset(f"asset-{i:05d}", f"Asset {i}", type=TYPES[i % len(TYPES)],
                             department=rng.choice(departments), tags=(f"tag-{i:05d}",))
                       for i in range(n)]
        self.fixes: list[FixRecord] = []
        self.stays: list[StayRecord] = []
        for a in self.assets:
            room = rng.choice(rooms)
            level = site.level(room.level)
            # 1 % not heard for two days (missing), the rest in the last minute.
            ts = T0 - (48 * 3600.0 if rng.random() < 0.01 else rng.uniform(0.0, 60.0))
            self.fixes.append(FixRecord(
                ts=ts, tag=a.tags[0], asset=a.id, site=site.id, building=level.building,
                level=level.id, room=room.id, x=1.0, y=2.0, accuracy_m=1.5,
                room_confidence=0.9, moving=rng.random() < 0.1))
            self.stays.append(StayRecord(tag=a.tags[0], asset=a.id, site=site.id,
                                         level=level.id, room=room.id, t_enter=ts - 600.0,
                                         t_exit=None, confidence=0.9))
        self.batteries = {a.tags[0]: rng.uniform(5.0, 100.0) for a in self.assets}


@pytest.fixture(scope="module")
def site() -> Site:
    return load_sample_site()


@pytest.fixture(scope="module")
def tick(site: Site) -> Tick:
    return Tick(site, ASSETS)


def _engine(site: Site, tick: Tick) -> tuple[AlertEngine, AssetRegistry]:
    engine = AlertEngine(parse_config(RULES).active_rules, site)
    registry = AssetRegistry(tick.assets)
    engine.update(fixes=tick.fixes, stays=tick.stays, batteries=tick.batteries)
    engine.evaluate(T0, registry)  # the alerts that hold are raised: the steady state follows
    return engine, registry


def _report(benchmark: Any, what: str, **extra: Any) -> None:
    mean = benchmark.stats.stats.mean
    benchmark.extra_info.update({"assets": ASSETS, "rules": len(RULES["rules"]), **extra})
    print(f"\n{what}: {mean * 1e3:.1f} ms per call ({ASSETS} assets, "
          f"{len(RULES['rules'])} rules)")


def test_update_per_tick(benchmark: Any, site: Site, tick: Tick) -> None:
    """A tick hands over a fix of every asset, 1 % of the stays and 1 % of the batteries."""
    engine, _ = _engine(site, tick)
    k = max(1, ASSETS // 100)
    stays, batteries = tick.stays[:k], dict(list(tick.batteries.items())[:k])
    benchmark(engine.update, fixes=tick.fixes, stays=stays, batteries=batteries)
    assert len(engine.world.fixes) == ASSETS
    _report(benchmark, "AlertEngine.update", fixes=ASSETS, stays=k, batteries=k)


def test_evaluate_five_rules(benchmark: Any, site: Site, tick: Tick) -> None:
    """One evaluation of the five rules over every asset, as every ``evaluate_every_s``."""
    engine, registry = _engine(site, tick)
    transitions = benchmark(engine.evaluate, T0 + 1.0, registry)
    assert engine.active()  # some alerts hold (missing, low battery, ...) and stay raised
    _report(benchmark, "AlertEngine.evaluate", active=len(engine.active()),
            transitions=len(transitions))
