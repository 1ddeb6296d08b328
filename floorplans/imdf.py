"""Import an IMDF (OGC Indoor Mapping Data Format 1.0) archive into a :class:`Site`.

An archive is a directory or ``.zip`` with ``manifest.json`` and one GeoJSON file per feature
type (``level.geojson`` or ``level.json``, ``unit``, ``opening``, ``building``, optionally
``venue`` and ``footprint``). Features are dispatched by their ``feature_type`` member, so
renamed or split files (``unit_part1.geojson``) work too.

Mapping: ``level`` -> :class:`Level` (by ``ordinal``, building from ``building_ids``), ``unit``
-> :class:`Room` (IMDF category kept), ``opening`` -> :class:`Opening`; elevator/stairs/
escalator units that overlap across levels of a building -> one :class:`Connector`. IMDF has no
walls, so walls are derived from the enclosed units' boundaries minus the openings
(:mod:`floorplans.walls`). Defects of the source are reported as problems naming the IMDF
feature id; nothing is "fixed" silently.
"""

from __future__ import annotations

import zipfile
from collections import defaultdict
from collections.abc import Mapping
from pathlib import Path
from typing import Any

import orjson
from shapely.geometry import LineString, Point, Polygon, shape
from shapely.geometry.base import BaseGeometry

from floorplans.geo import LocalFrame, origin_of
from floorplans.model import (
    IMDF_UNIT_CATEGORIES,
    Building,
    Connector,
    Georeference,
    Level,
    Opening,
    Room,
    Site,
)
from floorplans.problems import FloorplanError, Problem
from floorplans.walls import derive_walls

__all__ = ["IMDF_VERSION", "OPEN_UNIT_CATEGORIES", "label", "link_shafts", "load_imdf"]

#: The only manifest version OGC IMDF 1.0 permits.
IMDF_VERSION = "1.0.0"

#: Unit categories without walls around them (their boundary is not a barrier).
OPEN_UNIT_CATEGORIES: frozenset[str] = frozenset(
    {
        "walkway", "walkway.island", "opentobelow", "unenclosedarea", "road", "vegetation",
        "terrace", "parking", "fieldofplay", "platform", "footbridge", "movingwalkway", "ramp",
        "steps", "escalator",
    }
)  # fmt: skip

#: The property keys IMDF 1.0 defines per feature type (anything else is reported).
_IMDF_PROPERTIES: Mapping[str, frozenset[str]] = {
    "unit": frozenset(
        {"category", "restriction", "accessibility", "name", "alt_name", "level_id",
         "display_point"}
    ),
    "level": frozenset(
        {"category", "restriction", "outdoor", "ordinal", "name", "short_name", "display_point",
         "address_id", "building_ids"}
    ),
    "building": frozenset(
        {"name", "alt_name", "category", "restriction", "display_point", "address_id"}
    ),
    "opening": frozenset(
        {"category", "accessibility", "access_control", "door", "name", "alt_name",
         "display_point", "level_id"}
    ),
    "venue": frozenset(
        {"category", "restriction", "name", "alt_name", "hours", "phone", "website",
         "display_point", "address_id"}
    ),
    "footprint": frozenset({"category", "name", "building_ids"}),
}  # fmt: skip

_SHAFT_KINDS = frozenset({"elevator", "stairs", "escalator"})
_LEVEL_HEIGHT_M = 4.0
_BUILDING_FAR_M = 100.0


