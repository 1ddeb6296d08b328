"""Generator of the fictional sample hospital "Sykehuset Fjellvik" near Hamar, Norway.

The shipped plan (``floorplans/data/sample_hospital.geojson``) is :func:`generate_hospital` with
its defaults; ``tests/test_sample.py`` checks that the committed file equals a fresh generation,
so change the generator, never the file. Regenerate with::

    python -m floorplans.sample

Layout: buildings stand in a row from west to east, 12 m apart, each a double-loaded central
corridor (rooms 6 m deep on both sides of a 2.4 m corridor) split into department modules with
a core (elevator, stairs, shaft, waiting room) in the middle. Neighbouring buildings are joined on
every level they share by a glass bridge ("Glassgang") that belongs to the western building's
level; its far end meets the eastern building's corridor through a doorway, and a ``ramp``
connector joins the two levels there (an opening may only name rooms of its own level).
Even-numbered buildings (A, C, ...) are bed buildings (wards); odd ones (B, D, ...) are
treatment buildings: emergency and radiology on Plan 1, the operating suite on Plan 2,
intensive care on Plan 3 and wards above.

Walls follow every room boundary (concrete outside and around shafts, drywall between rooms,
glass toward the corridor at nurse stations, lead around CT/X-ray labs, metal around the MR lab)
and leave gaps at the doors. Gateways sit on corridor ceilings every 8-12 m and in every room that
needs room-level certainty (ICU, operating rooms, utility and storage rooms);
``patient_room_gateways=True`` adds one in every patient room too (the room-level deployment).
"""

from __future__ import annotations

import random
from dataclasses import dataclass, field
from importlib import resources
from pathlib import Path

from shapely.geometry import LineString, Polygon, box

from floorplans.geojson import dump_site, load_site
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

__all__ = [
    "CORRIDOR_WIDTH_M",
    "LEVEL_HEIGHT_M",
    "ROOM_DEPTH_M",
    "generate_hospital",
    "load_sample_site",
    "sample_site_path",
]

ROOM_DEPTH_M = 6.0
CORRIDOR_WIDTH_M = 2.4
LEVEL_HEIGHT_M = 4.0
_GAP_M = 12.0
_CORE_M = 8.0
_PATIENT_ROOM_M = 3.6
_BED_KIND = "Sengebygg"
_TREATMENT_KIND = "Behandlingsbygg"
#: Categories that get a gateway inside the room (room-level certainty).
_ROOM_GATEWAY_CATEGORIES = frozenset(
    {"icu", "operating_room", "clean_utility", "dirty_utility", "equipment_storage"}
)
_WARD_SPECIALTIES = ("Kirurgi", "Nevrologi", "Medisin", "Ortopedi", "Kardiologi", "Geriatri")


@dataclass(frozen=True, slots=True)
class _Spec:
    name: str
    category: str
    width: float
    wall: str = "drywall"
    corridor_wall: str | None = None
    door: float = 1.2
    department: str | None = None


@dataclass(slots=True)
class _Parts:
    rooms: list[Room] = field(default_factory=list)
    walls: list[Wall] = field(default_factory=list)
    openings: list[Opening] = field(default_factory=list)
    gateways: list[Gateway] = field(default_factory=list)
    zones: list[Zone] = field(default_factory=list)


def _r(v: float) -> float:
    return round(v, 3) + 0.0


def _strongest(*materials: str) -> str:
    return max(materials, key=lambda m: MATERIAL_ATTENUATION_DB[m])


def _fill(fixed: list[_Spec], filler: _Spec, length: float) -> list[tuple[_Spec, float]]:
    """Fixed rooms at their widths, then fillers of about ``filler.width`` up to ``length``."""
    used = sum(s.width for s in fixed)
    rest = length - used
    if rest < -1e-9:
        raise ValueError(f"department rooms need {used:.1f} m but the module is {length:.1f} m")
    out = [(s, s.width) for s in fixed]
    n = max(1, round(rest / filler.width)) if rest > 1.0 else 0
    if n == 0:
        last, w = out[-1]
        out[-1] = (last, w + rest)
        return out
    out += [(filler, rest / n)] * n
    return out


