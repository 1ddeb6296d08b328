"""Domain logic of the porter lookup: states, indexes and walking-distance ranking on the
sample hospital (tracker.lookup, no HTTP)."""

from __future__ import annotations

import pytest
from shapely.geometry import Point

from floorplans.model import Site
from floorplans.sample import load_sample_site
from tracker.assets import Asset
from tracker.availability import AssetState, StateMap
from tracker.lookup import (
    WALKING_SPEED_M_S,
    Fleet,
    Locations,
    Registry,
    Wayfinder,
    canonical_tag,
    diff_locations,
    fold,
    place,
    type_key,
)
from tracker.records import FixRecord

NOW = 1_750_000_000.0
STATES = StateMap()


@pytest.fixture(scope="module")
def site() -> Site:
    return load_sample_site()


@pytest.fixture(scope="module")
def wayfinder(site: Site) -> Wayfinder:
    return Wayfinder(site)


def fix_in(site: Site, tag: str, room: str | None, *, asset: str | None = None,
           age_s: float = 10.0, moving: bool = False, level: str | None = None,
           xy: tuple[float, float] | None = None) -> FixRecord:
    """A fix in ``room`` at ``xy`` on ``level`` (default: the room's inside point)."""
    if xy is None:
        assert room is not None
        p = site.room(room).polygon.representative_point()
        x, y, lv = p.x, p.y, site.room(room).level
    else:
        assert level is not None
        (x, y), lv = xy, level
    return FixRecord(ts=NOW - age_s, tag=tag, asset=asset, site=site.id, building=lv[0],
                     level=lv, room=room, x=x, y=y, accuracy_m=1.5, room_confidence=0.9,
                     moving=moving)


def pump(i: int, **kw: object) -> Asset:
    return Asset(f"pump-{i}", f"Pump {i}", type="infusion_pump", tags=(f"tag-{i}",),
                 **kw)  # type: ignore[arg-type]


# ----------------------------------------------------------------------------- states
@pytest.mark.parametrize(("room", "kw", "state", "stale"), [
    ("A3.215", {}, AssetState.AVAILABLE, False),           # equipment storage
    ("A3.211", {}, AssetState.AVAILABLE, False),           # clean utility
    ("A3.216", {}, AssetState.IN_USE, False),              # patient room
    ("A3.214", {}, AssetState.NEEDS_CLEANING, False),      # dirty utility
    ("A3.000", {}, AssetState.IN_TRANSIT, False),          # corridor
    ("A3.215", {"moving": True}, AssetState.IN_TRANSIT, False),
    ("A3.215", {"age_s": 3601.0}, AssetState.NOT_SEEN, True),
    ("A3.215", {"age_s": 3599.0}, AssetState.AVAILABLE, False),
])
def test_state_follows_the_room_category(site: Site, room: str, kw: dict[str, object],
                                         state: AssetState, stale: bool) -> None:
    p = place(pump(1), fix_in(site, "tag-1", room, **kw), site, STATES,  # type: ignore[arg-type]
              NOW)
    assert (p.state, p.stale) == (state, stale)


def test_registry_status_out_of_service_wins_over_a_storage_room(site: Site) -> None:
    for status in ("in_repair", "retired", "lost"):
        p = place(pump(1, status=status), fix_in(site, "tag-1", "A3.215"), site, STATES, NOW)
        assert p.state is AssetState.OUT_OF_SERVICE


def test_never_seen_and_unplanned_rooms(site: Site) -> None:
    assert place(pump(1), None, site, STATES, NOW).state is AssetState.NOT_SEEN
    odd = fix_in(site, "tag-1", "Z9.999", level="A3", xy=(1.0, 1.0))
    assert place(pump(1), odd, site, STATES, NOW).state is STATES.unknown
    between = fix_in(site, "tag-1", None, level="A3", xy=(1.0, 1.0))
    assert place(pump(1), between, site, STATES, NOW).state is AssetState.IN_TRANSIT


