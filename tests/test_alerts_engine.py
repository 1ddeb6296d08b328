"""The alert engine: each rule raises and clears, one alert per key, hold times against
flapping, resuming open alerts. Hand-built fixes and stays on the sample hospital."""

from __future__ import annotations

import pytest

from floorplans.model import Site
from floorplans.sample import load_sample_site
from tests.alertutil import T0, events, fix, lookup, stay
from tracker.alerts.conditions import World
from tracker.alerts.engine import AlertEngine
from tracker.alerts.rules import (
    AlertsConfig,
    AssetSelector,
    GatewayOfflineRule,
    GeofenceRule,
    LowBatteryRule,
    MissingRule,
    ParLevelRule,
    RestrictedAreaRule,
    Rule,
)
from tracker.records import GatewayStatusRecord

BEDS = AssetSelector(types=frozenset({"bed"}))
PUMPS = AssetSelector(types=frozenset({"infusion_pump"}))


@pytest.fixture(scope="module")
def site() -> Site:
    return load_sample_site()


def status(gw: str, ts: float, online: bool) -> GatewayStatusRecord:
    return GatewayStatusRecord(ts, gw, online, 1.0, 10.0, ts if online else ts - 120)


# ------------------------------------------------------------------------------- each rule
def test_geofence_building_and_exit_room(site: Site) -> None:
    rule = GeofenceRule(id="beds-in-a", select=BEDS, buildings=frozenset({"A"}),
                        exit_rooms=frozenset({"A1.G00"}), severity="critical")
    e = AlertEngine([rule], site)
    assert e.observe(T0, assets=lookup, fixes=[fix(site, "bed-1", "A1.101", T0),
                                               fix(site, "pump-1", "B1.101", T0)]) == []
    raised = e.observe(T0 + 10, assets=lookup, fixes=[fix(site, "bed-1", "B1.101", T0 + 10)])
    assert events(raised) == [("raised", "beds-in-a", "bed-1")]
    r = raised[0]
    assert r.severity == "critical" and r.kind == "geofence" and r.at == r.since == T0 + 10
    assert "Seng 1 (bed-1) left its area" in r.message and "B1.101" in r.message
    assert r.details["building"] == "B" and r.details["asset_type"] == "bed"
    resolved = e.observe(T0 + 20, assets=lookup, fixes=[fix(site, "bed-1", "A1.101", T0 + 20)])
    assert events(resolved) == [("resolved", "beds-in-a", "bed-1")]
    exit_ = e.observe(T0 + 30, assets=lookup, fixes=[fix(site, "bed-1", "A1.G00", T0 + 30)])
    assert events(exit_) == [("raised", "beds-in-a", "bed-1")]
    assert "entered an exit" in exit_[0].message
    assert e.active() == [("beds-in-a", "bed-1")]


def test_geofence_department_ignores_rooms_without_a_department(site: Site) -> None:
    rule = GeofenceRule(id="beds-kir-1a", select=BEDS, departments=frozenset({"Kirurgi 1A"}))
    e = AlertEngine([rule], site)

    def at(room: str | None, dt: float) -> list[tuple[str, str, str]]:
        return events(e.observe(T0 + dt, assets=lookup,
                                fixes=[fix(site, "bed-2", room, T0 + dt, level="A1")]))

    assert at("A1.101", 0) == []
    assert at("A1.000", 1) == []            # the ward's corridor has no department
    assert at(None, 2) == []                # between rooms
    assert at("A1.201", 3) == [("raised", "beds-kir-1a", "bed-2")]  # Kirurgi 1B
    assert at("A1.000", 4) == []            # still outside as far as anyone knows
    assert at("A1.116", 5) == [("resolved", "beds-kir-1a", "bed-2")]


def test_restricted_area_by_room_and_category(site: Site) -> None:
    rule = RestrictedAreaRule(id="no-pumps-in-or", select=PUMPS,
                              rooms=frozenset({"A1.113"}),
                              categories=frozenset({"operating_room"}))
    e = AlertEngine([rule], site)
    theatre = next(r.id for r in site.rooms if r.category == "operating_room")
    assert e.observe(T0, assets=lookup, fixes=[fix(site, "pump-1", "A1.112", T0),
                                               fix(site, "bed-1", theatre, T0)]) == []
    got = e.observe(T0 + 1, assets=lookup, fixes=[fix(site, "pump-1", "A1.113", T0 + 1),
                                                   fix(site, "pump-2", theatre, T0 + 1)])
    assert events(got) == [("raised", "no-pumps-in-or", "pump-1"),
                           ("raised", "no-pumps-in-or", "pump-2")]
    assert "restricted area" in got[0].message and "A1.113" in got[0].message
    got = e.observe(T0 + 2, assets=lookup, fixes=[fix(site, "pump-1", None, T0 + 2,
                                                      level="A1")])
    assert events(got) == [("resolved", "no-pumps-in-or", "pump-1")]


