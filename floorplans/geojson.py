"""Sporing's native floor-plan format: one GeoJSON FeatureCollection per site, in local metres.

See ``docs/floorplan-format.md`` for the contract. Reading is tolerant: a feature that cannot
be understood is skipped and reported as a :class:`~floorplans.problems.Problem` naming its id,
so that one bad feature never hides the rest of the plan.
"""

from __future__ import annotations

from collections.abc import Mapping
from pathlib import Path
from typing import Any

import orjson
from shapely.geometry import LineString, Point, Polygon, mapping, shape
from shapely.geometry.base import BaseGeometry

from floorplans.model import (
    MATERIAL_ATTENUATION_DB,
    Building,
    Connector,
    Gateway,
    Georeference,
    Level,
    Opening,
    Room,
    Site,
    Wall,
    Zone,
)
from floorplans.problems import FloorplanError, Problem

__all__ = ["FORMAT_VERSION", "dump_site", "load_site", "parse_site", "rounded", "site_to_geojson"]

FORMAT_VERSION = "1.0"

_FEATURE_TYPES = ("building", "level", "room", "wall", "opening", "connector", "gateway", "zone")


class _FeatureError(Exception):
    pass


def load_site(path: str | Path) -> tuple[Site, list[Problem]]:
    """Read a site from a native GeoJSON file.

    Args:
        path: The ``.geojson`` file.

    Returns:
        The site and the problems met while reading (features skipped, defaults applied).

    Raises:
        FloorplanError: The file is missing, is not JSON, or is not a FeatureCollection.
    """
    p = Path(path)
    try:
        raw = p.read_bytes()
    except OSError as exc:
        raise FloorplanError(f"{p}: cannot read floor plan: {exc.strerror}") from exc
    try:
        obj = orjson.loads(raw)
    except orjson.JSONDecodeError as exc:
        raise FloorplanError(f"{p}: not valid JSON: {exc}") from exc
    return parse_site(obj, source=str(p))


def parse_site(obj: Any, *, source: str = "<memory>") -> tuple[Site, list[Problem]]:
    """Build a site from a parsed GeoJSON object (see :func:`load_site`)."""
    if not isinstance(obj, Mapping) or obj.get("type") != "FeatureCollection":
        raise FloorplanError(f"{source}: expected a GeoJSON FeatureCollection")
    features = obj.get("features")
    if not isinstance(features, list):
        raise FloorplanError(f"{source}: 'features' must be a list")
    problems: list[Problem] = []
    site_props = obj.get("site") if isinstance(obj.get("site"), Mapping) else {}
    assert isinstance(site_props, Mapping)
    georef = _georeference(site_props.get("georeference"), problems)
    parts: dict[str, list[Any]] = {t: [] for t in _FEATURE_TYPES}
    for index, feature in enumerate(features):
        fid = _feature_id(feature, index)
        try:
            ftype, item = _parse_feature(feature, fid)
        except _FeatureError as exc:
            problems.append(Problem("error", fid, "bad-feature", str(exc)))
            continue
        parts[ftype].append(item)
    site = Site.build(
        id=str(site_props.get("id", "site")),
        name=str(site_props.get("name", site_props.get("id", "Site"))),
        buildings=parts["building"],
        levels=parts["level"],
        rooms=parts["room"],
        walls=parts["wall"],
        openings=parts["opening"],
        connectors=parts["connector"],
        gateways=parts["gateway"],
        zones=parts["zone"],
        georeference=georef,
    )
    return site, problems


def _feature_id(feature: Any, index: int) -> str:
    if isinstance(feature, Mapping):
        props = feature.get("properties")
        if isinstance(props, Mapping) and props.get("id") not in (None, ""):
            return str(props["id"])
        if feature.get("id") not in (None, ""):
            return str(feature["id"])
    return f"#{index}"


def _georeference(obj: Any, problems: list[Problem]) -> Georeference | None:
    if obj is None:
        return None
    try:
        return Georeference(
            origin_lat=float(obj["origin_lat"]),
            origin_lon=float(obj["origin_lon"]),
            rotation_deg=float(obj.get("rotation_deg", 0.0)),
        )
    except (KeyError, TypeError, ValueError, AttributeError):
        problems.append(
            Problem("warning", "", "bad-georeference", "site.georeference needs origin_lat/lon")
        )
        return None


def _parse_feature(feature: Any, fid: str) -> tuple[str, Any]:
    if not isinstance(feature, Mapping) or feature.get("type") != "Feature":
        raise _FeatureError("not a GeoJSON Feature")
    props = feature.get("properties")
    if not isinstance(props, Mapping):
        raise _FeatureError("missing 'properties'")
    ftype = props.get("feature_type")
    if ftype not in _FEATURE_TYPES:
        raise _FeatureError(f"feature_type {ftype!r} is not one of {', '.join(_FEATURE_TYPES)}")
    geom = _geometry(feature.get("geometry"))
    try:
        return ftype, _BUILDERS[ftype](fid, props, geom)
    except (KeyError, TypeError, ValueError) as exc:
        raise _FeatureError(f"{ftype}: {_explain(exc)}") from exc


