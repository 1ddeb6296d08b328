"""Response schemas (database rows never leak to the API)."""

from __future__ import annotations

import time

from pydantic import BaseModel

from floorplans.model import Site
from tracker.records import FixRecord

__all__ = ["GatewayList", "GatewayOut", "LevelOut", "LocationList", "LocationOut", "ReadyOut"]


class LocationOut(BaseModel):
    """Where a tag (and its asset) is; ``stale`` when the fix is older than the state map's
    ``stale_after_s`` (the asset then counts as not seen, but this is still where it was last)."""

    tag: str
    asset: str | None
    ts: float
    age_s: float
    building: str | None
    level: str | None
    room: str | None
    room_confidence: float
    x: float
    y: float
    accuracy_m: float
    moving: bool
    room_name: str | None = None
    room_category: str | None = None
    level_name: str | None = None
    building_name: str | None = None
    stale: bool = False

    @classmethod
    def of(cls, f: FixRecord, now: float | None = None, *, site: Site | None = None,
           stale_after_s: float | None = None) -> LocationOut:
        """From a fix record.

        Args:
            f: The fix.
            now: The moment the age is measured at (default: now).
            site: The plan, to add room, level and building names (omitted: names are None).
            stale_after_s: A fix older than this is ``stale`` (omitted: never stale).
        """
        t = time.time() if now is None else now
        age = max(t - f.ts, 0.0)
        room = (site.room(f.room) if site is not None and f.room is not None
                and site.has_room(f.room) else None)
        level = (site.level(f.level) if site is not None and f.level is not None
                 and site.has_level(f.level) else None)
        building = None
        if site is not None and f.building is not None:
            building = next((b.name for b in site.buildings if b.id == f.building), None)
        return cls(tag=f.tag, asset=f.asset, ts=round(f.ts, 3), age_s=round(age, 1),
                   building=f.building, level=f.level, room=f.room,
                   room_confidence=f.room_confidence, x=f.x, y=f.y, accuracy_m=f.accuracy_m,
                   moving=f.moving, room_name=None if room is None else room.name,
                   room_category=None if room is None else room.category,
                   level_name=None if level is None else level.name, building_name=building,
                   stale=stale_after_s is not None and age > stale_after_s)


class LocationList(BaseModel):
    """Current locations."""

    count: int
    source: str
    items: list[LocationOut]


class LevelOut(BaseModel):
    """A level and how its SVG maps site metres to pixels: ``px = offset_x + (x - min_x) *
    scale``, ``py = offset_y + (max_y - y) * scale``."""

    id: str
    name: str
    building: str
    svg: str
    min_x: float
    max_y: float
    scale: float
    offset_x: float
    offset_y: float


class GatewayOut(BaseModel):
    """Health of one gateway."""

    gateway: str
    state: str
    last_seen: float | None
    age_s: float | None
    messages_per_s: float
    readings_per_s: float
    messages: int | None = None
    readings: int | None = None
    rejects: int | None = None


class GatewayList(BaseModel):
    """Health of every gateway."""

    count: int
    source: str
    items: list[GatewayOut]


class ReadyOut(BaseModel):
    """Readiness and its checks."""

    ready: bool
    checks: dict[str, str]
    spool_bytes: int
    uptime_s: float
