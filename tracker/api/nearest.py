"""The porter's question: the nearest available asset of a type, by walking distance."""

from __future__ import annotations

import asyncio
from typing import Annotated

from fastapi import APIRouter, Query

from tracker.api.deps import StateDep
from tracker.api.errors import NotFoundError
from tracker.api.lookup_schemas import (
    AssetOut,
    NearestItem,
    NearestOut,
    RoomOut,
    RoutePointOut,
)
from tracker.api.security import PorterDep
from tracker.api.snapshots import fleet, wayfinder
from tracker.lookup import Fleet, Nearest, Wayfinder

__all__ = ["router"]

router = APIRouter(prefix="/api/v1", tags=["nearest"])


def _rank(fl: Fleet, wf: Wayfinder, asset_type: str, from_room: str, limit: int,
          include_unavailable: bool) -> tuple[Nearest, list[list[RoutePointOut]]]:
    if include_unavailable:
        pool = [p for p in fl.of_type(asset_type) if p.fix is not None]
    else:
        pool = fl.available(asset_type)
    ranked = wf.nearest(from_room, pool, limit=limit)
    routes = [[RoutePointOut(x=round(p.x, 2), y=round(p.y, 2), level=p.level)
               for p in wf.route(from_room, c)] for c in ranked.items]
    return ranked, routes


@router.get("/nearest", response_model=NearestOut, summary="Nearest available asset of a type")
async def nearest(
    principal: PorterDep,
    state: StateDep,
    type: Annotated[str, Query(min_length=1, max_length=100,
                               description="equipment type, e.g. infusion_pump")],
    from_room: Annotated[str, Query(min_length=1, max_length=200,
                                    description="room id the porter starts from")],
    limit: Annotated[int, Query(ge=1, le=50)] = 5,
    include_unavailable: Annotated[bool, Query(
        description="rank every located asset of the type, whatever its state")] = False,
) -> NearestOut:
    """Available assets of ``type``, nearest first by walking distance from ``from_room``,
    each with the route to draw.

    Available: the last fix is in a room whose category the state map calls available (clean
    utility, equipment storage), not moving, at most ``stale_after_s`` old, and the registry
    status is not out of service. Distance: walking-equivalent metres over doors, corridors,
    stairs and elevators (an elevator ride counts 30 s waiting plus 4 s per level) from the
    centre of ``from_room`` to the centre of the asset's room; ``walk_s`` at 1.0 m/s.

    A type no asset has is answered like a type with none available: 200 with ``total`` 0
    and no items (so a typo shows as "none found", and ``GET /api/v1/types`` lists the real
    ones). 404 for an unknown room; 422 for a missing or empty ``type`` or ``from_room``.
    """
    site = state.site
    if not site.has_room(from_room):
        raise NotFoundError(f"unknown room {from_room!r}")
    wf = await wayfinder(state)
    if not wf.has_room(from_room):
        raise NotFoundError(f"room {from_room!r} is not on the walking graph")
    fl = await fleet(state)
    asset_type = fl.registry.resolve_type(type)
    room = RoomOut.of(site.room(from_room), site)
    if asset_type is None:
        return NearestOut(from_room=room, type=type, total=0, unreachable=0,
                          walking_speed_m_s=wf.walking_speed_m_s, items=[])
    ranked, routes = await asyncio.to_thread(_rank, fl, wf, asset_type, from_room, limit,
                                             include_unavailable)
    items = [NearestItem(asset=AssetOut.of(c.placed, site=site, now=fl.now),
                         distance_m=c.distance_m, walk_s=c.walk_s, route=route)
             for c, route in zip(ranked.items, routes, strict=True)]
    return NearestOut(from_room=room, type=asset_type, total=ranked.total,
                      unreachable=ranked.unreachable, walking_speed_m_s=wf.walking_speed_m_s,
                      items=items)