def _explain(exc: Exception) -> str:
    if isinstance(exc, KeyError):
        return f"missing property {exc.args[0]!r}"
    return str(exc)


def _geometry(obj: Any) -> BaseGeometry | None:
    if obj is None:
        return None
    try:
        return shape(obj)
    except Exception as exc:  # shapely raises several types for malformed GeoJSON
        raise _FeatureError(f"unreadable geometry: {exc}") from exc


def _polygon(geom: BaseGeometry | None, what: str) -> Polygon:
    if isinstance(geom, Polygon):
        return geom
    if geom is not None and geom.geom_type == "MultiPolygon" and len(geom.geoms) == 1:
        only = geom.geoms[0]
        assert isinstance(only, Polygon)
        return only
    raise ValueError(f"{what} needs a Polygon geometry, got {_gtype(geom)}")


def _line(geom: BaseGeometry | None, what: str) -> LineString:
    if isinstance(geom, LineString):
        return geom
    raise ValueError(f"{what} needs a LineString geometry, got {_gtype(geom)}")


def _point(geom: BaseGeometry | None, what: str) -> Point:
    if isinstance(geom, Point):
        return geom
    raise ValueError(f"{what} needs a Point geometry, got {_gtype(geom)}")


def _gtype(geom: BaseGeometry | None) -> str:
    return "none" if geom is None else str(geom.geom_type)


def _opt_str(props: Mapping[str, Any], key: str) -> str | None:
    v = props.get(key)
    return None if v in (None, "") else str(v)


def _opt_float(props: Mapping[str, Any], key: str) -> float | None:
    v = props.get(key)
    return None if v is None else float(v)


def _building(fid: str, props: Mapping[str, Any], geom: BaseGeometry | None) -> Building:
    outline = _polygon(geom, "building") if geom is not None else None
    return Building(id=fid, name=str(props.get("name", fid)), outline=outline)


def _level(fid: str, props: Mapping[str, Any], geom: BaseGeometry | None) -> Level:
    ordinal = props["ordinal"]
    if isinstance(ordinal, bool) or not isinstance(ordinal, int | float) or ordinal != int(ordinal):
        raise ValueError(f"ordinal must be an integer, got {ordinal!r}")
    height = float(props.get("height_m", 4.0))
    return Level(
        id=fid,
        building=str(props["building"]),
        ordinal=int(ordinal),
        name=str(props.get("name", fid)),
        elevation_m=float(props.get("elevation_m", int(ordinal) * height)),
        height_m=height,
        outline=_polygon(geom, "level"),
    )


def _room(fid: str, props: Mapping[str, Any], geom: BaseGeometry | None) -> Room:
    return Room(
        id=fid,
        level=str(props["level"]),
        name=str(props.get("name", fid)),
        category=str(props.get("category", "other")),
        polygon=_polygon(geom, "room"),
        department=_opt_str(props, "department"),
        zone=_opt_str(props, "zone"),
    )


def _wall(fid: str, props: Mapping[str, Any], geom: BaseGeometry | None) -> Wall:
    material = str(props.get("material", "drywall"))
    att = _opt_float(props, "attenuation_db")
    if att is None:
        att = MATERIAL_ATTENUATION_DB.get(material, MATERIAL_ATTENUATION_DB["drywall"])
    return Wall(
        id=fid, level=str(props["level"]), line=_line(geom, "wall"), material=material,
        attenuation_db=att,
    )


def _opening(fid: str, props: Mapping[str, Any], geom: BaseGeometry | None) -> Opening:
    if not isinstance(geom, LineString | Point):
        raise ValueError(f"opening needs a LineString or Point geometry, got {_gtype(geom)}")
    rooms = props.get("rooms") or ()
    return Opening(
        id=fid, level=str(props["level"]), geometry=geom, kind=str(props.get("kind", "door")),
        rooms=tuple(str(r) for r in rooms),
    )


def _connector(fid: str, props: Mapping[str, Any], geom: BaseGeometry | None) -> Connector:
    pt = _point(geom, "connector")
    levels = props["levels"]
    if not isinstance(levels, list) or len(levels) < 2:
        raise ValueError("connector 'levels' must list at least two level ids")
    return Connector(
        id=fid, kind=str(props.get("kind", "stairs")), levels=tuple(str(x) for x in levels),
        x=float(pt.x), y=float(pt.y), rooms=tuple(str(r) for r in props.get("rooms") or ()),
    )


