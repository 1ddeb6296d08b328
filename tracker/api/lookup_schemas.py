"""Response and request schemas of the porter lookup API (assets, rooms, nearest, tags)."""

from __future__ import annotations

import datetime as dt

from pydantic import BaseModel, Field

from floorplans.model import Room, Site
from tracker.api.schemas import LocationOut
from tracker.availability import AssetState
from tracker.lookup import Placed
from tracker.store.base import Pairing

__all__ = [
    "AssetList",
    "AssetOut",
    "NearestItem",
    "NearestOut",
    "PairTagIn",
    "PairingOut",
    "RoomContentsOut",
    "RoomOut",
    "RoutePointOut",
    "TagPairedOut",
    "TrailOut",
    "TypeOut",
]


class AssetOut(BaseModel):
    """An asset, its state and where it is (``location`` None: never seen)."""

    id: str
    name: str
    type: str | None
    model: str | None
    serial: str | None
    department: str | None
    status: str
    home_room: str | None
    next_maintenance: dt.date | None
    tags: list[str]
    state: AssetState
    location: LocationOut | None

    @classmethod
    def of(cls, p: Placed, *, site: Site, now: float) -> AssetOut:
        """From an asset placed by :class:`tracker.lookup.Fleet` (or
        :func:`tracker.lookup.place`) at ``now``; the location's ``stale`` is the placing's."""
        a = p.asset
        loc = None if p.fix is None else LocationOut.of(p.fix, now, site=site).model_copy(
            update={"stale": p.stale})
        return cls(id=a.id, name=a.name, type=a.type, model=a.model, serial=a.serial,
                   department=a.department, status=a.status, home_room=a.home_room,
                   next_maintenance=a.next_maintenance, tags=list(a.tags), state=p.state,
                   location=loc)


class AssetList(BaseModel):
    """One page of assets and how many matched in all."""

    total: int
    limit: int
    offset: int
    items: list[AssetOut]


class TypeOut(BaseModel):
    """An equipment type: how many assets have it and how many of them are available."""

    type: str
    count: int
    available: int


class TrailOut(BaseModel):
    """Where an asset has been, oldest first (``truncated``: more fixes than ``limit``)."""

    asset: str
    items: list[LocationOut]
    truncated: bool = False


class RoomOut(BaseModel):
    """A room of the plan."""

    id: str
    name: str
    category: str
    level: str
    level_name: str | None
    building: str | None
    building_name: str | None
    department: str | None

    @classmethod
    def of(cls, room: Room, site: Site) -> RoomOut:
        """From the plan's room."""
        level = site.level(room.level) if site.has_level(room.level) else None
        bid = None if level is None else level.building
        bname = next((b.name for b in site.buildings if b.id == bid), None)
        return cls(id=room.id, name=room.name, category=room.category, level=room.level,
                   level_name=None if level is None else level.name, building=bid,
                   building_name=bname, department=room.department)


class RoomContentsOut(BaseModel):
    """A room and the assets whose current location it is."""

    room: RoomOut
    count: int
    items: list[AssetOut]


class RoutePointOut(BaseModel):
    """A point of a walking route: site metres on a level."""

    x: float
    y: float
    level: str


class NearestItem(BaseModel):
    """An asset ranked by walking distance.

    ``distance_m`` is walking-equivalent metres (elevator rides counted as their time at the
    walking speed); ``walk_s`` is the walking time; ``route`` the polyline to draw.
    """

    asset: AssetOut
    distance_m: float
    walk_s: float
    route: list[RoutePointOut]


class NearestOut(BaseModel):
    """The nearest assets of a type from a room.

    ``total`` counts the assets ranked (available ones, or every located one with
    ``include_unavailable``); ``unreachable`` those of them with no walking route.
    """

    from_room: RoomOut
    type: str
    total: int
    unreachable: int
    walking_speed_m_s: float
    items: list[NearestItem]


class PairTagIn(BaseModel):
    """A tag to pair: a MAC address (any usual spelling), ``ibeacon:<uuid>:<major>:<minor>``
    or ``eddystone:<namespace>:<instance>``."""

    tag: str = Field(min_length=1, max_length=200)


class PairingOut(BaseModel):
    """A period a tag was (``until`` None: is) paired with an asset."""

    asset: str
    tag: str
    since: float
    until: float | None

    @classmethod
    def of(cls, p: Pairing) -> PairingOut:
        """From the store's pairing."""
        return cls(asset=p.asset, tag=p.tag, since=round(p.since, 6),
                   until=None if p.until is None else round(p.until, 6))


class TagPairedOut(BaseModel):
    """The result of pairing a tag: the new pairing and the one it closed, if any."""

    pairing: PairingOut
    replaced: PairingOut | None
