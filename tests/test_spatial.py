"""SiteIndex against plain shapely references: room_at, wall crossings, projection."""

from __future__ import annotations

import math

import numpy as np
import pytest
import shapely
from hypothesis import given, settings
from hypothesis import strategies as st
from shapely.geometry import LineString, Polygon, box

from floorplans.model import Level, Room, Site, Wall
from floorplans.sample import load_sample_site
from floorplans.spatial import SiteIndex


@pytest.fixture(scope="module")
def sample() -> SiteIndex:
    return SiteIndex(load_sample_site())


def _hand_site() -> Site:
    """Two levels. L0: rooms a|b side by side sharing x=4, c with a hole, d overlapping b."""
    outline = box(0, 0, 20, 10)
    ring_room = Polygon([(10, 0), (20, 0), (20, 10), (10, 10)], [[(13, 3), (17, 3), (17, 7),
                                                                 (13, 7)]])
    rooms = [
        Room("a", "L0", "A", "office", box(0, 0, 4, 5)),
        Room("b", "L0", "B", "office", box(4, 0, 8, 5)),
        Room("c", "L0", "C", "corridor", ring_room),
        Room("d", "L0", "D", "office", box(6, 0, 9, 5)),  # overlaps b on purpose
        Room("e", "L1", "E", "office", box(0, 0, 4, 5)),
        Room("f", "L1", "F", "office", Polygon([(0, 5), (10, 5), (10, 10), (5, 10), (5, 7),
                                               (0, 7)])),
    ]
    walls = [
        Wall("w1", "L0", LineString([(4, 0), (4, 5)]), "drywall", 3.0),
        Wall("w2", "L0", LineString([(0, 5), (8, 5)]), "concrete", 10.0),
        Wall("w3", "L0", LineString([(10, 0), (10, 4), (10, 10)]), "lead", 40.0),  # polyline
        Wall("w4", "L1", LineString([(4, 0), (4, 5)]), "glass", 2.0),
    ]
    levels = [Level("L0", "B", 0, "Plan 1", 0.0, 4.0, outline),
              Level("L1", "B", 1, "Plan 2", 4.0, 4.0, outline)]
    return Site.build(id="hand", name="Hand", levels=levels, rooms=rooms, walls=walls)


@pytest.fixture(scope="module")
def hand() -> SiteIndex:
    return SiteIndex(_hand_site())


def naive_room_at(site: Site, index: SiteIndex, x: np.ndarray, y: np.ndarray,
                  lv: np.ndarray) -> np.ndarray:
    """Lowest room index whose closed polygon covers the point (the documented tie-break)."""
    out = np.full(x.shape, -1)
    for j in reversed(range(len(site.rooms))):
        room = site.rooms[j]
        li = index.level_index(room.level)
        hit = (lv == li) & shapely.intersects_xy(room.polygon, x, y)
        out[hit] = j
    return out


