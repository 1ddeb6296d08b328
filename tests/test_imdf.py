"""IMDF import: the Ulm sample archive (with its real defects) and small synthetic archives."""

from __future__ import annotations

import json
import zipfile
from collections import Counter
from pathlib import Path
from typing import Any

import pytest
from pyproj import Geod

from floorplans.imdf import label, load_imdf
from floorplans.problems import FloorplanError
from floorplans.validate import validate_site
from tests.conftest import shared_path

EG = "00157765-ad02-4b59-a0fc-90f4b16c231a"
BUILDING = "3d89f62e-dc1f-4bf9-ab2d-8b7b822646fc"


def ulm() -> Path:
    return shared_path("fixtures", "floorplans", "imdf_ulm_subset")


def test_ulm_levels_units_and_categories() -> None:
    site, _ = load_imdf(ulm())
    assert len(site.levels) == 6
    assert sorted(lv.ordinal for lv in site.levels) == [0, 1, 2, 3, 4, 5]
    names = {lv.ordinal: lv.name for lv in site.levels}
    assert names[0] == "EG" and names[5] == "5. OG"  # localised {"en": ...} names
    assert {lv.building for lv in site.levels} == {BUILDING}
    assert len(site.rooms) == 27
    assert Counter(r.category for r in site.rooms) == {"room": 19, "elevator": 6, "stairs": 2}
    assert all(r.level == EG for r in site.rooms)
    stairs = site.room("5916c9e2-b217-4a46-bce4-3c897ff8d0f6")
    assert stairs.name == "Stairs"
    assert site.buildings[0].name == "Venticer World"
    assert site.connectors == ()  # only ordinal 0 has units: no shaft spans two levels


def test_ulm_unit_area_matches_source() -> None:
    site, _ = load_imdf(ulm())
    # the source's own `_area` (m², computed geodesically by the converter)
    assert site.room("d65fafa3-89b7-4fcb-9317-a2f6f67fefbf").polygon.area == pytest.approx(
        12.819327, rel=2e-3
    )
    assert site.room("b4d786a0-a8f2-47f6-9e62-f17f6e35cfb2").polygon.area == pytest.approx(
        33.764753, rel=2e-3
    )


def test_ulm_geometry_is_in_metres_about_the_origin() -> None:
    site, _ = load_imdf(ulm())
    g = site.georeference
    assert g is not None and g.rotation_deg == 0.0
    # two corners of a unit, from the source lon/lat, measured geodesically
    _, _, d = Geod(ellps="WGS84").inv(9.9557, 48.4222898, 9.9556859, 48.4222846)
    ring = list(site.room("d65fafa3-89b7-4fcb-9317-a2f6f67fefbf").polygon.exterior.coords)
    (x0, y0), (x1, y1) = ring[0], ring[1]
    assert ((x1 - x0) ** 2 + (y1 - y0) ** 2) ** 0.5 == pytest.approx(d, abs=1e-3)


def test_ulm_reports_its_known_defects() -> None:
    _, problems = load_imdf(ulm())
    by_code: dict[str, list[str]] = {}
    for p in problems:
        by_code.setdefault(p.code, []).append(p.feature_id)
    version = next(p for p in problems if p.code == "imdf-version")
    assert version.feature_id == "manifest" and "1.0.0.rc.1" in version.message
    # non-IMDF properties on all 6 levels, 27 units and the building
    assert len(by_code["imdf-extra-properties"]) == 34
    extra = next(p for p in problems if p.feature_id == EG and p.code == "imdf-extra-properties")
    assert "osmId" in extra.message and "tags" in extra.message and "ordinal" not in extra.message
    # units only on ordinal 0
    assert len(by_code["imdf-level-without-units"]) == 5 and EG not in by_code[
        "imdf-level-without-units"]
    # every level points at a building placed 1.6 km away
    assert by_code["imdf-building-far"] == [BUILDING]
    far = next(p for p in problems if p.code == "imdf-building-far")
    assert "Venticer World" in far.message
    assert len(by_code["shaft-unlinked"]) == 8
    assert all(p.severity == "warning" for p in problems)


def test_ulm_validation_finds_misplaced_and_overlapping_units() -> None:
    site, _ = load_imdf(ulm())
    problems = validate_site(site)
    outside = {p.feature_id for p in problems if p.code == "room-outside-level"}
    assert "d65fafa3-89b7-4fcb-9317-a2f6f67fefbf" in outside
    assert len(outside) == 25  # the EG outline is one building part; most units lie beyond it
    overlaps = {
        (p.feature_id, p.message.split("'")[1]) for p in problems if p.code == "room-overlap"
    }
    assert (
        "0240bca4-ec1e-4ef1-a70e-abcb7a968565", "51a58e33-e454-411c-a509-1b08b09aeb64"
    ) in overlaps
    assert len(overlaps) == 4
    assert all(p.severity == "error" for p in problems if p.code in ("room-overlap",))


def test_zip_archive_gives_the_same_site(tmp_path: Path) -> None:
    archive = tmp_path / "ulm.zip"
    with zipfile.ZipFile(archive, "w") as zf:
        for f in ulm().iterdir():
            zf.write(f, arcname=f"IMDFData/{f.name}")
    a, _ = load_imdf(ulm())
    b, _ = load_imdf(archive)
    assert [r.id for r in a.rooms] == [r.id for r in b.rooms]
    assert len(a.walls) == len(b.walls) > 0