def _gateway(fid: str, props: Mapping[str, Any], geom: BaseGeometry | None) -> Gateway:
    pt = _point(geom, "gateway")
    tech = str(props.get("tech", "ble"))
    if tech not in ("ble", "uwb"):
        raise ValueError(f"tech must be 'ble' or 'uwb', got {tech!r}")
    return Gateway(
        id=fid, level=str(props["level"]), x=float(pt.x), y=float(pt.y),
        height_m=float(props.get("height_m", 2.7)), tech=tech,  # type: ignore[arg-type]
        rssi_1m=_opt_float(props, "rssi_1m"),
        path_loss_exponent=_opt_float(props, "path_loss_exponent"),
        room=_opt_str(props, "room"),
    )


def _zone(fid: str, props: Mapping[str, Any], geom: BaseGeometry | None) -> Zone:
    return Zone(
        id=fid, name=str(props.get("name", fid)), kind=str(props.get("kind", "zone")),
        level=str(props["level"]), polygon=_polygon(geom, "zone"),
    )


_BUILDERS: dict[str, Any] = {
    "building": _building,
    "level": _level,
    "room": _room,
    "wall": _wall,
    "opening": _opening,
    "connector": _connector,
    "gateway": _gateway,
    "zone": _zone,
}


def _feature(geom: BaseGeometry | None, props: dict[str, Any]) -> dict[str, Any]:
    return {
        "type": "Feature",
        "geometry": None if geom is None else rounded(mapping(geom)),
        "properties": {k: v for k, v in props.items() if v is not None and v != ()},
    }


def rounded(obj: Any) -> Any:
    """``obj`` with every float rounded to millimetres (3 decimals), through lists, tuples
    (made lists) and mappings (made dicts), e.g. a GeoJSON geometry from
    :func:`shapely.geometry.mapping`."""
    if isinstance(obj, float):
        return round(obj, 3)
    if isinstance(obj, list | tuple):
        return [rounded(v) for v in obj]
    if isinstance(obj, Mapping):
        return {k: rounded(v) for k, v in obj.items()}
    return obj


def site_to_geojson(site: Site) -> dict[str, Any]:
    """Encode a site as a native GeoJSON object (coordinates rounded to millimetres)."""
    feats: list[dict[str, Any]] = []
    for b in site.buildings:
        feats.append(_feature(b.outline, {"feature_type": "building", "id": b.id, "name": b.name}))
    for lv in site.levels:
        feats.append(_feature(lv.outline, {
            "feature_type": "level", "id": lv.id, "building": lv.building, "ordinal": lv.ordinal,
            "name": lv.name, "elevation_m": lv.elevation_m, "height_m": lv.height_m,
        }))
    for r in site.rooms:
        feats.append(_feature(r.polygon, {
            "feature_type": "room", "id": r.id, "level": r.level, "name": r.name,
            "category": r.category, "department": r.department, "zone": r.zone,
        }))
    for w in site.walls:
        feats.append(_feature(w.line, {
            "feature_type": "wall", "id": w.id, "level": w.level, "material": w.material,
            "attenuation_db": w.attenuation_db,
        }))
    for o in site.openings:
        feats.append(_feature(o.geometry, {
            "feature_type": "opening", "id": o.id, "level": o.level, "kind": o.kind,
            "rooms": list(o.rooms) or None,
        }))
    for c in site.connectors:
        feats.append(_feature(Point(c.x, c.y), {
            "feature_type": "connector", "id": c.id, "kind": c.kind, "levels": list(c.levels),
            "rooms": list(c.rooms) or None,
        }))
    for g in site.gateways:
        feats.append(_feature(Point(g.x, g.y), {
            "feature_type": "gateway", "id": g.id, "level": g.level, "height_m": g.height_m,
            "tech": g.tech, "rssi_1m": g.rssi_1m, "path_loss_exponent": g.path_loss_exponent,
            "room": g.room,
        }))
    for z in site.zones:
        feats.append(_feature(z.polygon, {
            "feature_type": "zone", "id": z.id, "name": z.name, "kind": z.kind, "level": z.level,
        }))
    site_obj: dict[str, Any] = {"id": site.id, "name": site.name}
    if site.georeference is not None:
        ref = site.georeference
        site_obj["georeference"] = {
            "origin_lat": ref.origin_lat, "origin_lon": ref.origin_lon,
            "rotation_deg": ref.rotation_deg,
        }
    return {
        "type": "FeatureCollection",
        "sporing_format": FORMAT_VERSION,
        "site": site_obj,
        "features": feats,
    }


def dump_site(site: Site, path: str | Path) -> None:
    """Write a site as a native GeoJSON file, one feature per line (diff-friendly)."""
    obj = site_to_geojson(site)
    feats = obj.pop("features")
    head = orjson.dumps(obj).decode()[:-1]
    lines = [head + ',"features":[']
    lines += [orjson.dumps(f).decode() + ("," if i < len(feats) - 1 else "") for i, f in
              enumerate(feats)]
    lines.append("]}")
    Path(path).write_text("\n".join(lines) + "\n", encoding="utf-8")
