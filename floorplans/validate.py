"""Validation of a :class:`Site`: every defect as a :class:`Problem` naming the feature.

Errors make ``sporing floorplan check`` fail: the plan is inconsistent and positioning or
routing would give wrong answers (overlapping rooms, features on unknown levels, broken
polygons, gateways outside their level). Warnings flag what is legal but probably unintended
(a level without gateways cannot be positioned yet; imported plans never have gateways).

The codes are a stable contract, listed in ``docs/floorplan-format.md``.
"""

from __future__ import annotations

from collections import Counter, defaultdict
from collections.abc import Iterable

from shapely import STRtree
from shapely.geometry import Point, Polygon
from shapely.validation import explain_validity

from floorplans.model import MATERIAL_ATTENUATION_DB, ROOM_CATEGORIES, Site
from floorplans.problems import Problem

__all__ = [
    "CONNECTOR_KINDS",
    "GATEWAY_OUTSIDE_TOLERANCE_M",
    "OVERLAP_TOLERANCE_M2",
    "has_errors",
    "validate_site",
]

#: Rooms may overlap by this much (drawing slop) before it is an error.
OVERLAP_TOLERANCE_M2 = 0.05
#: A gateway this close outside its level's outline (mounted on the facade) is accepted.
GATEWAY_OUTSIDE_TOLERANCE_M = 0.5
#: Kinds of vertical connectors.
CONNECTOR_KINDS = frozenset({"elevator", "stairs", "escalator", "ramp"})

_ROOM_OUTSIDE_TOLERANCE_M2 = 0.5


def has_errors(problems: Iterable[Problem]) -> bool:
    """Whether any problem is an error."""
    return any(p.severity == "error" for p in problems)


def validate_site(site: Site) -> list[Problem]:
    """All problems of a site, errors and warnings, in a stable order.

    Args:
        site: The site to check.

    Returns:
        The problems (empty for a clean plan).
    """
    out: list[Problem] = []
    _duplicates(site, out)
    _buildings_and_levels(site, out)
    _rooms(site, out)
    _walls_openings(site, out)
    _connectors(site, out)
    _gateways(site, out)
    _zones(site, out)
    return out


def _err(out: list[Problem], fid: str, code: str, msg: str) -> None:
    out.append(Problem("error", fid, code, msg))


def _warn(out: list[Problem], fid: str, code: str, msg: str) -> None:
    out.append(Problem("warning", fid, code, msg))


def _duplicates(site: Site, out: list[Problem]) -> None:
    kinds: dict[str, list[str]] = defaultdict(list)
    groups: list[tuple[str, Iterable[str]]] = [
        ("building", (b.id for b in site.buildings)), ("level", (lv.id for lv in site.levels)),
        ("room", (r.id for r in site.rooms)), ("wall", (w.id for w in site.walls)),
        ("opening", (o.id for o in site.openings)),
        ("connector", (c.id for c in site.connectors)),
        ("gateway", (g.id for g in site.gateways)), ("zone", (z.id for z in site.zones)),
    ]
    for kind, ids in groups:
        for fid in ids:
            kinds[fid].append(kind)
    for fid, found in kinds.items():
        if not fid:
            _err(out, fid, "empty-id", f"a {found[0]} has an empty id")
        elif len(found) > 1:
            counts = Counter(found)
            what = ", ".join(f"{n} {k}{'s' if n > 1 else ''}" for k, n in counts.items())
            _err(out, fid, "duplicate-id", f"id is used by {what}; ids must be unique in a site")


def _polygon(out: list[Problem], fid: str, what: str, poly: Polygon) -> bool:
    if not poly.is_empty and not poly.is_valid:
        _err(out, fid, "invalid-polygon", f"{what} polygon is invalid: {explain_validity(poly)}")
        return False
    if poly.is_empty or poly.area <= 0:
        _err(out, fid, "empty-polygon", f"{what} polygon has no area")
        return False
    return True


def _buildings_and_levels(site: Site, out: list[Problem]) -> None:
    building_ids = {b.id for b in site.buildings}
    for b in site.buildings:
        if b.outline is not None:
            _polygon(out, b.id, "building", b.outline)
        if not any(lv.building == b.id for lv in site.levels):
            _warn(out, b.id, "building-without-levels", f"building {b.name!r} has no level")
    ordinals: dict[tuple[str, int], str] = {}
    for lv in site.levels:
        if lv.building not in building_ids:
            _err(out, lv.id, "unknown-building",
                 f"level refers to unknown building {lv.building!r}")
        _polygon(out, lv.id, "level", lv.outline)
        if lv.height_m <= 0:
            _err(out, lv.id, "bad-height", f"level height_m must be positive, got {lv.height_m}")
        key = (lv.building, lv.ordinal)
        if key in ordinals:
            _err(out, lv.id, "duplicate-ordinal",
                 f"ordinal {lv.ordinal} is also level {ordinals[key]!r} of building "
                 f"{lv.building!r}")
        else:
            ordinals[key] = lv.id
        if site.rooms_on(lv.id) and not site.gateways_on(lv.id):
            _warn(out, lv.id, "level-without-gateways",
                  f"level {lv.name!r} has rooms but no gateway; tags on it cannot be positioned")


