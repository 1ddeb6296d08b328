"""Worklists from where assets are now: idle, missing and due for maintenance.

Definitions (``now`` the current time, registry assets that are not retired):

* **idle**: the asset's latest stay is still open and began at least ``days`` days ago (it
  has not left that room since), and it was heard within ``state_map.stale_after_s`` (an
  asset not heard is *missing*, not idle);
* **missing**: the asset's latest fix (over its tags) is at least ``hours`` hours old, or it
  was never seen; with its last known level, room and time, and the gateway that heard it
  strongest at that last fix (``last_gateway``; None for fixes stored before migration 0005
  recorded it);
* **maintenance**: ``next_maintenance`` is on or before ``today + days`` (overdue included),
  with the current room and state; ``collectable`` when the state is ``available`` or
  ``needs_cleaning`` (not on a patient, not lost). Ordered as a walking route: from
  ``start_room``, repeatedly the nearest room (walking-equivalent metres,
  :meth:`floorplans.routing.WalkingGraph.distances_from`) holding a due asset not yet
  visited; assets whose room is unknown or unreachable come last, by due date.
"""

from __future__ import annotations

import datetime as dt
import math
import time
from dataclasses import dataclass
from typing import Any, ClassVar

from floorplans.model import Site
from floorplans.routing import WalkingGraph
from tracker.availability import AssetState, StateMap
from tracker.reports.periods import DEFAULT_TZ, iso_local, local_date
from tracker.store.base import Store

__all__ = [
    "IdleRow",
    "MaintenanceRow",
    "MissingRow",
    "idle",
    "maintenance",
    "missing",
]

_COLLECTABLE = frozenset({AssetState.AVAILABLE, AssetState.NEEDS_CLEANING})


@dataclass(frozen=True, slots=True)
class _Asset:
    id: str
    name: str
    type: str | None
    department: str | None
    status: str
    next_maintenance: dt.date | None


@dataclass(frozen=True, slots=True)
class _Seen:
    ts: float
    level: str | None
    room: str | None
    gateway: str | None


def _assets(store: Store, type: str | None, department: str | None) -> list[_Asset]:
    d = store.dialect
    params: list[Any] = []
    where = d.equal_filters((("type", type), ("department", department)), params)
    rows = store.query("SELECT id, name, type, department, status, next_maintenance FROM assets"
                       f" WHERE status <> 'retired'{where} ORDER BY id", params)
    return [_Asset(r[0], r[1], r[2], r[3], r[4], d.decode_date(r[5])) for r in rows]


def _last_seen(store: Store) -> dict[str, _Seen]:
    """The latest fix per asset (over its tags), from ``current_location``."""
    d = store.dialect
    out: dict[str, _Seen] = {}
    for asset, us, level, room, gateway in store.query(
            f"SELECT asset, {d.us.format('time')}, level, room, gateway FROM current_location"
            " WHERE asset IS NOT NULL"):
        ts = int(us) / 1e6
        cur = out.get(asset)
        if cur is None or ts > cur.ts:
            out[asset] = _Seen(ts, level, room, gateway)
    return out


def _room_name(site: Site | None, room: str | None) -> str | None:
    if site is None or room is None or not site.has_room(room):
        return None
    return site.room(room).name


# ---------------------------------------------------------------------------- idle
@dataclass(frozen=True, slots=True)
class IdleRow:
    """An asset that has not left its room for ``idle_days``."""

    COLUMNS: ClassVar[tuple[str, ...]] = (
        "asset", "name", "type", "department", "level", "room", "room_name", "state", "since",
        "idle_days")

    asset: str
    name: str
    type: str | None
    department: str | None
    level: str | None
    room: str
    room_name: str | None
    state: str
    since: float
    idle_days: float

    def to_record(self, tz: str = DEFAULT_TZ) -> dict[str, Any]:
        """Flat record for CSV/JSON."""
        return {"asset": self.asset, "name": self.name, "type": self.type,
                "department": self.department, "level": self.level, "room": self.room,
                "room_name": self.room_name, "state": self.state,
                "since": iso_local(self.since, tz), "idle_days": round(self.idle_days, 2)}


