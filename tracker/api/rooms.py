"""Rooms of the plan: the "I am in room ..." picker, and what is in a room now."""

from __future__ import annotations

import asyncio
from typing import Annotated

from fastapi import APIRouter, Path, Query

from floorplans.model import ROOM_CATEGORIES, Room, Site
from tracker.api.deps import StateDep
from tracker.api.errors import NotFoundError
from tracker.api.lookup_schemas import AssetOut, RoomContentsOut, RoomOut
from tracker.api.security import PorterDep
from tracker.api.snapshots import fleet
from tracker.api.state import AppState
from tracker.api.validation import invalid
from tracker.lookup import fold

__all__ = ["match_rooms", "router"]

router = APIRouter(prefix="/api/v1", tags=["rooms"])

RoomId = Annotated[str, Path(min_length=1, max_length=200, description="room id")]


def match_rooms(site: Site, q: str | None, *, level: str | None = None,
                category: str | None = None) -> list[Room]:
    """Rooms whose id or name contains ``q`` (case-insensitive, any Unicode letters), on
    ``level`` and of ``category`` when given.

    Ordered best first: id equal to ``q``, id starting with it, name starting with it, then
    the rest; by id within each group.
    """
    needle = fold(q.strip()) if q else ""
    ranked: list[tuple[int, str, Room]] = []
    for r in site.rooms:
        if (level is not None and r.level != level) or (
                category is not None and r.category != category):
            continue
        rid, name = fold(r.id), fold(r.name)
        if needle and needle not in rid and needle not in name:
            continue
        rank = (0 if rid == needle else 1 if rid.startswith(needle)
                else 2 if name.startswith(needle) else 3)
        ranked.append((rank, r.id, r))
    ranked.sort(key=lambda t: (t[0], t[1]))
    return [r for _, _, r in ranked]


def _room(state: AppState, room_id: str) -> Room:
    if not state.site.has_room(room_id):
        raise NotFoundError(f"unknown room {room_id!r}")
    return state.site.room(room_id)


@router.get("/rooms", response_model=list[RoomOut], summary="Find rooms")
async def rooms(
    principal: PorterDep,
    state: StateDep,
    q: Annotated[str | None, Query(max_length=200,
                                   description="text in the room id or name")] = None,
    level: Annotated[str | None, Query(min_length=1, max_length=100)] = None,
    category: Annotated[str | None, Query(min_length=1, max_length=100,
                                          description="room category, e.g. patient_room")
                        ] = None,
    limit: Annotated[int, Query(ge=1, le=500)] = 50,
) -> list[RoomOut]:
    """Rooms of the plan matching the text, best match first (404 for an unknown level, 422
    for a category that is not a room category)."""
    site = state.site
    if level is not None and not site.has_level(level):
        raise NotFoundError(f"unknown level {level!r}")
    if category is not None and category not in ROOM_CATEGORIES:
        raise invalid("query", "category", "is not a room category", category)
    found = match_rooms(site, q, level=level, category=category)
    return [RoomOut.of(r, site) for r in found[:limit]]


@router.get("/rooms/{room_id}/contents", response_model=RoomContentsOut,
            summary="What is in a room")
async def room_contents(principal: PorterDep, state: StateDep,
                        room_id: RoomId) -> RoomContentsOut:
    """The room and the registered assets whose current location it is (stale ones included,
    marked ``stale``), ordered by id."""
    room = _room(state, room_id)
    fl = await fleet(state)
    placed = await asyncio.to_thread(fl.in_room, room.id)
    items = [AssetOut.of(p, site=state.site, now=fl.now) for p in placed]
    return RoomContentsOut(room=RoomOut.of(room, state.site), count=len(items), items=items)
