"""The generated sample hospital and the committed copy of it."""

from __future__ import annotations

import itertools
import re
from collections import Counter
from pathlib import Path

import numpy as np
import orjson
import pytest
import shapely

from floorplans.geojson import dump_site, site_to_geojson
from floorplans.model import HOSPITAL_CATEGORIES, MATERIAL_ATTENUATION_DB, Site
from floorplans.routing import WalkingGraph
from floorplans.sample import generate_hospital, load_sample_site, sample_site_path
from floorplans.spatial import SiteIndex


@pytest.fixture(scope="module")
def site() -> Site:
    return load_sample_site()


def test_committed_file_equals_fresh_generation(tmp_path: Path) -> None:
    fresh = tmp_path / "fresh.geojson"
    dump_site(generate_hospital(), fresh)
    assert sample_site_path().read_bytes() == fresh.read_bytes(), (
        "floorplans/data/sample_hospital.geojson is stale or hand-edited: "
        "regenerate with 'python -m floorplans.sample'"
    )
    assert sample_site_path().stat().st_size < 1_500_000


def test_loaded_equals_generated(site: Site) -> None:
    assert site_to_geojson(site) == site_to_geojson(generate_hospital())


def test_deterministic_per_seed() -> None:
    a = orjson.dumps(site_to_geojson(generate_hospital(seed=3)))
    assert a == orjson.dumps(site_to_geojson(generate_hospital(seed=3)))
    assert a != orjson.dumps(site_to_geojson(generate_hospital(seed=4)))


def test_counts(site: Site) -> None:
    assert site.name == "Sykehuset Fjellvik"
    assert len(site.buildings) >= 2
    assert [b.name for b in site.buildings[:2]] == ["A - Sengebygg", "B - Behandlingsbygg"]
    for b in site.buildings:
        levels = site.levels_of(b.id)
        assert [lv.ordinal for lv in levels] == [1, 2, 3]
        assert [lv.name for lv in levels] == ["Plan 1", "Plan 2", "Plan 3"]
        assert [lv.elevation_m for lv in levels] == [0.0, 4.0, 8.0]
    assert len(site.rooms) >= 150
    assert all(r.category in HOSPITAL_CATEGORIES for r in site.rooms)
    cats = Counter(r.category for r in site.rooms)
    assert set(cats) == HOSPITAL_CATEGORIES
    assert cats["operating_room"] >= 2 and cats["icu"] >= 4 and cats["emergency"] >= 4
    assert len(site.gateways) >= 80
    per_level = Counter(g.level for g in site.gateways)
    assert set(per_level) == {lv.id for lv in site.levels}
    assert all(re.fullmatch(r"gw-[a-z]\d+-\d{3}", g.id) for g in site.gateways)
    assert len({g.id for g in site.gateways}) == len(site.gateways)
    assert len({r.id for r in site.rooms}) == len(site.rooms)
    g = site.georeference
    assert g is not None and abs(g.origin_lat - 60.79) < 0.05 and abs(g.origin_lon - 11.07) < 0.05


def test_wards_and_radiology(site: Site) -> None:
    for ward in ("Kirurgi 1A", "Medisin 3B"):
        cats = {r.category for r in site.rooms if r.department == ward}
        assert {"patient_room", "clean_utility", "dirty_utility", "equipment_storage",
                "nurse_station"} <= cats
    radiology = [r for r in site.rooms if r.department == "Radiologi"]
    assert radiology and all(r.category in ("other", "equipment_storage", "office")
                             for r in radiology)
    ct = next(r for r in radiology if r.name.startswith("CT-lab"))
    lead = [w for w in site.walls_on(ct.level) if w.material == "lead"]
    boundary = ct.polygon.exterior
    # every side of the CT lab is lead (minus the door gap)
    covered = shapely.union_all([w.line for w in lead]).intersection(boundary).length
    assert covered == pytest.approx(boundary.length - 1.6)
    nurse = next(r for r in site.rooms if r.category == "nurse_station")
    glass = [w for w in site.walls_on(nurse.level) if w.material == "glass"]
    assert any(nurse.polygon.exterior.covers(w.line) for w in glass)


def test_walls_follow_room_boundaries_minus_doors(site: Site) -> None:
    for lv in site.levels:
        rooms = site.rooms_on(lv.id)
        walls = shapely.union_all([w.line for w in site.walls_on(lv.id)])
        ids = {r.id for r in rooms}
        # doors of this level, and the bridge door drawn on the neighbour's level
        doors = [o.geometry for o in site.openings if o.level == lv.id or ids & set(o.rooms)]
        boundaries = shapely.union_all([r.polygon.exterior for r in rooms])
        gaps = shapely.union_all(doors).buffer(1e-6)
        # walls lie on room boundaries, never across a door
        assert boundaries.buffer(1e-6).covers(walls)
        assert walls.intersection(gaps).length == pytest.approx(0.0, abs=1e-4)
        # and every boundary metre that is not a door is a wall
        missing = boundaries.difference(walls.buffer(1e-6)).difference(gaps)
        assert missing.length == pytest.approx(0.0, abs=1e-4), lv.id
    assert {w.material for w in site.walls} >= {"concrete", "drywall", "glass", "lead", "metal"}
    for w in site.walls:
        assert w.attenuation_db == MATERIAL_ATTENUATION_DB[w.material]