def test_par_level_in_a_room_counts_available_assets_from_stays(site: Site) -> None:
    rule = ParLevelRule(id="pumps-1a", asset_type="infusion_pump", minimum=2,
                        rooms=("A1.112",))
    e = AlertEngine([rule], site)
    t = T0
    got = e.observe(t, assets=lookup,
                    fixes=[fix(site, "pump-1", "A1.112", t), fix(site, "pump-2", "A1.112", t)],
                    stays=[stay(site, "pump-1", "A1.112", t), stay(site, "pump-2", "A1.112", t)])
    assert got == []
    # pump-2 is taken to a patient room: one left, below par.
    got = e.observe(t + 60, assets=lookup, fixes=[fix(site, "pump-2", "A1.101", t + 60)],
                    stays=[stay(site, "pump-2", "A1.112", t, t + 60),
                           stay(site, "pump-2", "A1.101", t + 60)])
    assert events(got) == [("raised", "pumps-1a", "A1.112")]
    assert got[0].details == {"asset_type": "infusion_pump", "available": 1, "minimum": 2,
                              "assets": ["pump-1"]}
    assert "1 available infusion_pump in Rent lager 1.112 (A1.112), par level 2" in \
        got[0].message
    # A pump in repair and a pump still moving in the room do not count.
    got = e.observe(t + 120, assets=lookup,
                    fixes=[fix(site, "pump-9", "A1.112", t + 120),
                           fix(site, "pump-3", "A1.112", t + 120, moving=True)],
                    stays=[stay(site, "pump-9", "A1.112", t + 120),
                           stay(site, "pump-3", "A1.112", t + 120)])
    assert got == []
    got = e.observe(t + 130, assets=lookup, fixes=[fix(site, "pump-3", "A1.112", t + 130)])
    assert events(got) == [("resolved", "pumps-1a", "A1.112")]


def test_par_level_of_a_department_sums_its_rooms(site: Site) -> None:
    rule = ParLevelRule(id="pumps-dept", asset_type="infusion_pump", minimum=3,
                        departments=("Kirurgi 1A",))
    e = AlertEngine([rule], site)
    t = T0
    stays = [stay(site, "pump-1", "A1.112", t), stay(site, "pump-2", "A1.115", t)]
    fixes = [fix(site, "pump-1", "A1.112", t), fix(site, "pump-2", "A1.115", t)]
    got = e.observe(t, assets=lookup, fixes=fixes, stays=stays)
    assert events(got) == [("raised", "pumps-dept", "department:Kirurgi 1A")]
    assert got[0].details["available"] == 2
    assert "department Kirurgi 1A" in got[0].message
    got = e.observe(t + 5, assets=lookup, fixes=[fix(site, "pump-3", "A1.115", t + 5)],
                    stays=[stay(site, "pump-3", "A1.115", t + 5)])
    assert events(got) == [("resolved", "pumps-dept", "department:Kirurgi 1A")]


def test_par_level_does_not_count_assets_unheard_for_long(site: Site) -> None:
    rule = ParLevelRule(id="pumps-1a", asset_type="infusion_pump", minimum=1,
                        rooms=("A1.112",))
    e = AlertEngine([rule], site)
    got = e.observe(T0, assets=lookup, fixes=[fix(site, "pump-1", "A1.112", T0)],
                    stays=[stay(site, "pump-1", "A1.112", T0)])
    assert got == []
    # Still an open stay, but not heard for more than the state map's stale_after_s (1 h).
    assert events(e.observe(T0 + 3700, assets=lookup)) == [("raised", "pumps-1a", "A1.112")]