def idle(
    store: Store,
    site: Site | None,
    *,
    days: float,
    type: str | None = None,
    department: str | None = None,
    state_map: StateMap | None = None,
    now: float | None = None,
) -> list[IdleRow]:
    """Assets that have not left their room for at least ``days`` days, longest first.

    Raises:
        ValueError: ``days`` is negative.
    """
    if not days >= 0:
        raise ValueError(f"days: must be >= 0, got {days!r}")
    now = time.time() if now is None else now
    sm = state_map or StateMap()
    d = store.dialect
    latest: dict[str, tuple[float, str, str | None]] = {}
    for asset, us, room, level in store.query(
            f"SELECT asset, {d.us.format('t_enter')}, room, level FROM stays"
            " WHERE t_exit IS NULL AND asset IS NOT NULL"):
        t = int(us) / 1e6
        if asset not in latest or t > latest[asset][0]:
            latest[asset] = (t, room, level)
    seen = _last_seen(store)
    cutoff = now - days * 86_400.0
    out: list[IdleRow] = []
    for a in _assets(store, type, department):
        stay = latest.get(a.id)
        last = seen.get(a.id)
        if stay is None or stay[0] > cutoff:
            continue
        if last is None or now - last.ts > sm.stale_after_s:
            continue
        cat = site.room(stay[1]).category if site and site.has_room(stay[1]) else None
        state = sm.state(category=cat, status=a.status) if cat is not None else sm.unknown
        out.append(IdleRow(a.id, a.name, a.type, a.department, stay[2], stay[1],
                           _room_name(site, stay[1]), str(state), stay[0],
                           (now - stay[0]) / 86_400.0))
    out.sort(key=lambda r: (r.since, r.asset))
    return out


# ---------------------------------------------------------------------------- missing
@dataclass(frozen=True, slots=True)
class MissingRow:
    """An asset not seen for ``hours_missing`` hours (None: never seen)."""

    COLUMNS: ClassVar[tuple[str, ...]] = (
        "asset", "name", "type", "department", "status", "last_seen", "hours_missing",
        "level", "room", "room_name", "last_gateway")

    asset: str
    name: str
    type: str | None
    department: str | None
    status: str
    last_seen: float | None
    hours_missing: float | None
    level: str | None
    room: str | None
    room_name: str | None
    last_gateway: str | None = None

    def to_record(self, tz: str = DEFAULT_TZ) -> dict[str, Any]:
        """Flat record for CSV/JSON."""
        return {"asset": self.asset, "name": self.name, "type": self.type,
                "department": self.department, "status": self.status,
                "last_seen": iso_local(self.last_seen, tz),
                "hours_missing": None if self.hours_missing is None
                else round(self.hours_missing, 2),
                "level": self.level, "room": self.room, "room_name": self.room_name,
                "last_gateway": self.last_gateway}


def missing(
    store: Store,
    site: Site | None,
    *,
    hours: float,
    type: str | None = None,
    department: str | None = None,
    now: float | None = None,
) -> list[MissingRow]:
    """Assets not seen for at least ``hours`` hours (never seen first, then longest missing).

    Raises:
        ValueError: ``hours`` is negative.
    """
    if not hours >= 0:
        raise ValueError(f"hours: must be >= 0, got {hours!r}")
    now = time.time() if now is None else now
    seen = _last_seen(store)
    cutoff = now - hours * 3600.0
    out: list[MissingRow] = []
    for a in _assets(store, type, department):
        last = seen.get(a.id)
        if last is None:
            out.append(MissingRow(a.id, a.name, a.type, a.department, a.status, None, None,
                                  None, None, None))
        elif last.ts <= cutoff:
            out.append(MissingRow(a.id, a.name, a.type, a.department, a.status, last.ts,
                                  (now - last.ts) / 3600.0, last.level, last.room,
                                  _room_name(site, last.room), last.gateway))
    out.sort(key=lambda r: (r.last_seen is not None, r.last_seen or 0.0, r.asset))
    return out


# ---------------------------------------------------------------------------- maintenance
@dataclass(frozen=True, slots=True)
class MaintenanceRow:
    """One stop of the maintenance worklist, in route order.

    Attributes:
        order: 1-based position on the route.
        walk_m: Walking-equivalent metres from the start to this asset's room along the route
            (None when its room is unknown or unreachable).
    """

    COLUMNS: ClassVar[tuple[str, ...]] = (
        "order", "asset", "name", "type", "department", "next_maintenance", "days_left",
        "level", "room", "room_name", "state", "collectable", "last_seen", "walk_m")

    order: int
    asset: str
    name: str
    type: str | None
    department: str | None
    next_maintenance: dt.date
    days_left: int
    level: str | None
    room: str | None
    room_name: str | None
    state: str
    collectable: bool
    last_seen: float | None
    walk_m: float | None

    def to_record(self, tz: str = DEFAULT_TZ) -> dict[str, Any]:
        """Flat record for CSV/JSON."""
        return {"order": self.order, "asset": self.asset, "name": self.name,
                "type": self.type, "department": self.department,
                "next_maintenance": self.next_maintenance.isoformat(),
                "days_left": self.days_left, "level": self.level, "room": self.room,
                "room_name": self.room_name, "state": self.state,
                "collectable": self.collectable, "last_seen": iso_local(self.last_seen, tz),
                "walk_m": None if self.walk_m is None else round(self.walk_m, 1)}


