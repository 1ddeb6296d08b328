"""OSM Simple Indoor Tagging import: the Grenoble "Caserne de Bonne" sample and synthetic cases."""

from __future__ import annotations

from collections import Counter
from typing import Any

import pytest

from floorplans.osm import category_of, load_osm, parse_levels, parse_osm
from floorplans.problems import FloorplanError
from floorplans.validate import validate_site
from tests.conftest import shared_path


def caserne() -> Any:
    return load_osm(shared_path("fixtures", "floorplans", "osm_sit_grenoble_caserne",
                                "caserne.geojson"))


@pytest.mark.parametrize(
    ("value", "expected"),
    [("0", [0.0]), ("0;1", [0.0, 1.0]), ("-1;0", [-1.0, 0.0]), ("-2-1", [-2.0, -1.0, 0.0, 1.0]),
     ("1-3;5", [1.0, 2.0, 3.0, 5.0]), ("-3--1", [-3.0, -2.0, -1.0]), ("0.5", [0.5]),
     (" 1 ; 0 ", [0.0, 1.0]), (2, [2.0])],
)
def test_parse_levels(value: Any, expected: list[float]) -> None:
    assert parse_levels(value) == expected


@pytest.mark.parametrize("value", ["", "ground", "1;x", "0-999"])
def test_parse_levels_rejects(value: str) -> None:
    with pytest.raises(ValueError):
        parse_levels(value)


@pytest.mark.parametrize(
    ("tags", "category"),
    [({"indoor": "room", "room": "shop", "shop": "clothes"}, "room"),
     ({"indoor": "room", "amenity": "toilets", "female": "yes", "male": "no"}, "restroom.female"),
     ({"indoor": "room", "room": "toilets", "male": "yes"}, "restroom.male"),
     ({"indoor": "room", "amenity": "fast_food"}, "foodservice"),
     ({"indoor": "room", "elevator": "yes"}, "elevator"),
     ({"highway": "elevator"}, "elevator"),
     ({"indoor": "corridor", "stairs": "yes"}, "stairs"),
     ({"indoor": "corridor"}, "corridor"), ({"indoor": "area"}, "unenclosedarea"),
     ({"indoor": "room", "room": "office"}, "office"),
     ({"indoor": "room", "room": "disused"}, "nonpublic"),
     ({"indoor": "room", "room": "storage"}, "storage"), ({"indoor": "room"}, "room")],
)
def test_category_of(tags: dict[str, str], category: str) -> None:
    assert category_of(tags) == category


def test_caserne_levels_and_rooms() -> None:
    site, _ = caserne()
    assert [(lv.id, lv.ordinal) for lv in site.levels] == [("L-1", -1), ("L0", 0), ("L1", 1)]
    assert site.name == "Caserne de Bonne"  # the shop=mall polygon holding the indoor features
    per_level = Counter(r.level for r in site.rooms)
    assert per_level == {"L-1": 10, "L0": 55, "L1": 8}
    # H&M spans level=0;1: repeated on both levels
    assert site.room("way/398056920@L0").name == "H&M"
    assert site.room("way/398056920@L1").level == "L1"
    assert not site.has_room("way/398056920")
    assert site.room("way/398056921").category == "restroom.female"
    assert site.room("way/398056924").category == "restroom.male"
    assert site.room("way/398056949").category == "foodservice"
    assert site.room("way/398056925").name == "Au Vieux Campeur - Librairie"


def test_caserne_multi_level_features_become_connectors() -> None:
    site, _ = caserne()
    conns = {c.id: c for c in site.connectors}
    lift = conns["connector-way/562306923"]
    assert lift.kind == "elevator" and lift.levels == ("L-1", "L0")
    assert lift.rooms == ("way/562306923@L-1", "way/562306923@L0")
    assert conns["connector-way/562306927"].kind == "stairs"
    steps = conns["connector-way/398056978"]  # highway=steps line, level=0;1
    assert steps.kind == "stairs" and steps.levels == ("L0", "L1")
    assert conns["connector-node/4008328999"].levels == ("L0", "L1")
    # elevator nodes inside an elevator room are the same elevator: not duplicated
    assert "connector-node/5420950511" not in conns
    assert "connector-node/5420950510" not in conns
    assert len(conns) == 6


