"""Import OpenStreetMap Simple Indoor Tagging (SIT) GeoJSON into a :class:`Site`.

The input is a GeoJSON FeatureCollection as produced by ``osmtogeojson`` (tags flattened into
``properties``, OSM ids like ``way/123`` as feature ids). Understood tags:

* ``indoor=room|corridor|area`` polygons -> rooms (``area`` is open: no walls around it);
  ``indoor=level`` polygons -> level outlines; ``indoor=wall`` lines -> walls (``material=*``);
  ``door=*``/``entrance=*`` nodes -> openings; ``highway=elevator`` nodes and
  ``highway=steps`` lines spanning levels -> connectors.
* ``level=*``: a number, a list ``0;1``, a range ``-1-2``; ``repeat_on=*`` the same. A feature
  on several levels is repeated on each (ids ``way/1@L0``, ``way/1@L1``); stairs and elevators on
  several levels also become a connector through those rooms.
* Categories from secondary tags (``room=*``, ``amenity=*``, ``shop=*``, ``highway=elevator``,
  ``stairs=yes``), mapped onto :data:`~floorplans.model.ROOM_CATEGORIES`.

Walls are derived from the boundaries of rooms and corridors (SIT: they are enclosed by walls)
minus doors, plus the walls the source draws. Features without ``level`` are reported and
skipped.
"""

from __future__ import annotations

import re
from collections import defaultdict
from collections.abc import Mapping
from pathlib import Path
from typing import Any

import orjson
from shapely.geometry import LineString, Point, Polygon, shape
from shapely.geometry.base import BaseGeometry
from shapely.ops import unary_union

from floorplans.geo import LocalFrame, origin_of
from floorplans.model import (
    MATERIAL_ATTENUATION_DB,
    Building,
    Connector,
    Georeference,
    Level,
    Opening,
    Room,
    Site,
    Wall,
)
from floorplans.problems import FloorplanError, Problem
from floorplans.walls import derive_walls

__all__ = ["category_of", "load_osm", "parse_levels", "parse_osm"]

_LEVEL_HEIGHT_M = 4.0
_RANGE = re.compile(r"^\s*(-?\d+(?:\.\d+)?)\s*-\s*(-?\d+(?:\.\d+)?)\s*$")
_INDOORISH = ("indoor", "door", "entrance", "room", "repeat_on")

_ROOM_TAG: Mapping[str, str] = {
    "toilets": "restroom", "toilet": "restroom", "office": "office", "kitchen": "kitchen",
    "class": "classroom", "classroom": "classroom", "conference": "conferenceroom",
    "meeting": "conferenceroom", "laboratory": "laboratory", "auditorium": "auditorium",
    "library": "library", "storage": "storage", "store": "storage", "waiting": "waitingroom",
    "waiting_room": "waitingroom", "lobby": "lobby", "entrance": "lobby",
    "restaurant": "foodservice",
    "technical": "nonpublic", "disused": "nonpublic", "stairs": "stairs", "elevator": "elevator",
    "shower": "shower", "server": "serverroom", "bedroom": "patient_room", "ward": "patient_room",
    "nursing": "nurse_station", "operating": "operating_room", "shop": "room",
}  # fmt: skip
_AMENITY_TAG: Mapping[str, str] = {
    "toilets": "restroom", "restaurant": "foodservice", "fast_food": "foodservice",
    "cafe": "foodservice", "food_court": "foodservice", "parking": "parking",
    "library": "library", "first_aid": "firstaid", "lounge": "lounge",
}  # fmt: skip
_MATERIALS = frozenset(MATERIAL_ATTENUATION_DB)


def load_osm(
    path: str | Path, *, origin: Georeference | None = None
) -> tuple[Site, list[Problem]]:
    """Read an OSM Simple Indoor Tagging GeoJSON file (see :func:`parse_osm`).

    Raises:
        FloorplanError: The file is missing, not JSON, or has no feature with a level.
    """
    p = Path(path)
    try:
        obj = orjson.loads(p.read_bytes())
    except OSError as exc:
        raise FloorplanError(f"{p}: cannot read: {exc.strerror}") from exc
    except orjson.JSONDecodeError as exc:
        raise FloorplanError(f"{p}: not valid JSON: {exc}") from exc
    return parse_osm(obj, origin=origin, name=p.stem)


