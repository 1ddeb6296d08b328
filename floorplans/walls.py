"""Walls derived from room boundaries, for sources that draw rooms but no walls (IMDF, OSM).

Every boundary of an enclosed room is a wall, except where a door opening cuts it. A boundary
shared by two rooms becomes *one* wall (the linework is noded and dissolved, with near-coincident
edges snapped together first), so a signal crossing it is attenuated once, not twice. Walls on
the outer boundary of the level's rooms are exterior walls and get a heavier material.
"""

from __future__ import annotations

from collections.abc import Sequence

import shapely
from shapely.geometry import LineString, MultiLineString, Point, Polygon
from shapely.geometry.base import BaseGeometry
from shapely.ops import linemerge, unary_union

from floorplans.model import MATERIAL_ATTENUATION_DB, Opening, Wall

__all__ = ["DOOR_WIDTH_M", "derive_walls"]

#: Width of the gap cut for a door given as a point.
DOOR_WIDTH_M = 0.9

_SNAP_M = 0.05  # edges closer than this are the same wall
_MIN_WALL_M = 0.05  # shorter leftovers are dropped


def derive_walls(
    level: str,
    rooms: Sequence[Polygon],
    openings: Sequence[Opening] = (),
    *,
    id_prefix: str = "wall",
    interior_material: str = "drywall",
    exterior_material: str = "concrete",
    existing: Sequence[LineString] = (),
) -> list[Wall]:
    """Walls along the boundaries of enclosed rooms of one level.

    Args:
        level: Level id given to the walls.
        rooms: Polygons of the enclosed rooms (corridors included; open areas excluded).
        openings: Doors of the level; each cuts a gap (``DOOR_WIDTH_M`` for a point door,
            the door's own length for a segment).
        id_prefix: Walls are named ``{id_prefix}-{n}``.
        interior_material: Material of walls between rooms.
        exterior_material: Material of walls on the outer boundary of all rooms.
        existing: Walls already drawn by the source; derived walls along them are dropped.

    Returns:
        Walls as merged polylines, exterior ones first.
    """
    valid = [shapely.make_valid(p) if not p.is_valid else p for p in rooms if not p.is_empty]
    if not valid:
        return []
    network = _dissolved_boundaries(valid)
    cuts = [_door_gap(o) for o in openings]
    cuts += [ln.buffer(_SNAP_M) for ln in existing]
    if cuts:
        network = network.difference(unary_union(cuts))
    closed = unary_union(valid).buffer(_SNAP_M, join_style="mitre").buffer(
        -_SNAP_M, join_style="mitre"
    )
    outer = closed.boundary.buffer(_SNAP_M)
    edges = [g for g in _flatten(network) if isinstance(g, LineString) and not g.is_empty]
    on_outer = [outer.covers(e) for e in edges]
    exterior = MultiLineString([e for e, o in zip(edges, on_outer, strict=True) if o])
    interior = MultiLineString([e for e, o in zip(edges, on_outer, strict=True) if not o])
    walls: list[Wall] = []
    for geom, material in ((exterior, exterior_material), (interior, interior_material)):
        for line in _lines(geom):
            walls.append(
                Wall(
                    id=f"{id_prefix}-{len(walls) + 1}",
                    level=level,
                    line=line,
                    material=material,
                    attenuation_db=MATERIAL_ATTENUATION_DB.get(material, 3.0),
                )
            )
    return walls


def _dissolved_boundaries(polygons: Sequence[BaseGeometry]) -> BaseGeometry:
    merged: BaseGeometry | None = None
    for poly in sorted(polygons, key=lambda p: -p.area):
        ring = poly.boundary
        if merged is None:
            merged = ring
            continue
        ring = shapely.snap(ring, merged, _SNAP_M)
        merged = unary_union([merged, ring])
    assert merged is not None
    return merged


def _door_gap(opening: Opening) -> BaseGeometry:
    geom = opening.geometry
    if isinstance(geom, Point) or geom.length < DOOR_WIDTH_M / 4:
        return geom.centroid.buffer(DOOR_WIDTH_M / 2)
    return geom.buffer(_SNAP_M * 2, cap_style="flat")


def _lines(geom: BaseGeometry) -> list[LineString]:
    parts = [g for g in _flatten(geom) if isinstance(g, LineString) and not g.is_empty]
    if not parts:
        return []
    merged = linemerge(MultiLineString(parts)) if len(parts) > 1 else parts[0]
    out = [g for g in getattr(merged, "geoms", [merged]) if isinstance(g, LineString)]
    return [ln for ln in out if ln.length >= _MIN_WALL_M]


def _flatten(geom: BaseGeometry) -> list[BaseGeometry]:
    subs = getattr(geom, "geoms", None)
    if subs is None:
        return [geom]
    out: list[BaseGeometry] = []
    for g in subs:
        out.extend(_flatten(g))
    return out
