"""Validation rules (one small site per defect) and the documented example plan."""

from __future__ import annotations

import re
from dataclasses import replace
from pathlib import Path

import orjson
import pytest
from shapely.geometry import LineString, Point, Polygon, box

from floorplans.geojson import parse_site
from floorplans.model import (
    Building,
    Connector,
    Gateway,
    Level,
    Opening,
    Room,
    Site,
    Wall,
    Zone,
)
from floorplans.problems import Problem
from floorplans.validate import has_errors, validate_site

DOC = Path(__file__).resolve().parents[1] / "docs" / "floorplan-format.md"


def doc_example() -> dict[str, object]:
    text = DOC.read_text(encoding="utf-8")
    section = text.split("## Complete example", 1)[1]
    match = re.search(r"```json\n(.*?)\n```", section, re.S)
    assert match, "docs/floorplan-format.md lost its example block"
    obj = orjson.loads(match.group(1))
    assert isinstance(obj, dict)
    return obj


def test_documented_example_loads_and_validates_cleanly() -> None:
    site, problems = parse_site(doc_example(), source="docs/floorplan-format.md")
    assert problems == []
    assert validate_site(site) == []
    assert [lv.id for lv in site.levels_of("A")] == ["A-0", "A-1"]
    assert len(site.rooms) == 11 and len(site.gateways) == 5
    assert {r.category for r in site.rooms} >= {"icu", "operating_room", "stairs", "corridor"}
    assert {w.material for w in site.walls} == {"concrete", "drywall", "brick", "glass", "lead"}
    assert site.connectors[0].levels == ("A-0", "A-1")
    assert site.georeference is not None and site.georeference.rotation_deg == 12.5


def test_every_documented_code_is_one_the_code_can_emit() -> None:
    text = DOC.read_text(encoding="utf-8")
    table = text.split("## Validation", 1)[1].split("## Importing", 1)[0]
    codes = set(re.findall(r"^\| `([a-z-]+)` \|", table, re.M))
    sources = "".join(
        (DOC.parents[1] / "floorplans" / f).read_text() for f in ("validate.py", "geojson.py")
    )
    missing = {c for c in codes if f'"{c}"' not in sources}
    assert codes and not missing, missing


def base_site(**changes: object) -> Site:
    outline = box(0, 0, 20, 10)
    parts: dict[str, object] = {
        "buildings": [Building("B", "B")],
        "levels": [Level("L0", "B", 0, "Ground", 0.0, 4.0, outline)],
        "rooms": [Room("R1", "L0", "One", "office", box(0, 0, 10, 10)),
                  Room("R2", "L0", "Two", "patient_room", box(10, 0, 20, 10))],
        "walls": [Wall("W1", "L0", LineString([(10, 0), (10, 10)]))],
        "openings": [Opening("D1", "L0", LineString([(10, 4), (10, 5)]), rooms=("R1", "R2"))],
        "gateways": [Gateway("G1", "L0", 5.0, 5.0, room="R1")],
    }
    parts.update(changes)
    return Site.build(id="s", name="s", **parts)  # type: ignore[arg-type]


def codes(problems: list[Problem]) -> set[tuple[str, str, str]]:
    return {(p.severity, p.feature_id, p.code) for p in problems}


def test_base_site_is_clean() -> None:
    assert validate_site(base_site()) == []


def test_duplicate_ids_across_types() -> None:
    site = base_site(zones=[Zone("R1", "z", "zone", "L0", box(0, 0, 1, 1))])
    (p,) = [p for p in validate_site(site) if p.code == "duplicate-id"]
    assert p.feature_id == "R1" and "1 room, 1 zone" in p.message


def test_self_intersecting_room_is_explained() -> None:
    bowtie = Polygon([(0, 0), (10, 10), (10, 0), (0, 10)])
    site = base_site(rooms=[Room("R1", "L0", "x", "office", bowtie)])
    (p,) = [p for p in validate_site(site) if p.code == "invalid-polygon"]
    assert p.feature_id == "R1" and "Self-intersection" in p.message


def test_overlap_beyond_tolerance_but_touching_is_fine() -> None:
    touching = validate_site(base_site())
    assert not any(p.code == "room-overlap" for p in touching)
    site = base_site(rooms=[Room("R1", "L0", "x", "office", box(0, 0, 10.5, 10)),
                            Room("R2", "L0", "y", "office", box(10, 0, 20, 10))])
    (p,) = [p for p in validate_site(site) if p.code == "room-overlap"]
    assert p.feature_id == "R1" and "'R2'" in p.message and "5.00 m²" in p.message
    slop = base_site(rooms=[Room("R1", "L0", "x", "office", box(0, 0, 10.001, 10)),
                            Room("R2", "L0", "y", "office", box(10, 0, 20, 10))])
    assert not any(p.code == "room-overlap" for p in validate_site(slop))