def test_a_configured_state_map_changes_availability(site: Site) -> None:
    strict = StateMap.from_config({"clean_utility": "in_use"}, stale_after_s=60.0)
    assert place(pump(1), fix_in(site, "tag-1", "A3.211"), site, strict,
                 NOW).state is AssetState.IN_USE
    assert place(pump(1), fix_in(site, "tag-1", "A3.215", age_s=61.0), site, strict,
                 NOW).stale


# ----------------------------------------------------------------------------- indexes
def test_type_and_text_folding() -> None:
    assert type_key("Infusion-Pump") == type_key("infusion_pump") == "infusion_pump"
    assert type_key("  infusion   pump ") == "infusion_pump"
    assert fold("ØRE-NESE-HALS Å") == fold("øre-nese-hals å")
    assert fold("A\u030a") == fold("Å")  # decomposed and composed å match


def test_registry_resolves_types_and_tags() -> None:
    reg = Registry.of([pump(2), pump(1), Asset("bed-1", "Bed", type="bed", tags=("b1", "b2")),
                       Asset("x", "No type")])
    assert [a.id for a in reg.assets] == ["bed-1", "pump-1", "pump-2", "x"]
    assert reg.resolve_type("Infusion-Pump") == "infusion_pump"
    assert reg.resolve_type("bed") == "bed" and reg.resolve_type("ventilator") is None
    assert reg.types == ["bed", "infusion_pump"]
    assert reg.by_tag["b2"] == "bed-1" and reg.by_tag["tag-1"] == "pump-1"
    assert [a.id for a in reg.by_type["infusion_pump"]] == ["pump-1", "pump-2"]


def test_locations_newest_tag_wins_and_fallback_by_asset(site: Site) -> None:
    two = Asset("bed-1", "Bed", type="bed", tags=("b1", "b2"))
    loc = Locations.of([fix_in(site, "b1", "A3.216", age_s=50.0),
                        fix_in(site, "b2", "A3.215", age_s=5.0),
                        fix_in(site, "b2", "A3.211", age_s=500.0),  # older fix of b2 loses
                        fix_in(site, "old", "A1.112", asset="pump-9")], taken_at=NOW)
    found = loc.of_asset(two)
    assert found is not None and found.room == "A3.215"
    # pump-9's tag moved on; no paired tag has a fix: the fix recorded with its id is used
    p9 = Asset("pump-9", "Pump 9", tags=("new-tag",))
    found = loc.of_asset(p9)
    assert found is not None and found.tag == "old"
    assert loc.of_asset(Asset("ghost", "Ghost")) is None
    assert [f.tag for f in loc.by_level["A3"]] == ["b1", "b2"]
    assert [f.tag for f in loc.by_room["A1.112"]] == ["old"]


def test_registry_asset_ids_of_fixes(site: Site) -> None:
    """Both the asset a tag is paired with now and the one named on the fix count."""
    reg = Registry.of([pump(1), pump(2)])
    fixes = [fix_in(site, "tag-1", "A3.215"),  # no asset on the fix: paired after it
             fix_in(site, "tag-2", "A3.215", asset="pump-7"),  # paired with pump-7 then
             fix_in(site, "stray", "A3.215", asset="ghost"),  # not registered: still named
             fix_in(site, "nobody", "A3.215")]
    assert reg.asset_ids(fixes) == {"pump-1", "pump-2", "pump-7", "ghost"}
    assert reg.asset_ids([]) == set()


