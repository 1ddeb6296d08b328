"""Local frame (WGS84 <-> local metres), derived walls, and native round trips of imports."""

from __future__ import annotations

import math

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from pyproj import Geod
from shapely.geometry import LineString, Point, Polygon, box

from floorplans.geo import LocalFrame, origin_of
from floorplans.geojson import dump_site, load_site
from floorplans.model import Georeference, Opening
from floorplans.osm import load_osm
from floorplans.walls import DOOR_WIDTH_M, derive_walls
from tests.conftest import shared_path

GEOD = Geod(ellps="WGS84")
TRONDHEIM = Georeference(origin_lat=63.4206, origin_lon=10.3891, rotation_deg=0.0)


@pytest.mark.parametrize("azimuth", [0.0, 37.0, 90.0, 181.0, 270.0, 333.3])
@pytest.mark.parametrize("distance", [1.0, 100.0, 750.0])
def test_local_distance_matches_geodesic_to_the_millimetre(azimuth: float, distance: float) -> None:
    frame = LocalFrame(TRONDHEIM)
    lon, lat, _ = GEOD.fwd(TRONDHEIM.origin_lon, TRONDHEIM.origin_lat, azimuth, distance)
    x, y = frame.to_local([lon], [lat])
    assert math.hypot(x[0], y[0]) == pytest.approx(distance, abs=1e-3)
    # the direction is the geodesic azimuth (x east, y north)
    bearing = math.degrees(math.atan2(x[0], y[0])) % 360.0
    assert min(abs(bearing - azimuth), 360 - abs(bearing - azimuth)) < 1e-3


def test_distance_between_two_points_away_from_origin() -> None:
    frame = LocalFrame(TRONDHEIM)
    lon1, lat1, _ = GEOD.fwd(TRONDHEIM.origin_lon, TRONDHEIM.origin_lat, 60.0, 150.0)
    lon2, lat2, _ = GEOD.fwd(lon1, lat1, 200.0, 100.0)
    _, _, d = GEOD.inv(lon1, lat1, lon2, lat2)
    x, y = frame.to_local([lon1, lon2], [lat1, lat2])
    assert math.hypot(x[1] - x[0], y[1] - y[0]) == pytest.approx(d, abs=1e-3)


def test_rotation_turns_local_axes() -> None:
    # local +y points east when rotation is 90 degrees clockwise from north
    frame = LocalFrame(Georeference(63.4206, 10.3891, 90.0))
    lon, lat, _ = GEOD.fwd(10.3891, 63.4206, 90.0, 50.0)  # 50 m east
    x, y = frame.to_local([lon], [lat])
    assert (x[0], y[0]) == (pytest.approx(0.0, abs=1e-3), pytest.approx(50.0, abs=1e-3))
    lon, lat, _ = GEOD.fwd(10.3891, 63.4206, 0.0, 20.0)  # 20 m north -> local -x
    x, y = frame.to_local([lon], [lat])
    assert (x[0], y[0]) == (pytest.approx(-20.0, abs=1e-3), pytest.approx(0.0, abs=1e-3))


@settings(max_examples=60, deadline=None)
@given(
    x=st.floats(-2000, 2000), y=st.floats(-2000, 2000), rot=st.floats(-360, 360),
    lat=st.floats(-80, 80), lon=st.floats(-179, 179),
)
def test_round_trip_local_wgs84_local(
    x: float, y: float, rot: float, lat: float, lon: float
) -> None:
    frame = LocalFrame(Georeference(lat, lon, rot))
    lo, la = frame.to_wgs84([x], [y])
    x2, y2 = frame.to_local(lo, la)
    assert abs(x2[0] - x) < 1e-4 and abs(y2[0] - y) < 1e-4


def test_origin_maps_to_zero_and_bad_input_is_rejected() -> None:
    frame = LocalFrame(TRONDHEIM)
    x, y = frame.to_local([TRONDHEIM.origin_lon], [TRONDHEIM.origin_lat])
    assert abs(x[0]) < 1e-9 and abs(y[0]) < 1e-9
    with pytest.raises(ValueError, match="shapes differ"):
        frame.to_local([1.0, 2.0], [1.0])
    with pytest.raises(ValueError, match="not a valid lat/lon"):
        LocalFrame(Georeference(95.0, 0.0))
    with pytest.raises(ValueError, match="no geometry"):
        origin_of([])