def _rooms(site: Site, out: list[Problem]) -> None:
    by_level: dict[str, list[int]] = defaultdict(list)
    for i, r in enumerate(site.rooms):
        if r.category not in ROOM_CATEGORIES:
            _err(out, r.id, "unknown-category",
                 f"room category {r.category!r} is not a known category (see the format doc)")
        if not site.has_level(r.level):
            _err(out, r.id, "unknown-level", f"room refers to unknown level {r.level!r}")
            continue
        if not _polygon(out, r.id, "room", r.polygon):
            continue
        by_level[r.level].append(i)
        outline = site.level(r.level).outline
        if outline.is_valid:
            outside = r.polygon.difference(outline).area
            if outside > 0.5 * r.polygon.area:
                _err(out, r.id, "room-outside-level",
                     f"{outside:.1f} of {r.polygon.area:.1f} m² of the room lie outside level "
                     f"{r.level!r}; the room is on the wrong level or the outline is wrong")
            elif outside > _ROOM_OUTSIDE_TOLERANCE_M2:
                _warn(out, r.id, "room-partly-outside-level",
                      f"{outside:.1f} m² of the room lies outside level {r.level!r}")
    for level_id, idx in by_level.items():
        polys = [site.rooms[i].polygon for i in idx]
        tree = STRtree(polys)
        a_idx, b_idx = tree.query(polys, predicate="intersects")
        for a, b in zip(a_idx.tolist(), b_idx.tolist(), strict=True):
            if a >= b:
                continue
            area = polys[a].intersection(polys[b]).area
            if area > OVERLAP_TOLERANCE_M2:
                ra, rb = site.rooms[idx[a]], site.rooms[idx[b]]
                _err(out, ra.id, "room-overlap",
                     f"room overlaps room {rb.id!r} by {area:.2f} m² on level {level_id!r}")


def _walls_openings(site: Site, out: list[Problem]) -> None:
    for w in site.walls:
        if not site.has_level(w.level):
            _err(out, w.id, "unknown-level", f"wall refers to unknown level {w.level!r}")
        if w.line.length <= 1e-6:
            _err(out, w.id, "zero-length-wall", "wall has zero length")
        if w.material not in MATERIAL_ATTENUATION_DB:
            _warn(out, w.id, "unknown-material",
                  f"material {w.material!r} is not one of {', '.join(MATERIAL_ATTENUATION_DB)}")
        if not 0.0 <= w.attenuation_db <= 100.0:
            _err(out, w.id, "bad-attenuation",
                 f"attenuation_db must be within 0..100 dB, got {w.attenuation_db}")
    for o in site.openings:
        if not site.has_level(o.level):
            _err(out, o.id, "unknown-level", f"opening refers to unknown level {o.level!r}")
        for rid in o.rooms:
            if not site.has_room(rid):
                _err(out, o.id, "unknown-room", f"opening refers to unknown room {rid!r}")
            elif site.room(rid).level != o.level:
                _err(out, o.id, "room-on-other-level",
                     f"opening on level {o.level!r} names room {rid!r} of another level")


def _connectors(site: Site, out: list[Problem]) -> None:
    for c in site.connectors:
        if c.kind not in CONNECTOR_KINDS:
            _warn(out, c.id, "unknown-connector-kind",
                  f"kind {c.kind!r} is not one of {', '.join(sorted(CONNECTOR_KINDS))}")
        if len(set(c.levels)) < 2:
            _err(out, c.id, "connector-levels", "a connector must serve at least two levels")
        for lid in c.levels:
            if not site.has_level(lid):
                _err(out, c.id, "unknown-level", f"connector refers to unknown level {lid!r}")
        for rid in c.rooms:
            if not site.has_room(rid):
                _err(out, c.id, "unknown-room", f"connector refers to unknown room {rid!r}")
            elif site.room(rid).level not in c.levels:
                _err(out, c.id, "room-on-other-level",
                     f"connector room {rid!r} is on a level the connector does not serve")


def _gateways(site: Site, out: list[Problem]) -> None:
    for g in site.gateways:
        if not site.has_level(g.level):
            _err(out, g.id, "unknown-level", f"gateway refers to unknown level {g.level!r}")
            continue
        lv = site.level(g.level)
        pt = Point(g.x, g.y)
        if lv.outline.is_valid and lv.outline.distance(pt) > GATEWAY_OUTSIDE_TOLERANCE_M:
            _err(out, g.id, "gateway-outside-level",
                 f"gateway at ({g.x:.2f}, {g.y:.2f}) is {lv.outline.distance(pt):.1f} m outside "
                 f"level {lv.id!r}")
        if g.room is not None:
            if not site.has_room(g.room):
                _err(out, g.id, "unknown-room", f"gateway refers to unknown room {g.room!r}")
            elif site.room(g.room).level != g.level:
                _err(out, g.id, "room-on-other-level",
                     f"gateway on level {g.level!r} names room {g.room!r} of another level")
        if not 0.0 <= g.height_m <= lv.height_m:
            _warn(out, g.id, "gateway-height",
                  f"mounting height {g.height_m} m is outside 0..{lv.height_m} m (level height)")
        if g.rssi_1m is not None and not -110.0 <= g.rssi_1m <= -10.0:
            _warn(out, g.id, "implausible-calibration",
                  f"rssi_1m {g.rssi_1m} dBm is outside -110..-10 dBm")
        if g.path_loss_exponent is not None and not 1.0 <= g.path_loss_exponent <= 6.0:
            _warn(out, g.id, "implausible-calibration",
                  f"path_loss_exponent {g.path_loss_exponent} is outside 1..6")


def _zones(site: Site, out: list[Problem]) -> None:
    for z in site.zones:
        if not site.has_level(z.level):
            _err(out, z.id, "unknown-level", f"zone refers to unknown level {z.level!r}")
        _polygon(out, z.id, "zone", z.polygon)
