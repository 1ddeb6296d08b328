"""WalkingGraph: hand-computed distances, routes inside rooms, connectors, the sample site."""

from __future__ import annotations

import itertools
import math
import random

import pytest
import shapely
from shapely.geometry import LineString, Polygon, box

from floorplans.model import Connector, Level, Opening, Room, Site
from floorplans.routing import Route, WalkingGraph
from floorplans.sample import load_sample_site


def _site(kind: str = "stairs") -> Site:
    corridor = Polygon([(0, 4), (20, 4), (20, 20), (18, 20), (18, 6), (0, 6)])  # L-shaped
    rooms = [
        Room("r1", "L0", "Rom 1", "office", box(0, 0, 4, 4)),
        Room("r2", "L0", "Rom 2", "office", box(4, 0, 8, 4)),
        Room("cor", "L0", "Korridor", "corridor", corridor),
        Room("r3", "L0", "Rom 3", "office", box(20, 14, 24, 18)),
        Room("sh0", "L0", "Trapp", "stairs", box(8, 0, 10, 4)),
        Room("iso", "L0", "Isolert", "other", box(30, 0, 34, 4)),
        Room("sh1", "L1", "Trapp", "stairs", box(8, 0, 10, 4)),
        Room("top", "L1", "Topp", "office", box(10, 0, 14, 4)),
    ]
    openings = [
        Opening("d1", "L0", LineString([(1, 4), (2, 4)]), rooms=("r1", "cor")),
        Opening("d2", "L0", LineString([(5, 4), (6, 4)])),  # rooms inferred
        Opening("d3", "L0", LineString([(20, 15), (20, 16)])),
        Opening("d4", "L0", LineString([(8.5, 4), (9.5, 4)])),
        Opening("d5", "L1", LineString([(10, 1), (10, 2)])),
    ]
    levels = [Level("L0", "B", 0, "Plan 1", 0.0, 4.0, box(0, 0, 40, 20)),
              Level("L1", "B", 1, "Plan 2", 4.0, 4.0, box(0, 0, 40, 20))]
    conn = Connector("c1", kind, ("L0", "L1"), 9.0, 2.0, rooms=("sh0", "sh1"))
    return Site.build(id="r", name="R", levels=levels, rooms=rooms, openings=openings,
                      connectors=[conn])


@pytest.fixture(scope="module")
def graph() -> WalkingGraph:
    return WalkingGraph.from_site(_site())


@pytest.fixture(scope="module")
def sample_graph() -> WalkingGraph:
    return WalkingGraph.from_site(load_sample_site())


def _assert_inside(site: Site, route: Route) -> None:
    """Every same-level leg stays inside the rooms of that level (closed)."""
    for p, q in itertools.pairwise(route.points):
        if p.level != q.level:
            # a connector ride (same x, y) or a door between two levels' rooms (short step)
            assert math.hypot(p.x - q.x, p.y - q.y) <= 1.0, (p, q)
            continue
        union = shapely.union_all([r.polygon for r in site.rooms_on(p.level)]).buffer(1e-6)
        assert union.covers(LineString([(p.x, p.y), (q.x, q.y)])), (p, q)


def test_hand_distance(graph: WalkingGraph) -> None:
    expected = 2 * math.hypot(0.5, 1.4) + 4 * 0.6 + 4.0
    assert graph.distance("r1", "r2") == pytest.approx(expected)
    r = graph.route("r1", "r2")
    assert r.rooms == ("r1", "cor", "r2")
    assert r.distance_m == pytest.approx(expected)
    assert r.seconds == pytest.approx(expected / 1.2)
    assert (r.points[0].x, r.points[0].y) == (2.0, 2.0)
    assert (r.points[-1].x, r.points[-1].y) == (6.0, 2.0)


def test_route_through_l_shaped_corridor_stays_inside(graph: WalkingGraph) -> None:
    r = graph.route("r1", "r3")
    assert r.rooms == ("r1", "cor", "r3")
    _assert_inside(graph.site, r)
    straight = math.hypot(22 - 2, 16 - 2)
    assert r.distance_m > straight + 1.0  # it had to go round the corner
    # the corner waypoint near (18, 6) is used
    assert any(abs(p.x - 18) < 0.5 and abs(p.y - 6) < 0.5 for p in r.points)


