"""Current locations: all of them (filtered), or one asset's."""

from __future__ import annotations

import asyncio
import time
from typing import Annotated

from fastapi import APIRouter, Path, Query

from tracker.api import snapshots
from tracker.api.deps import StateDep
from tracker.api.errors import NotFoundError, UnavailableError
from tracker.api.schemas import LocationList, LocationOut
from tracker.api.security import PorterDep
from tracker.api.state import AppState
from tracker.records import FixRecord

__all__ = ["router"]

router = APIRouter(prefix="/api/v1", tags=["locations"])

_TYPE_TTL_S = 30.0
Id = Annotated[str, Path(min_length=1, max_length=200, description="asset id or tag id")]


async def _assets_of_type(state: AppState, asset_type: str) -> set[str]:
    key = f"type:{asset_type.casefold()}"
    hit = state.cache.get(key)
    now = time.monotonic()
    if hit is not None and now - hit[0] < _TYPE_TTL_S:
        ids: set[str] = hit[1]
        return ids
    store = state.store
    if store is None:
        raise UnavailableError("filtering by asset type needs the asset registry (database)")
    out: set[str] = set()
    offset = 0
    while True:
        page, total = await asyncio.to_thread(store.search_assets, type=asset_type,
                                              limit=1000, offset=offset)
        out.update(a.id for a in page)
        offset += len(page)
        if not page or offset >= total:
            break
    state.cache[key] = (now, out)
    return out


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
    """The latest fix of every tag, optionally only on a level, in a room, of an asset type.

    Served from the pipeline's memory when the pipeline runs in this process, else from the
    database.
    """
    if level is not None and not state.site.has_level(level):
        raise NotFoundError(f"unknown level {level!r}")
    now = time.time()
    since = None if max_age_s is None else now - max_age_s
    fixes: list[FixRecord]
    if state.pipeline is not None:
        fixes = state.pipeline.locations(level=level, room=room, since=since)
        source = "pipeline"
    elif state.store is not None:
        store = state.store
        fixes = await asyncio.to_thread(store.current_locations, site=state.site.id,
                                        level=level, since=since)
        if room is not None:
            fixes = [f for f in fixes if f.room == room]
        source = "database"
    else:
        raise UnavailableError("no pipeline and no database in this process")
    if type is not None:
        wanted = await _assets_of_type(state, type)
        fixes = [f for f in fixes if f.asset in wanted]
    stale_after = snapshots.state_map(state).stale_after_s
    items = [LocationOut.of(f, now, site=state.site, stale_after_s=stale_after) for f in fixes]
    return LocationList(count=len(items), source=source, items=items)


@router.get("/assets/{asset_id}/location", response_model=LocationOut,
            summary="Where one asset (or tag) is")
async def asset_location(principal: PorterDep, state: StateDep, asset_id: Id) -> LocationOut:
    """The latest fix of the asset's tags (or of a tag with this id); a fix older than the
    state map's ``stale_after_s`` is still returned, with ``stale: true``."""
    pipeline, store = state.pipeline, state.store
    found = None if pipeline is None else pipeline.latest.get(asset_id)
    if found is None:
        if store is not None and pipeline is None:
            found = await asyncio.to_thread(store.location_of, asset_id)
            known = found is not None or (
                await asyncio.to_thread(store.get_asset, asset_id) is not None)
        elif store is not None:
            asset = await asyncio.to_thread(store.get_asset, asset_id)
            if asset is not None:
                found = await snapshots.location_of(state, asset)
            else:  # a tag the pipeline has not seen since it started
                found = await asyncio.to_thread(store.location_of, asset_id)
            known = asset is not None or found is not None
        elif pipeline is not None:
            found = (await snapshots.locations(state)).by_asset.get(asset_id)
            known = True
        else:
            raise UnavailableError("no pipeline and no database in this process")
        if not known:
            raise NotFoundError(f"no asset or tag {asset_id!r}")
    if found is None:
        raise NotFoundError(f"{asset_id!r} has no location yet")
    stale_after = snapshots.state_map(state).stale_after_s
    return LocationOut.of(found, site=state.site, stale_after_s=stale_after)
