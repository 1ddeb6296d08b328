"""The floor-plan model shared by positioning, the simulator, the tracker and the web page.

A :class:`Site` holds buildings, their levels, and on each level the rooms, walls, openings
(doors), vertical connectors (stairs, elevators), gateways and zones. All coordinates are local
metres: x east, y north, on the level's own plane; a level's ``elevation_m`` places it vertically.

The model is immutable. Derived structures (spatial indexes, the walking graph) live in
:mod:`floorplans.spatial` and :mod:`floorplans.routing` and are built from a site on demand.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field
from typing import Literal

from shapely.geometry import LineString, Point, Polygon

__all__ = [
    "HOSPITAL_CATEGORIES",
    "IMDF_UNIT_CATEGORIES",
    "MATERIAL_ATTENUATION_DB",
    "ROOM_CATEGORIES",
    "Building",
    "Connector",
    "Gateway",
    "Georeference",
    "Level",
    "Opening",
    "Room",
    "Site",
    "Tech",
    "Wall",
    "Zone",
]

Tech = Literal["ble", "uwb"]

#: Categories a hospital reasons about equipment with (see ``docs/floorplan-format.md``).
HOSPITAL_CATEGORIES: frozenset[str] = frozenset(
    {
        "patient_room",
        "icu",
        "operating_room",
        "emergency",
        "clean_utility",
        "dirty_utility",
        "equipment_storage",
        "corridor",
        "elevator",
        "stairs",
        "nurse_station",
        "office",
        "other",
    }
)

#: The unit categories of OGC IMDF 1.0 (``unit.category``).
IMDF_UNIT_CATEGORIES: frozenset[str] = frozenset(
    {
        "auditorium", "brick", "classroom", "column", "concrete", "conferenceroom", "drywall",
        "elevator", "escalator", "fieldofplay", "firstaid", "fitnessroom", "foodservice",
        "footbridge", "glass", "huddleroom", "kitchen", "laboratory", "library", "lobby",
        "lounge", "mailroom", "mothersroom", "movietheater", "movingwalkway", "nonpublic",
        "office", "opentobelow", "parking", "phoneroom", "platform", "privatelounge", "ramp",
        "recreation", "restroom", "restroom.family", "restroom.female",
        "restroom.female.wheelchair", "restroom.male", "restroom.male.wheelchair",
        "restroom.transgender", "restroom.transgender.wheelchair", "restroom.unisex",
        "restroom.unisex.wheelchair", "restroom.wheelchair", "road", "room", "serverroom",
        "shower", "smokingarea", "stairs", "steps", "storage", "structure", "terrace", "theater",
        "unenclosedarea", "unspecified", "vegetation", "waitingroom", "walkway",
        "walkway.island", "wood",
    }
)  # fmt: skip

#: Every category a room may carry.
ROOM_CATEGORIES: frozenset[str] = HOSPITAL_CATEGORIES | IMDF_UNIT_CATEGORIES

#: Typical one-way attenuation at 2.4 GHz of one wall of each material, in dB.
#: Sources and ranges are in ``docs/simulator.md``; a wall may override it.
MATERIAL_ATTENUATION_DB: Mapping[str, float] = {
    "drywall": 3.0,
    "wood": 4.0,
    "glass": 2.0,
    "brick": 6.0,
    "concrete": 10.0,
    "metal": 30.0,
    "lead": 40.0,
}


@dataclass(frozen=True, slots=True)
class Georeference:
    """Ties local metres to WGS84: the local origin's latitude/longitude and the rotation.

    Attributes:
        origin_lat: Latitude of local (0, 0) in degrees.
        origin_lon: Longitude of local (0, 0) in degrees.
        rotation_deg: Angle from true north to the local +y axis, clockwise, in degrees.
    """

    origin_lat: float
    origin_lon: float
    rotation_deg: float = 0.0


@dataclass(frozen=True, slots=True)
class Building:
    """A building of a site."""

    id: str
    name: str
    outline: Polygon | None = None


@dataclass(frozen=True, slots=True)
class Level:
    """A floor of a building.

    Attributes:
        id: Unique id within the site.
        building: Id of the building.
        ordinal: Vertical order within the building (higher is above; IMDF uses 0 for the
            ground floor, Norwegian plans often call it "Plan 1").
        name: Display name (e.g. "Plan 3").
        elevation_m: Height of the finished floor above the site datum.
        height_m: Floor-to-floor height.
        outline: The level's footprint.
    """

    id: str
    building: str
    ordinal: int
    name: str
    elevation_m: float
    height_m: float
    outline: Polygon


@dataclass(frozen=True, slots=True)
class Room:
    """A room (IMDF "unit") on a level.

    Attributes:
        id: Unique id within the site (e.g. "A3.214").
        level: Id of the level.
        name: Display name.
        category: One of :data:`ROOM_CATEGORIES`.
        polygon: The room's floor area.
        department: Owning department or ward (e.g. "Medisin 3B"), if any.
        zone: Free-form zone label (e.g. "sterile"), if any.
    """

    id: str
    level: str
    name: str
    category: str
    polygon: Polygon
    department: str | None = None
    zone: str | None = None


@dataclass(frozen=True, slots=True)
class Wall:
    """A wall segment (or polyline) on a level, with its radio attenuation."""

    id: str
    level: str
    line: LineString
    material: str = "drywall"
    attenuation_db: float = 3.0


@dataclass(frozen=True, slots=True)
class Opening:
    """A door or other passable opening on a level, drawn as a short segment (or a point).

    ``rooms`` names the (usually two) rooms it connects, when known; otherwise routing infers
    them from the rooms the opening touches.
    """

    id: str
    level: str
    geometry: LineString | Point
    kind: str = "door"
    rooms: tuple[str, ...] = ()


@dataclass(frozen=True, slots=True)
class Connector:
    """Stairs or an elevator linking levels.

    Attributes:
        id: Unique id.
        kind: "elevator" or "stairs" (also "escalator", "ramp").
        levels: The level ids it serves.
        x: Shaft position, local metres.
        y: Shaft position, local metres.
        rooms: The room ids of the shaft on each level served, when modelled as rooms.
    """

    id: str
    kind: str
    levels: tuple[str, ...]
    x: float
    y: float
    rooms: tuple[str, ...] = ()


@dataclass(frozen=True, slots=True)
class Gateway:
    """A fixed BLE or UWB receiver (anchor) at a known position.

    Attributes:
        id: Unique id (what the gateway publishes as its name, e.g. "gw-a3-014").
        level: Id of the level it is mounted on.
        x: Local metres.
        y: Local metres.
        height_m: Mounting height above the level's floor.
        tech: "ble" or "uwb".
        rssi_1m: Calibrated RSSI at 1 m (BLE), if known.
        path_loss_exponent: Calibrated log-distance exponent (BLE), if known.
        room: Room the gateway is in, if known.
    """

    id: str
    level: str
    x: float
    y: float
    height_m: float = 2.7
    tech: Tech = "ble"
    rssi_1m: float | None = None
    path_loss_exponent: float | None = None
    room: str | None = None


@dataclass(frozen=True, slots=True)
class Zone:
    """A named area (geofence, department, restricted area) on a level."""

    id: str
    name: str
    kind: str
    level: str
    polygon: Polygon


@dataclass(frozen=True, slots=True)
class Site:
    """A whole site: buildings, levels and everything on them.

    Construct it with :meth:`Site.build`, which indexes the features by id.
    """

    id: str
    name: str
    buildings: tuple[Building, ...] = ()
    levels: tuple[Level, ...] = ()
    rooms: tuple[Room, ...] = ()
    walls: tuple[Wall, ...] = ()
    openings: tuple[Opening, ...] = ()
    connectors: tuple[Connector, ...] = ()
    gateways: tuple[Gateway, ...] = ()
    zones: tuple[Zone, ...] = ()
    georeference: Georeference | None = None
    _level_by_id: dict[str, Level] = field(default_factory=dict, repr=False, compare=False)
    _room_by_id: dict[str, Room] = field(default_factory=dict, repr=False, compare=False)
    _gateway_by_id: dict[str, Gateway] = field(default_factory=dict, repr=False, compare=False)

    @classmethod
    def build(
        cls,
        *,
        id: str,
        name: str,
        buildings: Iterable[Building] = (),
        levels: Iterable[Level] = (),
        rooms: Iterable[Room] = (),
        walls: Iterable[Wall] = (),
        openings: Iterable[Opening] = (),
        connectors: Iterable[Connector] = (),
        gateways: Iterable[Gateway] = (),
        zones: Iterable[Zone] = (),
        georeference: Georeference | None = None,
    ) -> Site:
        """Build a site and its id lookups.

        Duplicate ids keep the first; validation reports them.
        """
        lv, rm, gw = tuple(levels), tuple(rooms), tuple(gateways)
        site = cls(
            id=id,
            name=name,
            buildings=tuple(buildings),
            levels=lv,
            rooms=rm,
            walls=tuple(walls),
            openings=tuple(openings),
            connectors=tuple(connectors),
            gateways=gw,
            zones=tuple(zones),
            georeference=georeference,
        )
        for item in reversed(lv):
            site._level_by_id[item.id] = item
        for r in reversed(rm):
            site._room_by_id[r.id] = r
        for g in reversed(gw):
            site._gateway_by_id[g.id] = g
        return site

    def replace(
        self,
        *,
        levels: Iterable[Level] | None = None,
        rooms: Iterable[Room] | None = None,
        walls: Iterable[Wall] | None = None,
        gateways: Iterable[Gateway] | None = None,
    ) -> Site:
        """A copy with some feature lists replaced and the id lookups rebuilt.

        (``dataclasses.replace`` would keep the old lookups, so ``site.gateway(id)`` would
        return a feature the copy no longer has.)
        """
        return Site.build(
            id=self.id, name=self.name, buildings=self.buildings,
            levels=self.levels if levels is None else levels,
            rooms=self.rooms if rooms is None else rooms,
            walls=self.walls if walls is None else walls,
            openings=self.openings, connectors=self.connectors,
            gateways=self.gateways if gateways is None else gateways,
            zones=self.zones, georeference=self.georeference,
        )

    def level(self, level_id: str) -> Level:
        """The level with this id.

        Raises:
            KeyError: No such level.
        """
        try:
            return self._level_by_id[level_id]
        except KeyError:
            raise KeyError(f"unknown level {level_id!r} in site {self.id!r}") from None

    def room(self, room_id: str) -> Room:
        """The room with this id.

        Raises:
            KeyError: No such room.
        """
        try:
            return self._room_by_id[room_id]
        except KeyError:
            raise KeyError(f"unknown room {room_id!r} in site {self.id!r}") from None

    def gateway(self, gateway_id: str) -> Gateway:
        """The gateway with this id.

        Raises:
            KeyError: No such gateway.
        """
        try:
            return self._gateway_by_id[gateway_id]
        except KeyError:
            raise KeyError(f"unknown gateway {gateway_id!r} in site {self.id!r}") from None

    def has_level(self, level_id: str) -> bool:
        """Whether a level with this id exists."""
        return level_id in self._level_by_id

    def has_room(self, room_id: str) -> bool:
        """Whether a room with this id exists."""
        return room_id in self._room_by_id

    def has_gateway(self, gateway_id: str) -> bool:
        """Whether a gateway with this id exists."""
        return gateway_id in self._gateway_by_id

    def levels_of(self, building_id: str) -> list[Level]:
        """The levels of a building, bottom to top."""
        return sorted((lv for lv in self.levels if lv.building == building_id), key=_ordinal)

    def rooms_on(self, level_id: str) -> list[Room]:
        """The rooms of a level, in file order."""
        return [r for r in self.rooms if r.level == level_id]

    def walls_on(self, level_id: str) -> list[Wall]:
        """The walls of a level, in file order."""
        return [w for w in self.walls if w.level == level_id]

    def gateways_on(self, level_id: str) -> list[Gateway]:
        """The gateways of a level, in file order."""
        return [g for g in self.gateways if g.level == level_id]


def _ordinal(level: Level) -> int:
    return level.ordinal