def load_imdf(
    path: str | Path, *, origin: Georeference | None = None, language: str | None = None
) -> tuple[Site, list[Problem]]:
    """Read an IMDF archive.

    Args:
        path: Directory or ``.zip`` holding ``manifest.json`` and the feature files.
        origin: Georeference of the local frame; by default the centre of the levels,
            rotation 0.
        language: Preferred language of localised names (default: the manifest's, else "en").

    Returns:
        The site (local metres) and the problems found in the source.

    Raises:
        FloorplanError: The archive cannot be read or holds no level.
    """
    problems: list[Problem] = []
    manifest, features, archive_name = _read_archive(Path(path), problems)
    lang = (language or str(manifest.get("language") or "en")).split("-")[0]
    _check_manifest(manifest, problems)
    for ftype, items in features.items():
        allowed = _IMDF_PROPERTIES.get(ftype)
        for f in items:
            props = f.get("properties") or {}
            extra = sorted(set(props) - allowed) if allowed is not None else []
            if extra:
                problems.append(Problem(
                    "warning", _fid(f), "imdf-extra-properties",
                    f"{ftype} carries non-IMDF properties: {', '.join(extra)}",
                ))
    levels_raw = [f for f in features.get("level", []) if _geom(f, problems) is not None]
    if not levels_raw:
        raise FloorplanError(f"{path}: IMDF archive has no level with a geometry", problems)
    georef = origin or origin_of(
        g for f in levels_raw + features.get("unit", []) if (g := _geom(f, [])) is not None
    )
    frame = LocalFrame(georef)
    buildings = _buildings(features, frame, lang, problems)
    levels = _levels(levels_raw, buildings, frame, lang, problems)
    level_by_id = {lv.id: lv for lv in levels}
    rooms = _units(features.get("unit", []), level_by_id, frame, lang, problems)
    openings = _openings(features.get("opening", []), level_by_id, frame, problems)
    for lv in levels:
        if not any(r.level == lv.id for r in rooms):
            problems.append(Problem(
                "warning", lv.id, "imdf-level-without-units",
                f"level {lv.name!r} (ordinal {lv.ordinal}) has no unit",
            ))
    _check_building_placement(buildings, levels, problems)
    connectors, shaft_problems = link_shafts(
        [r for r in rooms if r.category in _SHAFT_KINDS], level_by_id
    )
    problems += shaft_problems
    walls = []
    for lv in levels:
        enclosed = [r.polygon for r in rooms
                    if r.level == lv.id and r.category not in OPEN_UNIT_CATEGORIES]
        walls += derive_walls(
            lv.id, enclosed, [o for o in openings if o.level == lv.id],
            id_prefix=f"wall-{lv.id}",
        )
    site_name = _site_name(features, buildings, lang) or archive_name
    site = Site.build(
        id=_slug(site_name), name=site_name,
        buildings=[b for b, _ in buildings.values()], levels=levels, rooms=rooms, walls=walls,
        openings=openings, connectors=connectors, georeference=georef,
    )
    return site, problems


def _read_archive(
    path: Path, problems: list[Problem]
) -> tuple[dict[str, Any], dict[str, list[dict[str, Any]]], str]:
    files: dict[str, bytes] = {}
    if path.is_dir():
        for p in sorted(path.iterdir()):
            if p.suffix in (".json", ".geojson") and p.is_file():
                files[p.name] = p.read_bytes()
    elif path.is_file() and zipfile.is_zipfile(path):
        with zipfile.ZipFile(path) as zf:
            for name in sorted(zf.namelist()):
                if name.endswith((".json", ".geojson")) and not name.startswith("__MACOSX"):
                    files[Path(name).name] = zf.read(name)
    else:
        raise FloorplanError(f"{path}: not an IMDF directory or .zip archive")
    manifest: dict[str, Any] = {}
    features: dict[str, list[dict[str, Any]]] = defaultdict(list)
    for name, raw in files.items():
        try:
            obj = orjson.loads(raw)
        except orjson.JSONDecodeError as exc:
            problems.append(Problem("error", "", "imdf-bad-json", f"{name}: not valid JSON: {exc}"))
            continue
        if name == "manifest.json":
            manifest = obj if isinstance(obj, dict) else {}
            continue
        if not isinstance(obj, dict) or not isinstance(obj.get("features"), list):
            problems.append(Problem(
                "warning", "", "imdf-not-collection", f"{name}: not a FeatureCollection; ignored"
            ))
            continue
        fallback = str(obj.get("name") or name.split(".")[0].split("_")[0])
        for f in obj["features"]:
            if isinstance(f, dict):
                features[str(f.get("feature_type") or fallback)].append(f)
    if not manifest:
        problems.append(Problem(
            "error", "", "imdf-no-manifest", f"{path.name}: manifest.json is missing or empty"
        ))
    return manifest, features, path.stem


def _check_manifest(manifest: Mapping[str, Any], problems: list[Problem]) -> None:
    version = manifest.get("version")
    if manifest and version != IMDF_VERSION:
        problems.append(Problem(
            "warning", "manifest", "imdf-version",
            f"manifest version {version!r} is not {IMDF_VERSION!r} (OGC IMDF 1.0); "
            "imported as 1.0",
        ))


def _fid(f: Mapping[str, Any]) -> str:
    return str(f.get("id") or "")


def _geom(f: Mapping[str, Any], problems: list[Problem]) -> BaseGeometry | None:
    g = f.get("geometry")
    if g is None:
        return None
    try:
        geom = shape(g)
    except Exception as exc:  # shapely raises several types for malformed GeoJSON
        problems.append(Problem("error", _fid(f), "imdf-bad-geometry", str(exc)))
        return None
    return None if geom.is_empty else geom


def _polygon(geom: BaseGeometry, fid: str, what: str, problems: list[Problem]) -> Polygon | None:
    if isinstance(geom, Polygon):
        return geom
    if geom.geom_type == "MultiPolygon":
        parts = sorted(geom.geoms, key=lambda p: -p.area)
        if len(parts) > 1:
            problems.append(Problem(
                "warning", fid, "imdf-multipolygon",
                f"{what} has {len(parts)} polygons; kept the largest",
            ))
        first = parts[0]
        assert isinstance(first, Polygon)
        return first
    problems.append(Problem(
        "error", fid, "imdf-bad-geometry", f"{what} needs a polygon, got {geom.geom_type}"
    ))
    return None