def parse_levels(value: Any) -> list[float]:
    """The levels of an OSM ``level``/``repeat_on`` value: ``"0"``, ``"0;1"``, ``"-1-2"``.

    Raises:
        ValueError: The value is not a level list.
    """
    out: list[float] = []
    for part in str(value).split(";"):
        part = part.strip()
        if not part:
            continue
        m = _RANGE.match(part)
        if m:
            lo, hi = sorted((float(m.group(1)), float(m.group(2))))
            if hi - lo > 200:
                raise ValueError(f"level range {part!r} is implausibly large")
            v = lo
            while v <= hi + 1e-9:
                out.append(v)
                v += 1.0
            continue
        try:
            out.append(float(part))
        except ValueError:
            raise ValueError(f"{part!r} is not a level number or range") from None
    if not out:
        raise ValueError(f"empty level value {value!r}")
    return sorted(set(out))


def category_of(tags: Mapping[str, Any]) -> str:
    """The room category (one of ``ROOM_CATEGORIES``) of an OSM feature's tags."""
    if tags.get("highway") == "elevator" or tags.get("elevator") == "yes":
        return "elevator"
    if tags.get("conveying") in ("yes", "forward", "backward", "reversible"):
        return "escalator"
    if tags.get("stairs") == "yes" or tags.get("highway") == "steps":
        return "stairs"
    room, amenity = str(tags.get("room", "")), str(tags.get("amenity", ""))
    if room in ("toilets", "toilet") or amenity == "toilets":
        female, male = tags.get("female") == "yes", tags.get("male") == "yes"
        return "restroom.female" if female and not male else (
            "restroom.male" if male and not female else "restroom"
        )
    if amenity in _AMENITY_TAG:
        return _AMENITY_TAG[amenity]
    if room in _ROOM_TAG:
        return _ROOM_TAG[room]
    if tags.get("indoor") == "corridor":
        return "corridor"
    if tags.get("indoor") == "area":
        return "unenclosedarea"
    return "room"


def _level_id(v: float) -> str:
    return f"L{int(v)}" if v == int(v) else f"L{v:g}"


def _fid(f: Mapping[str, Any], index: int) -> str:
    props = f.get("properties") or {}
    return str(f.get("id") or props.get("id") or props.get("@id") or f"#{index}")