def test_caserne_walls_doors_and_problems() -> None:
    site, problems = caserne()
    ids = {w.id for w in site.walls}
    assert "way/562670860" in ids  # drawn wall, level 0
    assert {"way/562670859@L-1", "way/562670859@L0"} <= ids  # drawn wall on level -1;0
    assert len([w for w in site.walls if not w.id.startswith("way/")]) > 50  # derived
    assert len(site.openings) == 10
    assert Counter(o.kind for o in site.openings) == {"door": 4, "opening": 6}
    by_code = {(p.code, p.feature_id) for p in problems}
    assert ("osm-no-level", "way/398056943") in by_code  # indoor=room without level
    assert ("osm-unclosed-room", "way/398056956") in by_code  # a room drawn as an open way
    outdoor = next(p for p in problems if p.code == "osm-outdoor-skipped")
    assert outdoor.message.startswith("30 features")
    assert all(p.severity == "warning" for p in problems)
    errors = [p for p in validate_site(site) if p.severity == "error"]
    assert errors == []


def _fc(*features: dict[str, Any]) -> dict[str, Any]:
    return {"type": "FeatureCollection", "features": list(features)}


def _poly(fid: str, tags: dict[str, Any], x: float, y: float, s: float) -> dict[str, Any]:
    k = 1e-5
    ring = [[5.7 + px * k, 45.18 + py * k] for px, py in
            ((x, y), (x + s, y), (x + s, y + s), (x, y + s), (x, y))]
    return {"type": "Feature", "id": fid, "properties": tags,
            "geometry": {"type": "Polygon", "coordinates": [ring]}}


def test_repeat_on_and_level_outline_and_bad_levels() -> None:
    site, problems = parse_osm(_fc(
        _poly("way/1", {"indoor": "level", "level": "0"}, 0, 0, 10),
        _poly("way/2", {"indoor": "room", "level": "0", "repeat_on": "1-2", "room": "office"},
              1, 1, 2),
        _poly("way/3", {"indoor": "room", "level": "ground"}, 4, 4, 2),
        _poly("way/4", {"indoor": "area", "level": "1;2"}, 5, 5, 3),
    ))
    assert [lv.id for lv in site.levels] == ["L0", "L1", "L2"]
    assert {r.id for r in site.rooms} == {"way/2@L0", "way/2@L1", "way/2@L2", "way/4@L1",
                                          "way/4@L2"}
    assert site.level("L0").outline.area == pytest.approx(site.rooms[0].polygon.area * 25,
                                                          rel=1e-6)
    assert ("osm-bad-level", "way/3") in {(p.code, p.feature_id) for p in problems}
    # open areas (indoor=area) get no derived walls: only the office's boundary is walled
    assert sum(w.line.length for w in site.walls_on("L1")) == pytest.approx(
        site.room("way/2@L1").polygon.length, rel=1e-6)


def test_half_levels_and_failures() -> None:
    site, _ = parse_osm(_fc(
        _poly("a", {"indoor": "room", "level": "-1"}, 0, 0, 5),
        _poly("b", {"indoor": "room", "level": "0.5"}, 0, 0, 5),
        _poly("c", {"indoor": "room", "level": "1"}, 0, 0, 5),
    ))
    assert [(lv.id, lv.ordinal) for lv in site.levels] == [("L-1", -1), ("L0.5", 0), ("L1", 1)]
    with pytest.raises(FloorplanError, match="no feature has a 'level'"):
        parse_osm(_fc(_poly("x", {"building": "yes"}, 0, 0, 5)))
    with pytest.raises(FloorplanError, match="FeatureCollection"):
        parse_osm([1, 2])