def test_fleet_type_counts_and_room_contents(site: Site) -> None:
    assets = [pump(1), pump(2), pump(3, status="in_repair"),
              Asset("bed-1", "Bed", type="bed", tags=("b1", "b2"))]
    loc = Locations.of([fix_in(site, "tag-1", "A3.215"), fix_in(site, "tag-2", "A3.216"),
                        fix_in(site, "tag-3", "A3.215"),
                        fix_in(site, "b1", "A3.215", age_s=100.0),
                        fix_in(site, "b2", "A3.211", age_s=1.0)], taken_at=NOW)
    fleet = Fleet(site, Registry.of(assets), loc, STATES)
    counts = {c.type: (c.count, c.available) for c in fleet.type_counts()}
    assert counts == {"bed": (1, 1), "infusion_pump": (3, 1)}
    assert [p.asset.id for p in fleet.available("infusion_pump")] == ["pump-1"]
    # the bed's newest fix is in A3.211, so it is not in A3.215 even though b1 was seen there
    assert [p.asset.id for p in fleet.in_room("A3.215")] == ["pump-1", "pump-3"]
    assert [p.asset.id for p in fleet.in_room("A3.211")] == ["bed-1"]
    assert {p.asset.id for p in fleet.everyone()} == {"bed-1", "pump-1", "pump-2", "pump-3"}


# ----------------------------------------------------------------------------- ranking
def test_nearest_orders_by_walking_distance(site: Site, wayfinder: Wayfinder) -> None:
    rooms = {1: "B1.112", 2: "A2.214", 3: "A3.215", 4: "A3.113"}
    assets = [pump(i) for i in rooms]
    loc = Locations.of([fix_in(site, f"tag-{i}", r) for i, r in rooms.items()], taken_at=NOW)
    fleet = Fleet(site, Registry.of(assets), loc, STATES)
    got = wayfinder.nearest("A3.214", fleet.available("infusion_pump"), limit=10)
    order = [c.placed.asset.id for c in got.items]
    # same level, next door, beats the room one floor down, which beats the other building
    assert order.index("pump-3") < order.index("pump-2") < order.index("pump-1")
    dist = [wayfinder.graph.distance("A3.214", rooms[int(a[5:])]) for a in order]
    assert dist == sorted(dist)
    assert [c.distance_m for c in got.items] == [round(d, 1) for d in dist]
    for c in got.items:
        assert c.walk_s == pytest.approx(c.distance_m / WALKING_SPEED_M_S, abs=0.11)
    assert (got.total, got.unreachable) == (4, 0)
    assert [c.placed.asset.id for c in wayfinder.nearest(
        "A3.214", fleet.available("infusion_pump"), limit=2).items] == order[:2]


def test_stale_and_out_of_service_pumps_are_not_offered(site: Site,
                                                       wayfinder: Wayfinder) -> None:
    assets = [pump(1), pump(2, status="in_repair"), pump(3), pump(4)]
    loc = Locations.of([fix_in(site, "tag-1", "A2.214"),
                        fix_in(site, "tag-2", "A3.215"),               # next door, in repair
                        fix_in(site, "tag-3", "A3.215", age_s=7200.0),  # next door, stale
                        fix_in(site, "tag-4", "A3.216")], taken_at=NOW)  # in a patient room
    fleet = Fleet(site, Registry.of(assets), loc, STATES)
    got = wayfinder.nearest("A3.214", fleet.available("infusion_pump"), limit=5)
    assert [c.placed.asset.id for c in got.items] == ["pump-1"]
    everyone = [p for p in fleet.of_type("infusion_pump") if p.fix is not None]
    assert len(wayfinder.nearest("A3.214", everyone, limit=5).items) == 4


def test_unreachable_and_position_fallback(site: Site, wayfinder: Wayfinder) -> None:
    inside = site.room("A3.215").polygon.representative_point()
    assets = [pump(1), pump(2)]
    loc = Locations.of([
        # no room on the fix, but its x/y lies in A3.215: ranked as being there
        fix_in(site, "tag-1", None, level="A3", xy=(inside.x, inside.y)),
        # far outside the building: no room, no route
        fix_in(site, "tag-2", None, level="A3", xy=(-5000.0, -5000.0)),
    ], taken_at=NOW)
    fleet = Fleet(site, Registry.of(assets), loc, STATES)
    everyone = [p for p in fleet.of_type("infusion_pump") if p.fix is not None]
    got = wayfinder.nearest("A3.214", everyone, limit=5)
    assert [(c.placed.asset.id, c.room) for c in got.items] == [("pump-1", "A3.215")]
    assert (got.total, got.unreachable) == (2, 1)
    with pytest.raises(KeyError):
        wayfinder.nearest("Z9.999", everyone, limit=5)
    with pytest.raises(ValueError, match="limit"):
        wayfinder.nearest("A3.214", everyone, limit=0)