def test_geometry_to_local_keeps_shape() -> None:
    frame = LocalFrame(TRONDHEIM)
    lon, lat = [], []
    for az, d in ((0, 0), (90, 10), (0, 10)):
        lo, la, _ = GEOD.fwd(TRONDHEIM.origin_lon, TRONDHEIM.origin_lat, az, d)
        lon.append(lo)
        lat.append(la)
    lo3, la3, _ = GEOD.fwd(lon[1], lat[1], 0, 10)
    poly = Polygon([(lon[0], lat[0]), (lon[1], lat[1]), (lo3, la3), (lon[2], lat[2])])
    local = frame.geometry_to_local(poly)
    assert isinstance(local, Polygon)
    assert local.area == pytest.approx(100.0, rel=1e-4)
    assert origin_of([poly]).origin_lat == pytest.approx(TRONDHEIM.origin_lat + 0.0000449, abs=1e-6)


def test_shared_boundary_becomes_one_wall_and_doors_cut_gaps() -> None:
    rooms = [box(0, 0, 5, 4), box(5, 0, 10, 4), box(0, 4, 10, 8)]
    walls = derive_walls("L0", rooms, [Opening("d1", "L0", Point(2.5, 4.0))])
    total = sum(w.line.length for w in walls)
    # outer 36 m, interior 4 + 10 m, minus one 0.9 m door gap: every wall counted once
    assert total == pytest.approx(36.0 + 14.0 - DOOR_WIDTH_M)
    ext = [w for w in walls if w.material == "concrete"]
    assert sum(w.line.length for w in ext) == pytest.approx(36.0)
    assert all(w.attenuation_db == 3.0 for w in walls if w.material == "drywall")
    assert not any(w.line.distance(Point(2.5, 4.0)) < DOOR_WIDTH_M / 2 - 1e-6 for w in walls)
    assert len({w.id for w in walls}) == len(walls)


def test_nearly_coincident_edges_are_snapped_into_one_wall() -> None:
    # the second room's edge is drawn 2 cm off the first's: still a single wall
    rooms = [box(0, 0, 5, 4), Polygon([(5.02, 0), (10, 0), (10, 4), (5.02, 4)])]
    walls = derive_walls("L0", rooms)
    interior = [w for w in walls if w.material == "drywall"]
    assert sum(w.line.length for w in interior) == pytest.approx(4.0, abs=0.05)


def test_existing_walls_and_line_doors() -> None:
    rooms = [box(0, 0, 5, 4), box(5, 0, 10, 4)]
    drawn = LineString([(5, 0), (5, 4)])
    door = Opening("d", "L0", LineString([(0, 1), (0, 2)]))
    walls = derive_walls("L0", rooms, [door], existing=[drawn])
    assert all(w.line.distance(Point(5, 2)) > 0.04 for w in walls)
    assert sum(w.line.length for w in walls) == pytest.approx(28.0 - 1.0, abs=0.3)
    assert derive_walls("L0", []) == []


def test_imported_site_round_trips_through_native_format(tmp_path: object) -> None:
    from pathlib import Path

    site, _ = load_osm(shared_path("fixtures", "floorplans", "osm_sit_grenoble_caserne",
                                   "caserne.geojson"))
    out = Path(str(tmp_path)) / "site.geojson"
    dump_site(site, out)
    again, problems = load_site(out)
    assert problems == []
    assert [lv.id for lv in again.levels] == [lv.id for lv in site.levels]
    assert [r.id for r in again.rooms] == [r.id for r in site.rooms]
    assert len(again.walls) == len(site.walls) and len(again.connectors) == len(site.connectors)
    areas = np.array([r.polygon.area for r in site.rooms])
    areas2 = np.array([r.polygon.area for r in again.rooms])
    assert np.allclose(areas, areas2, atol=0.05)
    assert again.georeference == site.georeference