def test_missing_asset(site: Site) -> None:
    rule = MissingRule(id="missing-4h", after_h=1.0)
    e = AlertEngine([rule], site)
    e.observe(T0, assets=lookup, fixes=[fix(site, "pump-1", "A1.112", T0),
                                        fix(site, "pump-9", "A1.112", T0)])
    assert e.observe(T0 + 3000, assets=lookup) == []
    got = e.observe(T0 + 3601, assets=lookup)
    assert events(got) == [("raised", "missing-4h", "pump-1")]  # pump-9 is in repair
    assert "not seen for 1.0 h" in got[0].message and "A1.112" in got[0].message
    assert got[0].details["room"] == "A1.112" and got[0].details["seen_at"] == T0
    got = e.observe(T0 + 4000, assets=lookup, fixes=[fix(site, "pump-1", "A1.101", T0 + 4000)])
    assert events(got) == [("resolved", "missing-4h", "pump-1")]


def test_gateway_offline(site: Site) -> None:
    rule = GatewayOfflineRule(id="gw-a1", levels=frozenset({"A1"}))
    e = AlertEngine([rule], site)
    assert e.observe(T0, assets=lookup, statuses=[status("gw-a1-001", T0, True),
                                                  status("gw-b1-001", T0, False)]) == []
    got = e.observe(T0 + 30, assets=lookup, statuses=[status("gw-a1-001", T0 + 30, False)])
    assert events(got) == [("raised", "gw-a1", "gw-a1-001")]
    assert got[0].details["level"] == "A1" and got[0].details["room"] == "A1.111"
    assert "gateway gw-a1-001 is offline" in got[0].message
    assert e.observe(T0 + 31, assets=lookup, statuses=[status("gw-a1-001", T0 - 5, True)]) \
        == []  # an older status does not override the newer one
    got = e.observe(T0 + 60, assets=lookup, statuses=[status("gw-a1-001", T0 + 60, True)])
    assert events(got) == [("resolved", "gw-a1", "gw-a1-001")]


def test_low_battery_when_the_format_carries_it(site: Site) -> None:
    rule = LowBatteryRule(id="battery", below_pct=20.0, select=PUMPS)
    e = AlertEngine([rule], site)
    e.observe(T0, assets=lookup, fixes=[fix(site, "pump-1", "A1.112", T0),
                                        fix(site, "bed-1", "A1.101", T0)])
    assert e.observe(T0 + 1, assets=lookup) == []  # no format reported a battery level
    got = e.observe(T0 + 2, assets=lookup,
                    batteries={"t-pump-1": 15.0, "t-bed-1": 5.0, "t-unknown": 1.0})
    assert events(got) == [("raised", "battery", "t-pump-1")]  # beds and unpaired: not watched
    assert got[0].details == {"tag": "t-pump-1", "asset": "pump-1", "battery_pct": 15.0}
    got = e.observe(T0 + 3, assets=lookup, batteries={"t-pump-1": 95.0})
    assert events(got) == [("resolved", "battery", "t-pump-1")]
    assert e.world.batteries == {"t-bed-1": 5.0, "t-unknown": 1.0, "t-pump-1": 95.0}


def test_battery_levels_held_are_bounded_silent_tags_forgotten_first(site: Site) -> None:
    e = AlertEngine([LowBatteryRule(id="battery", below_pct=20.0)], site)
    e.world.max_batteries = 2
    e.update(batteries={"a": 10.0, "b": 50.0})
    e.update(batteries={"a": 11.0, "c": 60.0})  # b reported the longest ago
    assert e.world.batteries == {"a": 11.0, "c": 60.0}
    assert events(e.evaluate(T0, lookup)) == [("raised", "battery", "a")]
    with pytest.raises(ValueError, match="max_batteries"):
        World(site, e.world.state_map, max_batteries=0)


# ------------------------------------------------------------------------------- lifecycle
def test_a_condition_holding_for_100_ticks_is_one_alert(site: Site) -> None:
    rule = RestrictedAreaRule(id="r", select=PUMPS, rooms=frozenset({"A1.113"}))
    e = AlertEngine([rule], site)
    out = []
    for k in range(100):
        out += e.observe(T0 + k, assets=lookup, fixes=[fix(site, "pump-1", "A1.113", T0 + k)])
    assert events(out) == [("raised", "r", "pump-1")]
    out = e.observe(T0 + 100, assets=lookup, fixes=[fix(site, "pump-1", "A1.112", T0 + 100)])
    for k in range(101, 200):
        out += e.observe(T0 + k, assets=lookup, fixes=[fix(site, "pump-1", "A1.113", T0 + k)])
    # Re-raised only after it resolved: a second alert.
    assert events(out) == [("resolved", "r", "pump-1"), ("raised", "r", "pump-1")]