def test_label_languages() -> None:
    assert label({"en": "Stairs", "de": "Treppe"}) == "Stairs"
    assert label({"en": "Stairs", "de": "Treppe"}, "de") == "Treppe"
    assert label({"nb-NO": "Trapp"}, "nb") == "Trapp"
    assert label({"fr": "Escalier"}, "en") == "Escalier"
    assert label(None) == "" and label("Plain") == "Plain"


def _square(x: float, y: float, s: float, lon0: float = 10.39, lat0: float = 63.42) -> list[Any]:
    k = 1e-5
    pts = [(x, y), (x + s, y), (x + s, y + s), (x, y + s), (x, y)]
    return [[[lon0 + px * k * 2, lat0 + py * k] for px, py in pts]]


def _feature(fid: str, ftype: str, props: dict[str, Any], geom: Any) -> dict[str, Any]:
    return {"type": "Feature", "id": fid, "feature_type": ftype, "properties": props,
            "geometry": geom}


def _write(d: Path, name: str, feats: list[dict[str, Any]]) -> None:
    (d / name).write_text(json.dumps({"type": "FeatureCollection", "features": feats}))


def make_archive(d: Path, *, manifest: bool = True) -> Path:
    d.mkdir()
    if manifest:
        (d / "manifest.json").write_text(json.dumps({"version": "1.0.0", "language": "nb-NO"}))
    poly = {"type": "Polygon", "coordinates": _square(0, 0, 100)}
    _write(d, "building.geojson", [_feature("b1", "building", {
        "name": {"nb": "Bygg A"}, "category": "unspecified", "restriction": None,
        "display_point": {"type": "Point", "coordinates": [10.3905, 63.4205]},
        "address_id": None}, None)])
    levels = [
        _feature(f"lv{o}", "level", {"ordinal": o, "name": {"nb": f"Plan {o}"}, "category":
                 "unspecified", "restriction": None, "outdoor": False, "short_name": None,
                 "display_point": None, "address_id": None, "building_ids": ["b1"]}, poly)
        for o in (0, 1)
    ]
    _write(d, "level.json", levels)
    units = []
    for o in (0, 1):
        base = {"restriction": None, "accessibility": None, "alt_name": None,
                "display_point": None, "level_id": f"lv{o}"}
        lift = {"type": "Polygon", "coordinates": _square(50, 50, 3)}
        units.append(_feature(f"lift{o}", "unit", {**base, "category": "elevator",
                     "name": {"nb": "Heis"}}, lift))
        units.append(_feature(f"room{o}", "unit", {**base, "category": "room", "name": None},
                     {"type": "Polygon", "coordinates": _square(10, 10, 20)}))
    units.append(_feature("ghost", "unit", {"category": "room", "level_id": "lv9"},
                          {"type": "Polygon", "coordinates": _square(60, 60, 5)}))
    units.append(_feature("odd", "unit", {"category": "ballroom", "level_id": "lv0"},
                          {"type": "Polygon", "coordinates": _square(70, 70, 5)}))
    _write(d, "unit.geojson", units)
    _write(d, "opening.geojson", [_feature("door0", "opening", {
        "category": "pedestrian", "level_id": "lv0"},
        {"type": "LineString", "coordinates": [[10.39 + 20e-5, 63.42 + 14e-5],
                                               [10.39 + 20e-5, 63.42 + 15e-5]]})])
    return d


def test_synthetic_archive_links_shafts_and_reports_bad_units(tmp_path: Path) -> None:
    site, problems = load_imdf(make_archive(tmp_path / "imdf"))
    assert [lv.name for lv in site.levels] == ["Plan 0", "Plan 1"]
    assert site.buildings[0].name == "Bygg A"
    assert site.room("lift0").name == "Heis" and site.room("room0").name == ""
    (conn,) = site.connectors
    assert conn.kind == "elevator" and conn.levels == ("lv0", "lv1")
    assert set(conn.rooms) == {"lift0", "lift1"}
    codes = {(p.code, p.feature_id) for p in problems}
    assert ("imdf-unknown-level", "ghost") in codes
    assert ("imdf-unknown-category", "odd") in codes
    assert site.room("odd").category == "unspecified"
    assert not any(p.code in ("imdf-version", "imdf-extra-properties") for p in problems)
    (door,) = site.openings
    assert door.kind == "pedestrian"
    # the door cuts the derived wall of room0 on lv0 but not on lv1
    from shapely.geometry import Point

    mid = door.geometry.centroid
    assert min(w.line.distance(mid) for w in site.walls_on("lv0")) > 0.3
    assert min(w.line.distance(Point(mid.x, mid.y)) for w in site.walls_on("lv1")) < 1e-6
    assert not [p for p in validate_site(site) if p.severity == "error"]


def test_missing_manifest_and_unreadable_archives(tmp_path: Path) -> None:
    _, problems = load_imdf(make_archive(tmp_path / "nomanifest", manifest=False))
    assert any(p.code == "imdf-no-manifest" and p.severity == "error" for p in problems)
    with pytest.raises(FloorplanError, match="not an IMDF directory"):
        load_imdf(tmp_path / "missing")
    empty = tmp_path / "empty"
    empty.mkdir()
    (empty / "manifest.json").write_text('{"version": "1.0.0"}')
    (empty / "unit.json").write_text("{not json")
    with pytest.raises(FloorplanError, match="no level") as info:
        load_imdf(empty)
    assert any(p.code == "imdf-bad-json" for p in info.value.problems)