def _ward(name: str, rooms: int, rng: random.Random) -> tuple[list[_Spec], list[_Spec], _Spec]:
    fixed = [
        _Spec("Vaktrom", "nurse_station", 4.8, corridor_wall="glass", department=name),
        _Spec("Rent lager", "clean_utility", 3.6, department=name),
        _Spec("Urent skyllerom", "dirty_utility", 3.6, department=name),
        _Spec("Lager medisinsk utstyr", "equipment_storage", 4.8, department=name),
        _Spec("Kontor", "office", 3.6, department=name),
    ]
    rng.shuffle(fixed)
    bed = _Spec("Sengerom", "patient_room", _PATIENT_ROOM_M, door=1.4, department=name)
    return [bed] * rooms, fixed, bed


def _department(
    building: str, kind: str, ordinal: int, d: int, rooms: int, rng: random.Random
) -> tuple[str, list[tuple[_Spec, float]], list[tuple[_Spec, float]]]:
    """Department name and its south and north rows of (room spec, width)."""
    length = rooms * _PATIENT_ROOM_M
    letter = chr(ord("A") + d % 26) + ("" if d < 26 else str(d // 26))
    if kind == _BED_KIND or ordinal >= 4:
        where = f"{ordinal}{letter}" if building == "A" else f"{building}{ordinal}{letter}"
        name = f"{_WARD_SPECIALTIES[(ordinal - 1) % len(_WARD_SPECIALTIES)]} {where}"
        south, north_fixed, bed = _ward(name, rooms, rng)
        return name, [(s, s.width) for s in south], _fill(north_fixed, bed, length)
    if ordinal == 1 and d % 2 == 0:
        name = "Akuttmottak" if d == 0 else f"Akuttmottak {letter}"
        south_fixed = [_Spec("Traumerom", "emergency", 7.2, door=1.8, department=name)]
        south_fill = _Spec("Akuttrom", "emergency", 3.6, door=1.4, department=name)
        north_fixed = [
            _Spec("Vaktrom", "nurse_station", 4.8, corridor_wall="glass", department=name),
            _Spec("Lager medisinsk utstyr", "equipment_storage", 4.8, department=name),
            _Spec("Urent skyllerom", "dirty_utility", 3.6, department=name),
            _Spec("Rent lager", "clean_utility", 3.6, department=name),
        ]
        north_fill = _Spec("Undersøkelsesrom", "emergency", 3.6, department=name)
    elif ordinal == 1:
        name = "Radiologi" if d == 1 else f"Radiologi {letter}"
        south_fixed = [
            _Spec("CT-lab", "other", 7.2, wall="lead", door=1.6, department=name),
            _Spec("MR-lab", "other", 8.4, wall="metal", door=1.6, department=name),
        ]
        south_fill = _Spec("Røntgenlab", "other", 4.8, wall="lead", door=1.6, department=name)
        north_fixed = [
            _Spec("Kontrollrom", "other", 4.8, department=name),
            _Spec("Lager medisinsk utstyr", "equipment_storage", 4.8, department=name),
            _Spec("Kontor", "office", 3.6, department=name),
        ]
        north_fill = _Spec("Kontor", "office", 3.6, department=name)
    elif ordinal == 2:
        name = f"Operasjon {ordinal}{letter}"
        south_fixed = []
        south_fill = _Spec("Operasjonsstue", "operating_room", 7.2, door=1.8, department=name)
        north_fixed = [
            _Spec("Sterilt lager", "clean_utility", 4.8, department=name),
            _Spec("Urent skyllerom", "dirty_utility", 3.6, department=name),
            _Spec("Lager medisinsk utstyr", "equipment_storage", 4.8, department=name),
            _Spec("Vaktrom", "nurse_station", 4.8, corridor_wall="glass", department=name),
        ]
        north_fill = _Spec("Oppvåkning", "other", 4.8, door=1.6, department=name)
    else:
        name = f"Intensiv {ordinal}{letter}"
        south_fixed = []
        south_fill = _Spec("Intensivrom", "icu", 4.8, door=1.6, department=name)
        north_fixed = [
            _Spec("Vaktrom", "nurse_station", 4.8, corridor_wall="glass", department=name),
            _Spec("Rent lager", "clean_utility", 3.6, department=name),
            _Spec("Urent skyllerom", "dirty_utility", 3.6, department=name),
            _Spec("Lager medisinsk utstyr", "equipment_storage", 4.8, department=name),
        ]
        north_fill = _Spec("Intensivrom", "icu", 4.8, door=1.6, department=name)
    rng.shuffle(north_fixed)
    return name, _fill(south_fixed, south_fill, length), _fill(north_fixed, north_fill, length)


def _core(kind: str) -> tuple[list[tuple[_Spec, float]], list[tuple[_Spec, float]]]:
    lounge = "Dagligstue" if kind == _BED_KIND else "Venterom"
    south = [(_Spec("Teknisk sjakt", "other", 3.2, wall="concrete"), 3.2),
             (_Spec(lounge, "other", 4.8), 4.8)]
    north = [(_Spec("Heis", "elevator", 3.2, wall="concrete", door=1.4), 3.2),
             (_Spec("Trapp", "stairs", 4.8, wall="concrete"), 4.8)]
    return south, north


@dataclass(slots=True)
class _LevelPlan:
    """Builds the features of one level of one building."""

    building: str
    level: str
    ordinal: int
    x0: float
    rng: random.Random
    parts: _Parts
    wall_seq: int = 0
    gw_seq: int = 0
    room_gateway_categories: frozenset[str] = _ROOM_GATEWAY_CATEGORIES
    extra_rng: random.Random = field(default_factory=lambda: random.Random(0))
    elevator: str = ""
    stairs: str = ""

    def wall(self, a: tuple[float, float], b: tuple[float, float], material: str) -> None:
        if abs(a[0] - b[0]) + abs(a[1] - b[1]) < 1e-6:
            return
        self.wall_seq += 1
        self.parts.walls.append(Wall(
            id=f"{self.level}-w{self.wall_seq:04d}", level=self.level,
            line=LineString([(_r(a[0]), _r(a[1])), (_r(b[0]), _r(b[1]))]), material=material,
            attenuation_db=MATERIAL_ATTENUATION_DB[material],
        ))

    def gateway(self, x: float, y: float, height: float, room: str) -> None:
        self.gw_seq += 1
        self.parts.gateways.append(Gateway(
            id=f"gw-{self.level.lower()}-{self.gw_seq:03d}", level=self.level, x=_r(x), y=_r(y),
            height_m=_r(height), room=room,
        ))

    def row(self, entries: list[tuple[_Spec, float, int]], south: bool, corridor: str) -> None:
        """Rooms of one row (spec, width, number), with doors, walls and room gateways."""
        d, c = ROOM_DEPTH_M, CORRIDOR_WIDTH_M
        ya, yb = (0.0, d) if south else (d + c, 2 * d + c)
        y_corr, y_ext = (yb, ya) if south else (ya, yb)
        x = self.x0
        prev: _Spec | None = None
        for spec, width, number in entries:
            xa, xb = _r(x), _r(x + width)
            x += width
            rid = f"{self.level}.{number:03d}"
            self.parts.rooms.append(Room(
                id=rid, level=self.level, name=f"{spec.name} {self.ordinal}.{number:03d}",
                category=spec.category, polygon=box(xa, ya, xb, yb), department=spec.department,
            ))
            if spec.category == "elevator":
                self.elevator = rid
            elif spec.category == "stairs":
                self.stairs = rid
            dw = min(spec.door, xb - xa - 0.6)
            da = _r(round(xa + self.rng.uniform(0.3, xb - xa - dw - 0.3), 1))
            db = _r(da + dw)
            self.parts.openings.append(Opening(
                id=f"{rid}-d1", level=self.level,
                geometry=LineString([(da, y_corr), (db, y_corr)]), rooms=(rid, corridor),
            ))
            facing = spec.corridor_wall or spec.wall
            self.wall((xa, y_corr), (da, y_corr), facing)
            self.wall((db, y_corr), (xb, y_corr), facing)
            self.wall((xa, y_ext), (xb, y_ext), _strongest("concrete", spec.wall))
            side = _strongest("concrete", spec.wall) if prev is None else _strongest(
                prev.wall, spec.wall)
            self.wall((xa, ya), (xa, yb), side)
            prev = spec
            # an optional room gateway draws from its own generator, so the rest of the
            # layout is the same with or without
            gw_rng = (self.rng if spec.category in _ROOM_GATEWAY_CATEGORIES
                      else self.extra_rng if spec.category in self.room_gateway_categories
                      else None)
            if gw_rng is not None:
                gx = (xa + xb) / 2 + gw_rng.uniform(-0.4, 0.4)
                gy = (ya + yb) / 2 + gw_rng.uniform(-1.0, 1.0)
                self.gateway(round(gx, 1), round(gy, 1), 2.8, rid)
        if prev is not None:
            self.wall((_r(x), ya), (_r(x), yb), _strongest("concrete", prev.wall))


def _building_level(
    plan: _LevelPlan, kind: str, wards: int, rooms_per_ward: int,
    bridge_west: str | None, bridge_east: bool, gap_m: float,
) -> tuple[str, float]:
    """Lay out one level; returns the corridor room id and the building's east x."""
    rng, d, c = plan.rng, ROOM_DEPTH_M, CORRIDOR_WIDTH_M
    module = rooms_per_ward * _PATIENT_ROOM_M
    length = wards * module + _CORE_M
    x0, x1 = plan.x0, _r(plan.x0 + length)
    corridor = f"{plan.level}.000"
    south: list[tuple[_Spec, float, int]] = []
    north: list[tuple[_Spec, float, int]] = []
    half = (wards + 1) // 2
    core_s, core_n = _core(kind)
    xm = x0
    for slot in range(wards + 1):
        if slot == half:
            south += [(s, w, 1 + i) for i, (s, w) in enumerate(core_s)]
            north += [(s, w, 1 + len(core_s) + i) for i, (s, w) in enumerate(core_n)]
            xm += _CORE_M
            continue
        dep = slot if slot < half else slot - 1
        name, s_row, n_row = _department(plan.building, kind, plan.ordinal, dep,
                                           rooms_per_ward, rng)
        base = (dep + 1) * 100
        south += [(s, w, base + 1 + i) for i, (s, w) in enumerate(s_row)]
        north += [(s, w, base + 1 + len(s_row) + i) for i, (s, w) in enumerate(n_row)]
        plan.parts.zones.append(Zone(
            id=f"zone-{plan.level}-{dep + 1}", name=name, kind="department", level=plan.level,
            polygon=box(_r(xm), 0.0, _r(xm + module), 2 * d + c),
        ))
        xm += module
    plan.parts.rooms.append(Room(
        id=corridor, level=plan.level, name=f"Korridor {plan.ordinal}", category="corridor",
        polygon=box(x0, d, x1, d + c),
    ))
    plan.row(south, True, corridor)
    plan.row(north, False, corridor)
    door_a, door_b = _r(d + 0.3), _r(d + c - 0.3)
    for x, linked in ((x0, bridge_west is not None), (x1, bridge_east)):
        if linked:
            plan.wall((x, d), (x, door_a), "concrete")
            plan.wall((x, door_b), (x, d + c), "concrete")
        else:
            plan.wall((x, d), (x, d + c), "concrete")
    # corridor ceiling gateways every 8-12 m
    gx = x0 + rng.uniform(3.0, 6.0)
    while gx < x1 - 2.0:
        plan.gateway(round(gx, 1), d + c / 2, round(rng.uniform(2.8, 3.0), 2), corridor)
        gx += rng.uniform(8.0, 12.0)
    if bridge_east:
        bid = f"{plan.level}.G00"
        xb = _r(x1 + gap_m)
        plan.parts.rooms.append(Room(
            id=bid, level=plan.level, name=f"Glassgang {plan.ordinal}", category="corridor",
            polygon=box(x1, d, xb, d + c),
        ))
        plan.parts.openings.append(Opening(
            id=f"{bid}-d1", level=plan.level,
            geometry=LineString([(x1, door_a), (x1, door_b)]), rooms=(corridor, bid),
        ))
        plan.wall((x1, d), (xb, d), "glass")
        plan.wall((x1, d + c), (xb, d + c), "glass")
        plan.wall((xb, d), (xb, door_a), "concrete")  # the next building's facade
        plan.wall((xb, door_b), (xb, d + c), "concrete")
        plan.parts.openings.append(Opening(
            id=f"{bid}-d2", level=plan.level, kind="opening",
            geometry=LineString([(xb, door_a), (xb, door_b)]), rooms=(bid,),
        ))
        plan.gateway(round((x1 + xb) / 2, 1), d + c / 2, 2.8, bid)
    if bridge_west is not None:
        # the doorway from the bridge; the step between the two buildings' levels is a
        # "ramp" connector (an opening may only name rooms of its own level)
        plan.parts.openings.append(Opening(
            id=f"{corridor}-d0", level=plan.level, kind="opening",
            geometry=LineString([(x0, door_a), (x0, door_b)]), rooms=(corridor,),
        ))
    return corridor, x1


def generate_hospital(
    *,
    seed: int = 0,
    buildings: int = 2,
    levels_per_building: int = 3,
    wards_per_level: int = 2,
    rooms_per_ward: int = 10,
    patient_room_gateways: bool = False,
    name: str = "Sykehuset Fjellvik",
    site_id: str = "fjellvik",
) -> Site:
    """Generate a fictional Norwegian hospital (see the module docstring for the layout).

    Args:
        seed: Seeds door positions, room order and gateway spacing; same seed, same site.
        buildings: Number of buildings (1-26), alternately bed and treatment buildings.
        levels_per_building: Levels per building, "Plan 1" (ordinal 1) upwards, 4 m apart.
        wards_per_level: Department modules per level (1-50).
        rooms_per_ward: Patient rooms along one side of a ward (6-40); sets the module length.
        patient_room_gateways: Also put a gateway in every patient room (the room-level
            deployment; by default wards have corridor gateways only). Everything else, including
            the other gateways' positions, is the same either way; gateway ids are renumbered.
        name: Site name.
        site_id: Site id.

    Returns:
        The site.

    Raises:
        ValueError: A parameter is out of range.
    """
    for label, value, lo, hi in (
        ("buildings", buildings, 1, 26), ("levels_per_building", levels_per_building, 1, 50),
        ("wards_per_level", wards_per_level, 1, 50), ("rooms_per_ward", rooms_per_ward, 6, 40),
    ):
        if isinstance(value, bool) or not isinstance(value, int) or not lo <= value <= hi:
            raise ValueError(f"{label} must be an integer in [{lo}, {hi}], got {value!r}")
    if not isinstance(patient_room_gateways, bool):
        raise ValueError(f"patient_room_gateways must be a bool, got {patient_room_gateways!r}")
    rng = random.Random(seed)
    extra_rng = random.Random(f"{seed}-patient-room-gateways")
    room_gw = _ROOM_GATEWAY_CATEGORIES | ({"patient_room"} if patient_room_gateways else set())
    parts = _Parts()
    bldgs: list[Building] = []
    levels: list[Level] = []
    connectors: list[Connector] = []
    width = 2 * ROOM_DEPTH_M + CORRIDOR_WIDTH_M
    length = wards_per_level * rooms_per_ward * _PATIENT_ROOM_M + _CORE_M
    for b in range(buildings):
        bid = chr(ord("A") + b)
        kind = _BED_KIND if b % 2 == 0 else _TREATMENT_KIND
        x0 = _r(b * (length + _GAP_M))
        outline = box(x0, 0.0, _r(x0 + length), width)
        bldgs.append(Building(id=bid, name=f"{bid} - {kind}", outline=outline))
        shafts: list[tuple[str, str]] = []
        for ordinal in range(1, levels_per_building + 1):
            lid = f"{bid}{ordinal}"
            plan = _LevelPlan(building=bid, level=lid, ordinal=ordinal, x0=x0, rng=rng,
                              parts=parts, room_gateway_categories=room_gw,
                              extra_rng=extra_rng)
            east = b + 1 < buildings
            west = f"{chr(ord('A') + b - 1)}{ordinal}.G00" if b > 0 else None
            _, x1 = _building_level(plan, kind, wards_per_level, rooms_per_ward, west, east,
                                    _GAP_M)
            level_outline: Polygon = outline
            if east:
                level_outline = box(x0, 0.0, _r(x1 + _GAP_M), width).difference(
                    box(x1, 0.0, _r(x1 + _GAP_M), ROOM_DEPTH_M)).difference(
                    box(x1, ROOM_DEPTH_M + CORRIDOR_WIDTH_M, _r(x1 + _GAP_M), width))
                level_outline = _normalised(level_outline)
            levels.append(Level(
                id=lid, building=bid, ordinal=ordinal, name=f"Plan {ordinal}",
                elevation_m=(ordinal - 1) * LEVEL_HEIGHT_M, height_m=LEVEL_HEIGHT_M,
                outline=level_outline,
            ))
            shafts.append((plan.elevator, plan.stairs))
        if levels_per_building > 1:
            lids = tuple(f"{bid}{o}" for o in range(1, levels_per_building + 1))
            for kind_c, k, label in (("elevator", 0, "heis"), ("stairs", 1, "trapp")):
                rooms = tuple(s[k] for s in shafts)
                c = parts.rooms[[r.id for r in parts.rooms].index(rooms[0])].polygon.centroid
                connectors.append(Connector(
                    id=f"{bid}-{label}-1", kind=kind_c, levels=lids, x=_r(c.x), y=_r(c.y),
                    rooms=rooms,
                ))
    for b in range(1, buildings):
        wb, eb = chr(ord("A") + b - 1), chr(ord("A") + b)
        for ordinal in range(1, levels_per_building + 1):
            connectors.append(Connector(
                id=f"{wb}{eb}-glassgang-{ordinal}", kind="ramp",
                levels=(f"{wb}{ordinal}", f"{eb}{ordinal}"),
                x=_r(b * (length + _GAP_M)), y=_r(ROOM_DEPTH_M + CORRIDOR_WIDTH_M / 2),
                rooms=(f"{wb}{ordinal}.G00", f"{eb}{ordinal}.000"),
            ))
    return Site.build(
        id=site_id, name=name, buildings=bldgs, levels=levels, rooms=parts.rooms,
        walls=parts.walls, openings=parts.openings, connectors=connectors,
        gateways=parts.gateways, zones=parts.zones,
        georeference=Georeference(origin_lat=60.7945, origin_lon=11.0680, rotation_deg=0.0),
    )


def _normalised(poly: object) -> Polygon:
    """A polygon with millimetre coordinates, counter-clockwise, starting at its lowest-left."""
    if not isinstance(poly, Polygon):
        raise TypeError(f"expected a Polygon, got {type(poly).__name__}")
    ring = [(_r(x), _r(y)) for x, y in poly.exterior.coords[:-1]]
    start = ring.index(min(ring, key=lambda p: (p[1], p[0])))
    ring = ring[start:] + ring[:start]
    out = Polygon(ring)
    return out if out.exterior.is_ccw else Polygon([ring[0], *ring[:0:-1]])


def sample_site_path() -> Path:
    """Path of the shipped sample hospital, ``floorplans/data/sample_hospital.geojson``."""
    return Path(str(resources.files("floorplans.data").joinpath("sample_hospital.geojson")))


def load_sample_site() -> Site:
    """Load the shipped sample hospital.

    Raises:
        FloorplanError: The file is missing or unreadable, or has problems (it never should).
    """
    from floorplans.problems import FloorplanError

    site, problems = load_site(sample_site_path())
    if problems:
        raise FloorplanError(f"sample hospital has {len(problems)} problems", problems)
    return site


def main() -> None:
    """Regenerate the shipped sample hospital with the default parameters."""
    path = Path(__file__).resolve().parent / "data" / "sample_hospital.geojson"
    dump_site(generate_hospital(), path)
    print(f"wrote {path}")


if __name__ == "__main__":
    main()