def label(value: Any, language: str = "en") -> str:
    """The text of an IMDF LABELS object (``{"en": "..."}``) or a plain string ("" if none)."""
    if value is None:
        return ""
    if isinstance(value, str):
        return value
    if isinstance(value, Mapping) and value:
        for key, text in value.items():
            if str(key).split("-")[0] == language and text:
                return str(text)
        return str(next(iter(value.values())) or "")
    return str(value)


def _buildings(
    features: Mapping[str, list[dict[str, Any]]], frame: LocalFrame, lang: str,
    problems: list[Problem],
) -> dict[str, tuple[Building, Point | None]]:
    outlines: dict[str, Polygon] = {}
    for fp in features.get("footprint", []):
        g = _geom(fp, problems)
        poly = _polygon(frame.geometry_to_local(g), _fid(fp), "footprint", problems) if g else None
        props = fp.get("properties") or {}
        if poly is not None and props.get("category", "ground") == "ground":
            for bid in props.get("building_ids") or []:
                outlines[str(bid)] = poly
    out: dict[str, tuple[Building, Point | None]] = {}
    for f in features.get("building", []):
        props = f.get("properties") or {}
        bid = _fid(f)
        dp = props.get("display_point")
        point = None
        if isinstance(dp, Mapping) and dp.get("type") == "Point":
            local = frame.geometry_to_local(shape(dp))
            point = local if isinstance(local, Point) else None
        name = label(props.get("name"), lang) or bid
        out[bid] = (Building(id=bid, name=name, outline=outlines.get(bid)), point)
    return out


def _levels(
    raw: list[dict[str, Any]], buildings: dict[str, tuple[Building, Point | None]],
    frame: LocalFrame, lang: str, problems: list[Problem],
) -> list[Level]:
    levels: list[Level] = []
    for f in raw:
        fid, props = _fid(f), f.get("properties") or {}
        ordinal = props.get("ordinal")
        if isinstance(ordinal, bool) or not isinstance(ordinal, int | float) or ordinal != int(
            ordinal
        ):
            problems.append(Problem(
                "error", fid, "imdf-bad-ordinal",
                f"level ordinal must be an integer, got {ordinal!r}",
            ))
            continue
        geom = _geom(f, problems)
        assert geom is not None
        outline = _polygon(frame.geometry_to_local(geom), fid, "level", problems)
        if outline is None:
            continue
        bids = [str(b) for b in props.get("building_ids") or []]
        if not bids:
            problems.append(Problem(
                "warning", fid, "imdf-level-without-building",
                "level has no building_ids; assigned to building 'building'",
            ))
            if "building" not in buildings:
                buildings["building"] = (Building(id="building", name="Building"), None)
            bids = ["building"]
        for bid in bids:
            if bid not in buildings:
                problems.append(Problem(
                    "error", fid, "imdf-unknown-building",
                    f"level refers to building {bid!r}, which the archive does not contain",
                ))
                buildings[bid] = (Building(id=bid, name=bid), None)
        if len(bids) > 1:
            problems.append(Problem(
                "warning", fid, "imdf-level-many-buildings",
                f"level spans {len(bids)} buildings; assigned to the first, {bids[0]!r}",
            ))
        name = label(props.get("name"), lang) or label(props.get("short_name"), lang) or fid
        levels.append(Level(
            id=fid, building=bids[0], ordinal=int(ordinal), name=name,
            elevation_m=int(ordinal) * _LEVEL_HEIGHT_M, height_m=_LEVEL_HEIGHT_M, outline=outline,
        ))
    return levels


def _units(
    raw: list[dict[str, Any]], levels: Mapping[str, Level], frame: LocalFrame, lang: str,
    problems: list[Problem],
) -> list[Room]:
    rooms: list[Room] = []
    for f in raw:
        fid, props = _fid(f), f.get("properties") or {}
        level_id = str(props.get("level_id"))
        if level_id not in levels:
            problems.append(Problem(
                "error", fid, "imdf-unknown-level", f"unit refers to unknown level {level_id!r}"
            ))
            continue
        category = str(props.get("category") or "unspecified")
        if category not in IMDF_UNIT_CATEGORIES:
            problems.append(Problem(
                "warning", fid, "imdf-unknown-category",
                f"unit category {category!r} is not an IMDF unit category; using 'unspecified'",
            ))
            category = "unspecified"
        geom = _geom(f, problems)
        if geom is None:
            problems.append(Problem("error", fid, "imdf-bad-geometry", "unit has no geometry"))
            continue
        poly = _polygon(frame.geometry_to_local(geom), fid, "unit", problems)
        if poly is None:
            continue
        name = label(props.get("name"), lang) or label(props.get("alt_name"), lang)
        rooms.append(Room(id=fid, level=level_id, name=name, category=category, polygon=poly))
    return rooms