def test_every_room_has_a_door_and_rooms_do_not_overlap(site: Site) -> None:
    served = Counter(r for o in site.openings for r in o.rooms)
    assert all(served[r.id] >= 1 for r in site.rooms)
    for lv in site.levels:
        polys = [r.polygon for r in site.rooms_on(lv.id)]
        for a, b in itertools.combinations(polys, 2):
            assert a.intersection(b).area < 1e-9
        assert shapely.union_all(polys).area == pytest.approx(lv.outline.area)


def test_connectors_link_all_levels(site: Site) -> None:
    for b in site.buildings:
        lids = tuple(lv.id for lv in site.levels_of(b.id))
        kinds = {c.kind for c in site.connectors if c.levels == lids}
        assert kinds == {"elevator", "stairs"}
    for c in site.connectors:
        if c.kind == "ramp":  # a glass bridge meeting the next building's corridor
            assert [site.room(r).category for r in c.rooms] == ["corridor", "corridor"]
            assert len({site.level(lv).elevation_m for lv in c.levels}) == 1
            assert all(site.room(r).polygon.covers(shapely.Point(c.x, c.y)) for r in c.rooms)
            continue
        cats = {site.room(r).category for r in c.rooms}
        assert cats == {c.kind}
        assert all(site.room(r).polygon.contains(shapely.Point(c.x, c.y)) for r in c.rooms)
    bridges = [c for c in site.connectors if c.kind == "ramp"]
    assert len(bridges) == 3 * (len(site.buildings) - 1)


def test_passes_validation(site: Site) -> None:
    validate = pytest.importorskip("floorplans.validate")
    assert validate.validate_site(site) == []


def test_gateways_are_in_their_rooms(site: Site) -> None:
    index = SiteIndex(site)
    lv = [index.level_index(g.level) for g in site.gateways]
    got = index.room_at([g.x for g in site.gateways], [g.y for g in site.gateways], lv)
    assert [index.room_ids[j] for j in got] == [g.room for g in site.gateways]
    assert all(2.7 <= g.height_m <= 3.0 for g in site.gateways)
    with_gw = {g.room for g in site.gateways}
    for r in site.rooms:
        if r.category in ("icu", "operating_room", "clean_utility", "dirty_utility",
                          "equipment_storage"):
            assert r.id in with_gw, r.id
    # corridor gateways 8-12 m apart
    for lid in ("A1", "B2"):
        xs = sorted(g.x for g in site.gateways if g.level == lid and g.room == f"{lid}.000")
        steps = np.diff(xs)
        assert len(xs) >= 6 and steps.min() >= 8.0 - 0.1 and steps.max() <= 12.0 + 0.1


def test_whole_site_is_walkable(site: Site) -> None:
    graph = WalkingGraph.from_site(site)
    ids = {r.id for r in site.rooms}
    for start in (site.rooms[0].id, site.rooms[-1].id):
        assert set(graph.distances_from(start)) == ids


def test_scales_with_parameters() -> None:
    big = generate_hospital(seed=1, buildings=3, levels_per_building=4, wards_per_level=3,
                            rooms_per_ward=12)
    assert len(big.buildings) == 3 and len(big.levels) == 12
    assert len(big.rooms) > 2 * len(generate_hospital(seed=1).rooms)
    assert len(big.connectors) == 6 + 2 * 4
    graph = WalkingGraph.from_site(big)
    assert len(graph.distances_from(big.rooms[0].id)) == len(big.rooms)
    single = generate_hospital(buildings=1, levels_per_building=1, wards_per_level=1)
    assert not single.connectors and len(single.levels) == 1


@pytest.mark.parametrize(
    ("kwargs", "match"),
    [
        ({"buildings": 0}, "buildings"),
        ({"buildings": 27}, "buildings"),
        ({"levels_per_building": 2.0}, "levels_per_building"),
        ({"wards_per_level": True}, "wards_per_level"),
        ({"rooms_per_ward": 5}, "rooms_per_ward"),
    ],
)
def test_bad_parameters(kwargs: dict[str, object], match: str) -> None:
    with pytest.raises(ValueError, match=match):
        generate_hospital(**kwargs)  # type: ignore[arg-type]


def test_room_level_layout_adds_a_gateway_in_every_patient_room() -> None:
    corridor = generate_hospital()
    room_level = generate_hospital(patient_room_gateways=True)
    # Same building: rooms, walls, doors and the corridor layout's gateways are unchanged.
    assert [(r.id, r.polygon.wkt) for r in room_level.rooms] == [
        (r.id, r.polygon.wkt) for r in corridor.rooms]
    assert [w.line.wkt for w in room_level.walls] == [w.line.wkt for w in corridor.walls]
    assert [o.geometry.wkt for o in room_level.openings] == [
        o.geometry.wkt for o in corridor.openings]
    spot = {(g.level, g.x, g.y, g.height_m, g.room) for g in corridor.gateways}
    spot_rl = {(g.level, g.x, g.y, g.height_m, g.room) for g in room_level.gateways}
    assert spot < spot_rl
    added = [g for g in room_level.gateways
             if (g.level, g.x, g.y, g.height_m, g.room) not in spot]
    patient = [r for r in corridor.rooms if r.category == "patient_room"]
    assert sorted(g.room or "" for g in added) == sorted(r.id for r in patient)
    for g in added:
        assert room_level.room(g.room or "").polygon.contains(shapely.Point(g.x, g.y))
    assert len({g.id for g in room_level.gateways}) == len(room_level.gateways)
    with pytest.raises(ValueError, match="patient_room_gateways"):
        generate_hospital(patient_room_gateways=1)  # type: ignore[arg-type]