def test_flapping_is_suppressed_by_the_hold_times(site: Site) -> None:
    rule = RestrictedAreaRule(id="r", select=PUMPS, rooms=frozenset({"A1.113"}),
                              raise_after_s=10.0, clear_after_s=30.0)
    e = AlertEngine([rule], site)

    def at(k: float, room: str) -> list[tuple[str, str, str]]:
        return events(e.observe(T0 + k, assets=lookup,
                                fixes=[fix(site, "pump-1", room, T0 + k)]))

    # On the edge of the restricted room, flipping every 3 s for 100 s: never 10 s inside.
    flaps = [ev for k in range(100)
             for ev in at(k, "A1.113" if (k // 3) % 2 == 0 else "A1.112")]
    assert flaps == []
    # Inside for good: raised once 10 s after it entered, with the time it entered.
    out = [ev for k in range(100, 120) for ev in at(k, "A1.113")]
    assert out == [("raised", "r", "pump-1")]
    # Out for 20 s (less than clear_after_s), back in: the alert simply stays raised.
    out = [ev for k in range(120, 140) for ev in at(k, "A1.112")]
    out += [ev for k in range(140, 160) for ev in at(k, "A1.113")]
    assert out == []
    # Out for 30 s: resolved.
    out = [ev for k in range(160, 200) for ev in at(k, "A1.112")]
    assert out == [("resolved", "r", "pump-1")]


def test_raise_reports_when_the_condition_began(site: Site) -> None:
    rule = RestrictedAreaRule(id="r", select=PUMPS, rooms=frozenset({"A1.113"}),
                              raise_after_s=10.0)
    e = AlertEngine([rule], site)
    got = []
    for k in range(15):
        got += e.observe(T0 + k, assets=lookup, fixes=[fix(site, "pump-1", "A1.113", T0 + k)])
    assert len(got) == 1 and got[0].since == T0 and got[0].at == T0 + 10


def test_resumed_alerts_are_not_raised_again_and_resolve(site: Site) -> None:
    rule = RestrictedAreaRule(id="r", select=PUMPS, rooms=frozenset({"A1.113"}))
    e = AlertEngine([rule], site)
    assert e.resume([("r", "pump-1"), ("gone-rule", "x")], since=T0 - 600) == 1
    assert e.observe(T0, assets=lookup, fixes=[fix(site, "pump-1", "A1.113", T0)]) == []
    got = e.observe(T0 + 1, assets=lookup, fixes=[fix(site, "pump-1", "A1.112", T0 + 1)])
    assert events(got) == [("resolved", "r", "pump-1")]
    assert got[0].details == {"active_since": T0 - 600}


def test_disabled_rules_and_unregistered_assets_are_ignored(site: Site) -> None:
    off = RestrictedAreaRule(id="off", rooms=frozenset({"A1.113"}), enabled=False)
    on = RestrictedAreaRule(id="on", rooms=frozenset({"A1.113"}))
    e = AlertEngine(AlertsConfig(rules=(off, on)).active_rules, site)  # as the runner does
    got = e.observe(T0, assets=lookup, fixes=[fix(site, "pump-1", "A1.113", T0),
                                              fix(site, "ghost", "A1.113", T0)])
    assert events(got) == [("raised", "on", "pump-1")]


def test_the_engine_is_deterministic(site: Site) -> None:
    rules: list[Rule] = [MissingRule(id="m", after_h=0.005),
                         RestrictedAreaRule(id="r", rooms=frozenset({"A1.113"}),
                                            raise_after_s=2.0)]
    runs = []
    for _ in range(2):
        e = AlertEngine(rules, site)
        out = []
        for k in range(0, 120, 3):
            room = "A1.113" if k < 60 else "A1.112"
            out += e.observe(T0 + k, assets=lookup, fixes=[fix(site, "pump-1", room, T0 + k)]
                             if k < 90 else [])
        runs.append(out)
    assert runs[0] == runs[1]
    assert [(t.event, t.rule) for t in runs[0]] == [("raised", "r"), ("resolved", "r"),
                                                   ("raised", "m")]
