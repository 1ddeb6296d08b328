"""Response schemas (database rows never leak to the API)."""

from __future__ import annotations

import time

from pydantic import BaseModel

from tracker.records import FixRecord

__all__ = ["GatewayList", "GatewayOut", "LevelOut", "LocationList", "LocationOut", "ReadyOut"]


class LocationOut(BaseModel):
    """Where a tag (and its asset) is."""

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

    @classmethod
    def of(cls, f: FixRecord, now: float | None = None) -> LocationOut:
        """From a fix record."""
        t = time.time() if now is None else now
        return cls(tag=f.tag, asset=f.asset, ts=round(f.ts, 3),
                   age_s=round(max(t - f.ts, 0.0), 1), building=f.building, level=f.level,
                   room=f.room, room_confidence=f.room_confidence, x=f.x, y=f.y,
                   accuracy_m=f.accuracy_m, moving=f.moving)


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