def test_references_to_unknown_features() -> None:
    site = base_site(
        levels=[Level("L0", "nobuilding", 0, "Ground", 0.0, 4.0, box(0, 0, 20, 10))],
        walls=[Wall("W9", "L7", LineString([(0, 0), (1, 0)]))],
        openings=[Opening("D9", "L0", Point(10, 4), rooms=("R1", "R404"))],
        connectors=[Connector("C1", "stairs", ("L0", "L5"), 1.0, 1.0, rooms=("R1", "Rx"))],
        gateways=[Gateway("G1", "L0", 5, 5, room="nope"), Gateway("G2", "L3", 1, 1)],
    )
    found = codes(validate_site(site))
    assert ("error", "L0", "unknown-building") in found
    assert ("error", "W9", "unknown-level") in found
    assert ("error", "D9", "unknown-room") in found
    assert ("error", "C1", "unknown-level") in found and ("error", "C1", "unknown-room") in found
    assert ("error", "G1", "unknown-room") in found and ("error", "G2", "unknown-level") in found
    assert ("warning", "B", "building-without-levels") in found


def test_gateway_outside_level_and_tolerance() -> None:
    far = base_site(gateways=[Gateway("G1", "L0", 25.0, 5.0)])
    (p,) = [p for p in validate_site(far) if p.code == "gateway-outside-level"]
    assert p.severity == "error" and "5.0 m outside" in p.message
    facade = base_site(gateways=[Gateway("G1", "L0", 20.3, 5.0)])
    assert not any(p.code == "gateway-outside-level" for p in validate_site(facade))


def test_level_without_gateways_is_a_warning() -> None:
    problems = validate_site(base_site(gateways=[]))
    assert codes(problems) == {("warning", "L0", "level-without-gateways")}
    assert not has_errors(problems)


def test_categories_walls_connectors_and_levels() -> None:
    site = base_site(
        levels=[Level("L0", "B", 0, "Ground", 0.0, 4.0, box(0, 0, 20, 10)),
                Level("L1", "B", 0, "Dup", 4.0, 0.0, box(0, 0, 20, 10))],
        rooms=[Room("R1", "L0", "x", "ballroom", box(0, 0, 10, 10)),
               Room("R2", "L0", "y", "office", box(30, 0, 40, 10))],
        walls=[Wall("W0", "L0", LineString([(1, 1), (1, 1)])),
               Wall("W1", "L0", LineString([(0, 0), (1, 0)]), material="cheese",
                    attenuation_db=-1.0)],
        connectors=[Connector("C1", "teleporter", ("L0", "L0"), 1.0, 1.0)],
        gateways=[Gateway("G1", "L0", 5, 5, height_m=9.0, rssi_1m=5.0, path_loss_exponent=9.0)],
    )
    found = codes(validate_site(site))
    assert ("error", "R1", "unknown-category") in found
    assert ("error", "R2", "room-outside-level") in found
    assert ("error", "W0", "zero-length-wall") in found
    assert ("warning", "W1", "unknown-material") in found
    assert ("error", "W1", "bad-attenuation") in found
    assert ("error", "C1", "connector-levels") in found
    assert ("warning", "C1", "unknown-connector-kind") in found
    assert ("error", "L1", "duplicate-ordinal") in found and ("error", "L1", "bad-height") in found
    assert ("warning", "G1", "gateway-height") in found
    assert ("warning", "G1", "implausible-calibration") in found


def test_room_partly_outside_and_other_level_references() -> None:
    site = base_site(
        levels=[Level("L0", "B", 0, "G", 0.0, 4.0, box(0, 0, 20, 10)),
                Level("L1", "B", 1, "1", 4.0, 4.0, box(0, 0, 20, 10))],
        rooms=[Room("R1", "L0", "x", "office", box(0, 0, 10, 11)),
               Room("R2", "L1", "y", "office", box(10, 0, 20, 10))],
        gateways=[Gateway("G1", "L0", 5, 5, room="R2"), Gateway("G2", "L1", 15, 5)],
        connectors=[Connector("C1", "elevator", ("L0", "L1"), 1, 1, rooms=("R1", "R2"))],
    )
    found = codes(validate_site(site))
    assert ("warning", "R1", "room-partly-outside-level") in found
    assert ("error", "G1", "room-on-other-level") in found
    assert ("error", "D1", "room-on-other-level") in found
    assert not any(c == "C1" for _, c, _ in found)


def test_empty_and_invalid_outlines() -> None:
    site = base_site(levels=[replace(base_site().levels[0], outline=Polygon())])
    found = codes(validate_site(site))
    assert ("error", "L0", "empty-polygon") in found
    assert has_errors(validate_site(site))


@pytest.mark.parametrize("bad", [Polygon([(0, 0), (2, 2), (2, 0), (0, 2)])])
def test_invalid_zone(bad: Polygon) -> None:
    site = base_site(zones=[Zone("Z", "z", "zone", "L0", bad)])
    assert ("error", "Z", "invalid-polygon") in codes(validate_site(site))