def maintenance(
    store: Store,
    site: Site,
    *,
    days: int,
    start_room: str | None = None,
    type: str | None = None,
    department: str | None = None,
    graph: WalkingGraph | None = None,
    state_map: StateMap | None = None,
    tz: str = DEFAULT_TZ,
    now: float | None = None,
) -> list[MaintenanceRow]:
    """Assets due for maintenance within ``days`` days, as a walking route.

    Args:
        store: The store (registry and current locations).
        site: The floor plan (rooms, categories, walking graph).
        days: Horizon in days from today (local date of ``now`` in ``tz``).
        start_room: Where the technician starts (default: the room of the most overdue asset
            with a known room).
        type, department: Only these assets.
        graph: A walking graph of ``site`` to reuse (built if omitted).
        state_map: Room category -> state.
        tz: Time zone of "today".
        now: The current time (default: the clock).

    Raises:
        ValueError: ``days`` negative, or ``start_room`` not a room of the site.
    """
    if days < 0:
        raise ValueError(f"days: must be >= 0, got {days!r}")
    if start_room is not None and not site.has_room(start_room):
        raise ValueError(f"start_room: unknown room {start_room!r} in site {site.id!r}")
    now = time.time() if now is None else now
    sm = state_map or StateMap()
    today = local_date(now, tz)
    horizon = today + dt.timedelta(days=days)
    seen = _last_seen(store)
    due = [a for a in _assets(store, type, department)
           if a.next_maintenance is not None and a.next_maintenance <= horizon]
    due.sort(key=lambda a: (a.next_maintenance or today, a.id))
    g = graph or WalkingGraph.from_site(site)
    placed: dict[str, list[_Asset]] = {}
    unplaced: list[_Asset] = []
    for a in due:
        last = seen.get(a.id)
        room = last.room if last is not None else None
        if room is not None and room in g.room_ids:
            placed.setdefault(room, []).append(a)
        else:
            unplaced.append(a)
    route = _route(g, placed, start_room)
    rows: list[MaintenanceRow] = []
    reached = {room for room, _ in route}
    for room, walk in route:
        for a in placed[room]:
            rows.append(_stop(len(rows) + 1, a, seen.get(a.id), site, sm, today, now, walk))
    for room, assets in placed.items():
        if room not in reached:
            unplaced.extend(assets)
    unplaced.sort(key=lambda a: (a.next_maintenance or today, a.id))
    for a in unplaced:
        rows.append(_stop(len(rows) + 1, a, seen.get(a.id), site, sm, today, now, None))
    return rows


def _route(g: WalkingGraph, placed: dict[str, list[_Asset]], start: str | None
           ) -> list[tuple[str, float]]:
    """Greedy nearest-next over the rooms in ``placed``: ``[(room, metres so far)]``."""
    todo = set(placed)
    if not todo:
        return []
    if start is None or start not in g.room_ids:
        start = next(iter(placed))  # dict order: the most overdue asset's room
    here, walked = start, 0.0
    out: list[tuple[str, float]] = []
    while todo:
        dist = g.distances_from(here)
        best = min(todo, key=lambda r: (dist.get(r, math.inf), r))
        d = dist.get(best, math.inf)
        if not math.isfinite(d):
            break
        walked += d
        out.append((best, walked))
        todo.discard(best)
        here = best
    return out


def _stop(order: int, a: _Asset, last: _Seen | None, site: Site, sm: StateMap,
          today: dt.date, now: float, walk: float | None) -> MaintenanceRow:
    room = last.room if last is not None else None
    cat = site.room(room).category if room is not None and site.has_room(room) else None
    state = sm.state(category=cat, status=a.status,
                     age_s=None if last is None else now - last.ts)
    assert a.next_maintenance is not None
    return MaintenanceRow(
        order=order, asset=a.id, name=a.name, type=a.type, department=a.department,
        next_maintenance=a.next_maintenance, days_left=(a.next_maintenance - today).days,
        level=last.level if last is not None else None, room=room,
        room_name=_room_name(site, room), state=str(state),
        collectable=state in _COLLECTABLE, last_seen=None if last is None else last.ts,
        walk_m=walk)