def test_route_runs_from_the_room_to_the_asset_across_levels(site: Site,
                                                             wayfinder: Wayfinder) -> None:
    room = site.room("B1.112").polygon
    c = room.representative_point()
    inside = next(q for q in (Point(c.x + dx, c.y + dy) for dx, dy in
                              ((1, 0), (-1, 0), (0, 1), (0, -1))) if room.contains(q))
    loc = Locations.of([fix_in(site, "tag-1", "B1.112", level="B1", xy=(inside.x, inside.y))],
                       taken_at=NOW)
    fleet = Fleet(site, Registry.of([pump(1)]), loc, STATES)
    (cand,) = wayfinder.nearest("A3.214", fleet.available("infusion_pump"), limit=1).items
    route = wayfinder.route("A3.214", cand)
    assert route[0].level == "A3"
    assert site.room("A3.214").polygon.buffer(0.01).contains(Point(route[0].x, route[0].y))
    assert {"A3", "B1"} <= {p.level for p in route}
    # the graph's route from room centre to room centre, then to the asset itself
    assert route[:-1] == wayfinder.graph.route("A3.214", "B1.112").points
    assert (route[-1].level, route[-1].x, route[-1].y) == ("B1", inside.x, inside.y)
    # an asset (within 5 cm of) where the route ends adds no extra point
    end = route[-2]
    there = Locations.of([fix_in(site, "tag-1", "B1.112", level="B1",
                                 xy=(end.x + 0.01, end.y))], taken_at=NOW)
    fleet = Fleet(site, Registry.of([pump(1)]), there, STATES)
    (cand,) = wayfinder.nearest("A3.214", fleet.available("infusion_pump"), limit=1).items
    assert wayfinder.route("A3.214", cand) == route[:-1]


# ----------------------------------------------------------------------------- live diff
def test_diff_reports_only_what_a_map_must_redraw(site: Site) -> None:
    a = fix_in(site, "t1", "A3.215")
    before = {"t1": a, "t2": fix_in(site, "t2", "A3.216"), "t3": fix_in(site, "t3", "A3.211")}
    newer_same_place = FixRecord(a.ts + 1, "t1", None, a.site, a.building, a.level, a.room,
                                 a.x + 0.1, a.y, a.accuracy_m, a.room_confidence, False)
    moved = fix_in(site, "t2", "A3.214")
    after = {"t1": newer_same_place, "t2": moved, "t4": fix_in(site, "t4", "A3.000")}
    changed, removed = diff_locations(before, after)
    assert [f.tag for f in changed] == ["t2", "t4"] and removed == ["t3"]
    assert diff_locations(after, after) == ([], [])


# ----------------------------------------------------------------------------- tags
@pytest.mark.parametrize(("text", "tag"), [
    ("AC:23:3F:00:00:01", "ac233f000001"),
    ("ac-23-3f-00-00-01", "ac233f000001"),
    (" ac233f000001 ", "ac233f000001"),
    ("ibeacon:E2C56DB5-DFFB-48D2-B060-D0F5A71096E0:1:2",
     "ibeacon:e2c56db5dffb48d2b060d0f5a71096e0:1:2"),
    ("eddystone:00112233445566778899:AABBCCDDEEFF",
     "eddystone:00112233445566778899:aabbccddeeff"),
])
def test_canonical_tag(text: str, tag: str) -> None:
    assert canonical_tag(text) == tag


@pytest.mark.parametrize("text", ["", "pump", "ac:23:3f:00:00", "ibeacon:xyz:1:2",
                                  "ibeacon:e2c56db5dffb48d2b060d0f5a71096e0:1:70000",
                                  "eddystone:0011:aabb"])
def test_bad_tag_ids_are_rejected(text: str) -> None:
    with pytest.raises(ValueError):
        canonical_tag(text)