def parse_osm(
    obj: Any, *, origin: Georeference | None = None, name: str = "osm"
) -> tuple[Site, list[Problem]]:
    """Build a site from a parsed OSM SIT GeoJSON FeatureCollection (lon/lat).

    Args:
        obj: The parsed GeoJSON.
        origin: Georeference of the local frame; by default the centre of the indoor features.
        name: Site name when no ``shop=mall``/``building`` name is found.

    Returns:
        The site (local metres) and the problems: features without ``level`` (warning,
        skipped), unreadable levels or geometries, unclosed rooms.

    Raises:
        FloorplanError: Not a FeatureCollection, or no feature has a level.
    """
    if not isinstance(obj, Mapping) or not isinstance(obj.get("features"), list):
        raise FloorplanError(f"{name}: expected a GeoJSON FeatureCollection")
    problems: list[Problem] = []
    leveled: list[tuple[str, dict[str, Any], BaseGeometry, list[float]]] = []
    context: list[tuple[str, dict[str, Any], BaseGeometry]] = []
    ignored: list[str] = []
    for index, f in enumerate(obj["features"]):
        if not isinstance(f, Mapping):
            problems.append(Problem("error", f"#{index}", "osm-bad-feature", "not a Feature"))
            continue
        fid, tags = _fid(f, index), dict(f.get("properties") or {})
        try:
            geom = shape(f["geometry"]) if f.get("geometry") else None
        except Exception as exc:  # shapely raises several types for malformed GeoJSON
            problems.append(Problem("error", fid, "osm-bad-geometry", str(exc)))
            continue
        if geom is None or geom.is_empty:
            continue
        if "level" not in tags:
            if any(k in tags for k in _INDOORISH):
                problems.append(Problem(
                    "warning", fid, "osm-no-level", "indoor feature has no 'level' tag; skipped"
                ))
            else:
                context.append((fid, tags, geom))
            continue
        try:
            lvls = parse_levels(tags["level"])
            if "repeat_on" in tags:
                lvls = sorted(set(lvls) | set(parse_levels(tags["repeat_on"])))
        except ValueError as exc:
            problems.append(Problem("error", fid, "osm-bad-level", str(exc)))
            continue
        leveled.append((fid, tags, geom, lvls))
    if not leveled:
        raise FloorplanError(f"{name}: no feature has a 'level' tag", problems)
    if context:
        problems.append(Problem(
            "warning", "", "osm-outdoor-skipped",
            f"{len(context)} features without 'level' (outdoor context: buildings, addresses) "
            f"skipped, e.g. {', '.join(c[0] for c in context[:3])}",
        ))
    georef = origin or origin_of(g for _, _, g, _ in leveled)
    frame = LocalFrame(georef)
    local = [(fid, tags, frame.geometry_to_local(g), lv) for fid, tags, g, lv in leveled]
    values = sorted({v for *_, lv in local for v in lv})
    ordinals = _ordinals(values)
    b_name = _building_name(context, [g for _, _, g, _ in leveled]) or name
    rooms: list[Room] = []
    enclosed: dict[str, list[Polygon]] = defaultdict(list)
    walls: list[Wall] = []
    openings: list[Opening] = []
    connectors: list[Connector] = []
    outlines: dict[str, list[BaseGeometry]] = defaultdict(list)
    drawn_outline: dict[str, Polygon] = {}
    for fid, tags, geom, lvls in local:
        ids = [_level_id(v) for v in lvls]
        multi = len(ids) > 1
        indoor = tags.get("indoor")
        if isinstance(geom, LineString) and geom.is_ring and indoor in ("room", "corridor", "area"):
            geom = Polygon(geom.coords)
        if indoor == "level" and isinstance(geom, Polygon):
            for lid in ids:
                drawn_outline.setdefault(lid, geom)
        elif indoor in ("room", "corridor", "area"):
            if not isinstance(geom, Polygon):
                problems.append(Problem(
                    "warning", fid, "osm-unclosed-room",
                    f"indoor={indoor} is a {geom.geom_type}, not a closed area; skipped",
                ))
                continue
            cat = category_of(tags)
            room_ids = [f"{fid}@{lid}" if multi else fid for lid in ids]
            for rid, lid in zip(room_ids, ids, strict=True):
                rooms.append(Room(
                    id=rid, level=lid, name=str(tags.get("name") or tags.get("ref") or ""),
                    category=cat, polygon=geom,
                ))
                outlines[lid].append(geom)
                if indoor != "area":
                    enclosed[lid].append(geom)
            if multi and cat in ("elevator", "stairs", "escalator"):
                c = geom.centroid
                connectors.append(Connector(
                    id=f"connector-{fid}", kind=cat, levels=tuple(ids), x=float(c.x),
                    y=float(c.y), rooms=tuple(room_ids),
                ))
        elif indoor == "wall" and isinstance(geom, LineString | Polygon):
            line = geom if isinstance(geom, LineString) else LineString(geom.exterior.coords)
            material = str(tags.get("material") or tags.get("wall") or "drywall")
            if material not in _MATERIALS:
                material = "drywall"
            for lid in ids:
                walls.append(Wall(
                    id=f"{fid}@{lid}" if multi else fid, level=lid, line=line, material=material,
                    attenuation_db=MATERIAL_ATTENUATION_DB[material],
                ))
        elif ("door" in tags or "entrance" in tags) and isinstance(geom, Point | LineString):
            kind = "opening" if tags.get("door") == "no" else "door"
            for lid in ids:
                openings.append(Opening(id=f"{fid}@{lid}" if multi else fid, level=lid,
                                        geometry=geom, kind=kind))
        elif multi and category_of(tags) in ("elevator", "stairs", "escalator") and isinstance(
            geom, Point | LineString
        ):
            pt = geom if isinstance(geom, Point) else geom.interpolate(0.5, normalized=True)
            connectors.append(Connector(
                id=f"connector-{fid}", kind=category_of(tags), levels=tuple(ids),
                x=float(pt.x), y=float(pt.y),
            ))
        else:
            ignored.append(fid)
    connectors = _dedupe_connectors(connectors, rooms)
    if ignored:
        problems.append(Problem(
            "warning", "", "osm-ignored",
            f"{len(ignored)} features with a level but no indoor meaning ignored: "
            f"{', '.join(ignored[:5])}{', ...' if len(ignored) > 5 else ''}",
        ))
    levels = []
    for v in values:
        lid = _level_id(v)
        outline = drawn_outline.get(lid) or _outline(outlines.get(lid, []))
        if outline is None:
            problems.append(Problem(
                "warning", lid, "osm-empty-level", f"level {v:g} has no area; skipped"
            ))
            continue
        levels.append(Level(
            id=lid, building="building", ordinal=ordinals[v], name=f"Level {v:g}",
            elevation_m=ordinals[v] * _LEVEL_HEIGHT_M, height_m=_LEVEL_HEIGHT_M, outline=outline,
        ))
    for lv in levels:
        drawn = [w.line for w in walls if w.level == lv.id]
        walls += derive_walls(
            lv.id, enclosed[lv.id], [o for o in openings if o.level == lv.id],
            id_prefix=f"wall-{lv.id}", existing=drawn,
        )
    site = Site.build(
        id=_slug(b_name), name=b_name, buildings=[Building(id="building", name=b_name)],
        levels=levels, rooms=rooms, walls=walls, openings=openings, connectors=connectors,
        georeference=georef,
    )
    return site, problems


