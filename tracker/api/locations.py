"""Current locations: all of them (filtered), or one asset's."""

from __future__ import annotations

import time
from typing import Annotated

from fastapi import APIRouter, Path, Query

from tracker.api import snapshots
from tracker.api.deps import StateDep
from tracker.api.errors import NotFoundError
from tracker.api.schemas import LocationList, LocationOut
from tracker.api.security import PorterDep
from tracker.records import FixRecord

__all__ = ["router"]

router = APIRouter(prefix="/api/v1", tags=["locations"])

Id = Annotated[str, Path(min_length=1, max_length=200, description="asset id or tag id")]


@router.get("/locations", response_model=LocationList, summary="Current locations")
async def locations(
    principal: PorterDep,
    state: StateDep,
    level: Annotated[str | None, Query(max_length=100, description="level id")] = None,
    room: Annotated[str | None, Query(max_length=200, description="room id")] = None,
    type: Annotated[str | None, Query(max_length=100,
                                      description="asset type, e.g. infusion_pump")] = None,
    max_age_s: Annotated[float | None, Query(gt=0, le=315_360_000,  # ten years
                                             description="only fixes newer than this")
                         ] = None,
) -> LocationList:
    """The latest fix of every tag, optionally only on a level, in a room, of an asset type
    (the registry's types, ignoring case and ``-``/``_``).

    Served from the shared locations snapshot (at most one second old: the pipeline's memory
    when it runs in this process, over the database's current locations).
    """
    if level is not None and not state.site.has_level(level):
        raise NotFoundError(f"unknown level {level!r}")
    loc = await snapshots.locations(state)
    now = time.time()
    fixes: list[FixRecord] | tuple[FixRecord, ...]
    if room is not None:
        fixes = [f for f in loc.by_room.get(room, ()) if level is None or f.level == level]
    elif level is not None:
        fixes = loc.by_level.get(level, ())
    else:
        fixes = [loc.by_tag[t] for t in sorted(loc.by_tag)]
    if max_age_s is not None:
        fixes = [f for f in fixes if f.ts >= now - max_age_s]
    if type is not None:
        reg = await snapshots.registry(state)
        asset_type = reg.resolve_type(type)
        wanted = {a.id for a in reg.by_type.get(asset_type, ())} if asset_type else set()
        fixes = [f for f in fixes if f.asset in wanted]
    stale_after = state.states.stale_after_s
    items = [LocationOut.of(f, now, site=state.site, stale_after_s=stale_after) for f in fixes]
    return LocationList(count=len(items), source=loc.source, items=items)


@router.get("/assets/{asset_id}/location", response_model=LocationOut,
            summary="Where one asset (or tag) is")
async def asset_location(principal: PorterDep, state: StateDep, asset_id: Id) -> LocationOut:
    """The latest fix of the asset's tags (or of a tag with this id); a fix older than the
    state map's ``stale_after_s`` is still returned, with ``stale: true``."""
    asset, found = await snapshots.where(state, asset_id)
    if asset is None and found is None:
        raise NotFoundError(f"no asset or tag {asset_id!r}")
    if found is None:
        raise NotFoundError(f"{asset_id!r} has no location yet")
    stale_after = state.states.stale_after_s
    return LocationOut.of(found, site=state.site, stale_after_s=stale_after)