def _openings(
    raw: list[dict[str, Any]], levels: Mapping[str, Level], frame: LocalFrame,
    problems: list[Problem],
) -> list[Opening]:
    out: list[Opening] = []
    for f in raw:
        fid, props = _fid(f), f.get("properties") or {}
        level_id = str(props.get("level_id"))
        if level_id not in levels:
            problems.append(Problem(
                "error", fid, "imdf-unknown-level", f"opening refers to unknown level {level_id!r}"
            ))
            continue
        geom = _geom(f, problems)
        local = frame.geometry_to_local(geom) if geom is not None else None
        if not isinstance(local, LineString | Point):
            problems.append(Problem(
                "error", fid, "imdf-bad-geometry", "opening needs a LineString geometry"
            ))
            continue
        out.append(Opening(
            id=fid, level=level_id, geometry=local, kind=str(props.get("category") or "door")
        ))
    return out


def _check_building_placement(
    buildings: Mapping[str, tuple[Building, Point | None]], levels: list[Level],
    problems: list[Problem],
) -> None:
    for bid, (building, point) in buildings.items():
        mine = [lv for lv in levels if lv.building == bid]
        if point is None or not mine:
            continue
        far = min(lv.outline.distance(point) for lv in mine)
        if far > _BUILDING_FAR_M:
            problems.append(Problem(
                "warning", bid, "imdf-building-far",
                f"building {building.name!r} is placed {far:.0f} m from its {len(mine)} "
                "level(s); the levels' building_ids are probably wrong",
            ))


def _site_name(
    features: Mapping[str, list[dict[str, Any]]],
    buildings: Mapping[str, tuple[Building, Point | None]], lang: str,
) -> str:
    for venue in features.get("venue", []):
        name = label((venue.get("properties") or {}).get("name"), lang)
        if name:
            return name
    if len(buildings) == 1:
        return next(iter(buildings.values()))[0].name
    return ""


def _slug(text: str) -> str:
    keep = "".join(c.lower() if c.isalnum() else "-" for c in text)
    return "-".join(p for p in keep.split("-") if p) or "site"


def link_shafts(
    shafts: list[Room], levels: Mapping[str, Level], *, min_overlap: float = 0.2
) -> tuple[list[Connector], list[Problem]]:
    """Connectors from elevator/stairs rooms that lie above one another.

    Two shaft rooms of the same category on different levels of one building are the same
    shaft when their footprints overlap by at least ``min_overlap`` of the smaller one.
    Each connected group spanning two or more levels becomes a :class:`Connector` named
    ``connector-{first room id}`` at the centroid of the group's first room; a shaft room
    with no counterpart is reported (``shaft-unlinked``, warning).

    Args:
        shafts: Rooms whose category names the connector kind (elevator, stairs, escalator).
        levels: The levels by id.
        min_overlap: Overlap fraction that links two rooms.

    Returns:
        The connectors and the problems.
    """
    parent = list(range(len(shafts)))

    def find(i: int) -> int:
        while parent[i] != i:
            parent[i] = parent[parent[i]]
            i = parent[i]
        return i

    for i, a in enumerate(shafts):
        for j in range(i + 1, len(shafts)):
            b = shafts[j]
            la, lb = levels[a.level], levels[b.level]
            if a.category != b.category or la.id == lb.id or la.building != lb.building:
                continue
            smaller = min(a.polygon.area, b.polygon.area)
            if smaller > 0 and a.polygon.intersection(b.polygon).area >= min_overlap * smaller:
                parent[find(i)] = find(j)
    groups: dict[int, list[Room]] = defaultdict(list)
    for i, room in enumerate(shafts):
        groups[find(i)].append(room)
    connectors: list[Connector] = []
    problems: list[Problem] = []
    for members in groups.values():
        by_level = sorted({m.level for m in members}, key=lambda lid: levels[lid].ordinal)
        first = members[0]
        if len(by_level) < 2:
            for m in members:
                problems.append(Problem(
                    "warning", m.id, "shaft-unlinked",
                    f"{m.category} room on level {levels[m.level].name!r} overlaps no "
                    f"{m.category} room on another level; no connector made",
                ))
            continue
        c = first.polygon.centroid
        connectors.append(Connector(
            id=f"connector-{first.id}", kind=first.category, levels=tuple(by_level),
            x=float(c.x), y=float(c.y), rooms=tuple(m.id for m in members),
        ))
    return connectors, problems