def _dedupe_connectors(connectors: list[Connector], rooms: list[Room]) -> list[Connector]:
    """Drop a node connector (no rooms) inside a room connector of the same kind and levels.

    Mappers often tag both the elevator shaft (a room) and an ``highway=elevator`` node in it.
    """
    polygons = {r.id: r.polygon for r in rooms}
    shafts = [c for c in connectors if c.rooms]
    out = []
    for c in connectors:
        if not c.rooms and any(
            s.kind == c.kind and set(c.levels) <= set(s.levels)
            and polygons[s.rooms[0]].buffer(1.0).contains(Point(c.x, c.y))
            for s in shafts
        ):
            continue
        out.append(c)
    return out


def _ordinals(values: list[float]) -> dict[float, int]:
    if all(v == int(v) for v in values):
        return {v: int(v) for v in values}
    zero = next((i for i, v in enumerate(values) if v >= 0), 0)
    return {v: i - zero for i, v in enumerate(values)}


def _outline(parts: list[BaseGeometry]) -> Polygon | None:
    """The union of a level's rooms, closed over gaps up to 2 m; its hull if still split."""
    if not parts:
        return None
    union = unary_union(parts).buffer(1.0, join_style="mitre").buffer(-1.0, join_style="mitre")
    if isinstance(union, Polygon) and not union.is_empty:
        return union
    hull = unary_union(parts).convex_hull
    return hull if isinstance(hull, Polygon) else None


def _building_name(
    context: list[tuple[str, dict[str, Any], BaseGeometry]], indoor: list[BaseGeometry]
) -> str:
    """The name of the named outdoor polygon containing most indoor features."""
    best, best_n = "", 0
    centres = [g.representative_point() for g in indoor]
    for _, tags, geom in context:
        if tags.get("name") and geom.geom_type in ("Polygon", "MultiPolygon"):
            n = sum(1 for c in centres if geom.contains(c))
            if n > best_n:
                best, best_n = str(tags["name"]), n
    return best


def _slug(text: str) -> str:
    keep = "".join(c.lower() if c.isalnum() else "-" for c in text)
    return "-".join(p for p in keep.split("-") if p) or "site"