def test_cross_level_route_uses_connector(graph: WalkingGraph) -> None:
    r = graph.route("r1", "top")
    assert "sh0" in r.rooms and "sh1" in r.rooms
    assert {p.level for p in r.points} == {"L0", "L1"}
    _assert_inside(graph.site, r)
    same_level = graph.distance("r1", "sh0") + graph.distance("sh1", "top")
    assert r.distance_m == pytest.approx(same_level + 8.0)  # 2 m per metre of rise, 4 m


def test_elevator_costs_wait_and_ride() -> None:
    stairs = WalkingGraph.from_site(_site("stairs")).distance("r1", "top")
    lift = WalkingGraph.from_site(_site("elevator")).distance("r1", "top")
    assert lift - stairs == pytest.approx((30 + 4) * 1.2 - 8.0)
    slow = WalkingGraph.from_site(_site("elevator"), walking_speed_m_s=1.0).distance("r1", "top")
    assert slow == pytest.approx(lift - (30 + 4) * 0.2)


def test_unreachable_and_unknown(graph: WalkingGraph) -> None:
    assert graph.distance("r1", "iso") == math.inf
    with pytest.raises(ValueError, match="cannot be reached"):
        graph.route("r1", "iso")
    with pytest.raises(KeyError, match="unknown room"):
        graph.distance("r1", "nope")
    with pytest.raises(KeyError, match="unknown room"):
        graph.route("nope", "r1")
    with pytest.raises(KeyError, match="unknown room"):
        graph.distances_from("nope")
    d = graph.distances_from("r1")
    assert "iso" not in d and d["r1"] == 0.0
    assert set(d) == {"r1", "r2", "cor", "r3", "sh0", "sh1", "top"}
    assert graph.distances_from("iso") == {"iso": 0.0}
    same = graph.route("r2", "r2")
    assert same.distance_m == 0.0 and same.rooms == ("r2",) and len(same.points) == 1


def test_bad_speed() -> None:
    with pytest.raises(ValueError, match="walking_speed_m_s"):
        WalkingGraph.from_site(_site(), walking_speed_m_s=0.0)


def test_cached_distances_agree(graph: WalkingGraph) -> None:
    fresh = WalkingGraph.from_site(_site())
    before = fresh.distance("r3", "top")
    fresh.distances_from("r3")
    assert fresh.distance("r3", "top") == pytest.approx(before)
    assert graph.distance("r3", "top") == pytest.approx(before)


def test_sample_all_rooms_reachable(sample_graph: WalkingGraph) -> None:
    site = sample_graph.site
    d = sample_graph.distances_from(site.rooms[0].id)
    assert set(d) == {r.id for r in site.rooms}
    assert all(math.isfinite(v) for v in d.values())


def test_sample_symmetry_and_triangle(sample_graph: WalkingGraph) -> None:
    rng = random.Random(11)
    ids = [r.id for r in sample_graph.site.rooms]
    for _ in range(25):
        a, b, c = rng.sample(ids, 3)
        ab, ba = sample_graph.distance(a, b), sample_graph.distance(b, a)
        assert ab == pytest.approx(ba, rel=1e-12)
        assert ab <= sample_graph.distance(a, c) + sample_graph.distance(c, b) + 1e-9
        assert sample_graph.route(a, b).distance_m == pytest.approx(ab)


def test_sample_cross_building_cross_level_route(sample_graph: WalkingGraph) -> None:
    site = sample_graph.site
    r = sample_graph.route("A1.101", "B3.105")
    cats = {site.room(x).category for x in r.rooms}
    assert cats & {"stairs", "elevator"}
    assert r.points[0].level == "A1" and r.points[-1].level == "B3"
    assert any(x.endswith(".G00") for x in r.rooms)  # over the glass bridge
    _assert_inside(site, r)
    # at least as long as the horizontal distance between the room centres
    a, b = site.room("A1.101").polygon.centroid, site.room("B3.105").polygon.centroid
    assert r.distance_m >= a.distance(b)


def test_routes_from_a_cached_tree_equal_fresh_searches() -> None:
    """A start room's cached shortest-path tree gives the same routes as one search per pair."""
    site = load_sample_site()
    cached = WalkingGraph.from_site(site)
    fresh = WalkingGraph.from_site(site)
    rooms = sorted(cached.room_ids)[::17]
    start = rooms[0]
    cached.distances_from(start)  # fills the cache with the whole tree from ``start``
    for dst in rooms:
        a, b = cached.route(start, dst), fresh.route(start, dst)
        assert a.rooms == b.rooms and a.points == b.points
        assert a.distance_m == pytest.approx(b.distance_m)