def naive_walls(site: Site, level_id: str, x0: np.ndarray, y0: np.ndarray, x1: np.ndarray,
                y1: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    segs = shapely.linestrings(np.stack([np.stack([x0, y0], 1), np.stack([x1, y1], 1)], 1))
    point = (x0 == x1) & (y0 == y1)  # shapely sees a zero-length line as touching nothing
    segs[point] = shapely.points(x0[point], y0[point])
    count = np.zeros(x0.shape, dtype=int)
    loss = np.zeros(x0.shape)
    for w in site.walls_on(level_id):
        hit = shapely.intersects(w.line, segs)
        count += hit
        loss += hit * w.attenuation_db
    return count, loss


def test_room_at_matches_reference_on_sample(sample: SiteIndex) -> None:
    rng = np.random.default_rng(7)
    n = 20000
    x = rng.uniform(-10, 230, n)
    y = rng.uniform(-3, 18, n)
    lv = rng.integers(0, len(sample.level_ids), n)
    got = sample.room_at(x, y, lv)
    assert got.dtype == np.int32
    np.testing.assert_array_equal(got, naive_room_at(sample.site, sample, x, y, lv))
    assert (got >= 0).mean() > 0.15  # the test is not vacuous


def test_room_at_on_room_vertices_and_edges_of_sample(sample: SiteIndex) -> None:
    site = sample.site
    pts = []
    for room in site.rooms[:120]:
        li = sample.level_index(room.level)
        c = np.asarray(room.polygon.exterior.coords)
        mids = (c[:-1] + c[1:]) / 2
        for p in np.vstack([c, mids]):
            pts.append((p[0], p[1], li))
    a = np.array(pts)
    lv = a[:, 2].astype(int)
    got = sample.room_at(a[:, 0], a[:, 1], lv)
    np.testing.assert_array_equal(got, naive_room_at(site, sample, a[:, 0], a[:, 1], lv))
    assert (got >= 0).all()


def test_shared_wall_goes_to_lowest_index(hand: SiteIndex) -> None:
    ia, ib, id_ = (hand.room_ids.index(r) for r in "abd")
    assert hand.room_at(4.0, 2.0, "L0") == ia  # on the wall between a and b
    assert hand.room_at(4.0, 0.0, "L0") == ia  # corner on the outline
    assert hand.room_at(7.0, 2.0, "L0") == ib  # overlap of b and d: lowest index
    assert hand.room_at(8.5, 2.0, "L0") == id_
    assert hand.room_at(0.0, 2.5, "L0") == ia  # on the outer wall: still inside
    assert hand.room_at(9.5, 2.0, "L0") == -1  # inside the outline, no room


def test_holes_and_levels(hand: SiteIndex) -> None:
    ic = hand.room_ids.index("c")
    assert hand.room_at(15.0, 5.0, 0) == -1  # in the hole
    assert hand.room_at(13.0, 5.0, 0) == ic  # on the hole's boundary
    assert hand.room_at(12.0, 5.0, 0) == ic
    # same x, y on another level
    assert hand.room_at(2.0, 2.0, "L1") == hand.room_ids.index("e")
    assert hand.room_at(2.0, 6.0, "L1") == hand.room_ids.index("f")
    assert hand.room_at(2.0, 8.0, "L1") == -1  # outside the L-shape
    got = hand.room_at([2.0, 2.0, 2.0], [2.0, 2.0, 2.0], np.array(["L0", "L1", "L0"]))
    assert got.tolist() == [0, 4, 0]


def test_room_at_nan_unknown_level_and_shapes(hand: SiteIndex) -> None:
    got = hand.room_at([math.nan, 2.0, 2.0, 2.0], [2.0, math.nan, 2.0, 2.0], [0, 0, -1, 0])
    assert got.tolist() == [-1, -1, -1, 0]
    grid = hand.room_at(np.array([[1.0], [5.0]]), np.array([1.0, 2.0, 3.0]), 0)
    assert grid.shape == (2, 3)
    assert hand.room_at(1.0, 1.0, 0).shape == ()
    assert hand.room_at(1e9, 1.0, 0) == -1


@pytest.mark.parametrize(
    ("level", "exc", "match"),
    [
        (5, ValueError, "out of range"),
        (-2, ValueError, "out of range"),
        ("nope", KeyError, "unknown level"),
        (1.5, ValueError, "integers"),
        (True, TypeError, "level must be"),
    ],
)
def test_room_at_bad_level(hand: SiteIndex, level: object, exc: type[Exception],
                           match: str) -> None:
    with pytest.raises(exc, match=match):
        hand.room_at([1.0], [1.0], level)  # type: ignore[arg-type]


def test_room_at_shape_mismatch(hand: SiteIndex) -> None:
    with pytest.raises(ValueError, match="broadcast"):
        hand.room_at([1.0, 2.0], [1.0, 2.0, 3.0], 0)


@settings(max_examples=200, deadline=None)
@given(
    st.lists(st.tuples(st.integers(-2, 22), st.integers(-2, 12), st.integers(0, 1)),
             min_size=1, max_size=50),
)
def test_room_at_property_integer_points(pts: list[tuple[int, int, int]]) -> None:
    """Integer points fall on many walls, corners and hole edges: exact tie-break."""
    site = _hand_site()
    index = SiteIndex(site)
    a = np.array(pts, dtype=float)
    lv = a[:, 2].astype(int)
    np.testing.assert_array_equal(index.room_at(a[:, 0], a[:, 1], lv),
                                  naive_room_at(site, index, a[:, 0], a[:, 1], lv))


@settings(max_examples=100, deadline=None)
@given(st.floats(0.0, 5.0, allow_nan=False))
def test_point_on_shared_wall_property(y: float) -> None:
    index = SiteIndex(_hand_site())
    assert index.room_at(4.0, y, 0) == 0


def test_walls_match_reference_on_sample(sample: SiteIndex) -> None:
    rng = np.random.default_rng(3)
    n = 4000
    for li in (0, 3, len(sample.level_ids) - 1):
        lid = sample.level_ids[li]
        x0, x1 = rng.uniform(-5, 230, n), rng.uniform(-5, 230, n)
        y0, y1 = rng.uniform(-3, 18, n), rng.uniform(-3, 18, n)
        count, loss = naive_walls(sample.site, lid, x0, y0, x1, y1)
        np.testing.assert_array_equal(sample.walls_crossed(li, x0, y0, x1, y1), count)
        np.testing.assert_allclose(sample.wall_loss_db(lid, x0, y0, x1, y1), loss, atol=1e-9)
        assert count.sum() > n  # segments do cross walls


def test_walls_hand_cases(hand: SiteIndex) -> None:
    cases = [
        ((1, 1, 3, 1), 0, 0.0),  # inside a
        ((1, 1, 6, 1), 1, 3.0),  # across a|b
        ((1, 1, 6, 7), 2, 13.0),  # across w1 and w2
        ((4, 1, 4, 2), 1, 3.0),  # along the wall (collinear overlap)
        ((3, 6, 4, 5), 2, 13.0),  # touching the end point shared by w1 and w2
        ((4, 3, 4, 3), 1, 3.0),  # zero-length segment on a wall
        ((9, 4, 11, 4), 1, 40.0),  # through the vertex of the polyline w3: counted once
        ((9, 2, 11, 8), 1, 40.0),
        ((-5, -5, -1, -1), 0, 0.0),  # outside the grid
        ((-50, 2, 50, 2), 2, 43.0),  # from far outside to far outside
    ]
    for (a, b, c, d), n, db in cases:
        assert hand.walls_crossed("L0", a, b, c, d) == n, (a, b, c, d)
        assert hand.wall_loss_db(0, a, b, c, d) == pytest.approx(db), (a, b, c, d)
    assert hand.wall_loss_db("L1", 1, 1, 6, 1) == pytest.approx(2.0)


def test_walls_nan_and_errors(hand: SiteIndex) -> None:
    loss = hand.wall_loss_db(0, [1.0, math.nan], [1.0, 1.0], [6.0, 6.0], [1.0, 1.0])
    assert loss[0] == 3.0 and math.isnan(loss[1])
    assert hand.walls_crossed(0, [math.nan], [1.0], [6.0], [1.0]).tolist() == [-1]
    with pytest.raises(ValueError, match="out of range"):
        hand.wall_loss_db(9, 0, 0, 1, 1)
    with pytest.raises(KeyError, match="unknown level"):
        hand.wall_loss_db("L9", 0, 0, 1, 1)
    with pytest.raises(ValueError, match="broadcast"):
        hand.wall_loss_db(0, [0, 1], [0, 1, 2], 1, 1)


@settings(max_examples=150, deadline=None)
@given(st.lists(st.tuples(*[st.integers(-3, 23)] * 2, *[st.integers(-3, 13)] * 2),
                min_size=1, max_size=30))
def test_walls_property_integer_segments(segs: list[tuple[int, int, int, int]]) -> None:
    """Integer segments hit wall ends and run along walls; symmetric in direction."""
    site = _hand_site()
    index = SiteIndex(site)
    s = np.array(segs, dtype=float)
    x0, x1, y0, y1 = s[:, 0], s[:, 1], s[:, 2], s[:, 3]
    count, loss = naive_walls(site, "L0", x0, y0, x1, y1)
    np.testing.assert_array_equal(index.walls_crossed(0, x0, y0, x1, y1), count)
    np.testing.assert_array_equal(index.walls_crossed(0, x1, y1, x0, y0), count)
    np.testing.assert_allclose(index.wall_loss_db(0, x0, y0, x1, y1), loss)


def test_nearest_point_inside(sample: SiteIndex) -> None:
    outline = sample.site.levels[0].outline
    rng = np.random.default_rng(5)
    x, y = rng.uniform(-20, 120, 2000), rng.uniform(-20, 35, 2000)
    px, py = sample.nearest_point_inside(0, x, y)
    inside = shapely.intersects_xy(outline, x, y)
    np.testing.assert_array_equal(px[inside], x[inside])
    np.testing.assert_array_equal(py[inside], y[inside])
    assert (~inside).sum() > 100
    d = np.hypot(px - x, py - y)[~inside]
    ref = shapely.distance(outline, shapely.points(x[~inside], y[~inside]))
    np.testing.assert_allclose(d, ref, atol=1e-9)
    assert shapely.dwithin(outline, shapely.points(px, py), 1e-9).all()
    nx, _ = sample.nearest_point_inside(sample.level_ids[0], [math.nan], [1.0])
    assert math.isnan(nx[0])


def test_helpers(sample: SiteIndex) -> None:
    assert sample.level_index(sample.level_ids[2]) == 2
    assert sample.room_index(sample.room_ids[7]) == 7
    with pytest.raises(KeyError):
        sample.room_index("nope")
    assert sample.level_at_elevation("A", 5.0) == "A2"
    assert sample.level_at_elevation("A", 99.0) is None
    assert len(sample.wall_lines("A1")) == len(sample.site.walls_on("A1"))
