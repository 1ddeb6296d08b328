"""Assets: search with state and location, one asset, its trail, and the equipment types."""

from __future__ import annotations

import asyncio
import math
import time
from typing import Annotated, Literal

from fastapi import APIRouter, Path, Query

from tracker.api.deps import StateDep, StoreDep
from tracker.api.errors import NotFoundError
from tracker.api.lookup_schemas import AssetList, AssetOut, TrailOut, TypeOut
from tracker.api.schemas import LocationOut
from tracker.api.security import PorterDep
from tracker.api.snapshots import fleet, locations, registry, where
from tracker.api.state import AppState
from tracker.api.validation import invalid
from tracker.assets import Asset
from tracker.availability import AssetState
from tracker.lookup import Placed, place
from tracker.records import FixRecord
from tracker.store.base import Store, all_assets

__all__ = ["MAX_TRAIL_SPAN_S", "router"]

router = APIRouter(prefix="/api/v1", tags=["assets"])

DEFAULT_TRAIL_S = 8 * 3600.0
"""Trail length when ``from`` is not given (seconds)."""
MAX_TRAIL_SPAN_S = 31 * 86400.0
"""Longest trail one request may ask for (seconds)."""

AssetId = Annotated[str, Path(min_length=1, max_length=200, description="asset id")]
Status = Literal["active", "in_repair", "retired", "lost"]


async def _asset(store: Store, asset_id: str) -> Asset:
    asset = await asyncio.to_thread(store.get_asset, asset_id)
    if asset is None:
        raise NotFoundError(f"no asset {asset_id!r}")
    return asset


def _out(state: AppState, placed: list[Placed], now: float) -> list[AssetOut]:
    return [AssetOut.of(p, site=state.site, now=now) for p in placed]


def _matching_ids(store: Store, q: str, asset_type: str | None, department: str | None,
                  status: str | None) -> set[str]:
    return {a.id for a in all_assets(store, q, type=asset_type, department=department,
                                     status=status, page=5000)}


@router.get("/assets", response_model=AssetList, summary="Search assets")
async def list_assets(
    principal: PorterDep,
    state: StateDep,
    store: StoreDep,
    q: Annotated[str | None, Query(max_length=200, description=(
        "text in the id, name, serial number, barcode, GIAI or model (case-insensitive)"))
    ] = None,
    type: Annotated[str | None, Query(min_length=1, max_length=100,
                                      description="equipment type, e.g. infusion_pump")] = None,
    department: Annotated[str | None, Query(min_length=1, max_length=200)] = None,
    status: Annotated[Status | None, Query(description="registry status")] = None,
    asset_state: Annotated[AssetState | None, Query(
        alias="state", description="state derived from the location, e.g. available")] = None,
    limit: Annotated[int, Query(ge=1, le=100)] = 20,
    offset: Annotated[int, Query(ge=0, le=1_000_000)] = 0,
) -> AssetList:
    """Assets matching every filter given, ordered by id, each with its state and location.

    ``type`` matches the registry's types ignoring case and ``-``/``_``. Without ``state`` the
    store pages the registry; with ``state`` the filter runs on the registry snapshot (at most
    60 s old) and the text part still in the store.
    """
    text = q.strip() if q and q.strip() else None
    asset_type = type
    if type is not None:
        asset_type = (await registry(state)).resolve_type(type) or type
    if asset_state is None:
        page, total = await asyncio.to_thread(
            store.search_assets, text, type=asset_type, department=department, status=status,
            limit=limit, offset=offset)
        loc = await locations(state)
        sm = state.states
        placed = [place(a, loc.of_asset(a), state.site, sm, loc.taken_at) for a in page]
        return AssetList(total=total, limit=limit, offset=offset,
                         items=_out(state, placed, loc.taken_at))
    fl = await fleet(state)
    ids = None if text is None else await asyncio.to_thread(
        _matching_ids, store, text, asset_type, department, status)

    def select() -> list[Placed]:
        return [p for p in fl.in_state(asset_state, asset_type)
                if (department is None or p.asset.department == department)
                and (status is None or p.asset.status == status)
                and (ids is None or p.asset.id in ids)]

    hits = await asyncio.to_thread(select)
    return AssetList(total=len(hits), limit=limit, offset=offset,
                     items=_out(state, hits[offset:offset + limit], fl.now))


@router.get("/assets/{asset_id}", response_model=AssetOut, summary="One asset")
async def get_asset(principal: PorterDep, state: StateDep, store: StoreDep,
                    asset_id: AssetId) -> AssetOut:
    """The asset with its paired tags, state and current location (404 when unknown; 503
    while the database, which knows the registry, is not open)."""
    asset, fix = await where(state, asset_id)
    if asset is None:
        raise NotFoundError(f"no asset {asset_id!r}")
    now = time.time()
    return _out(state, [place(asset, fix, state.site, state.states, now)], now)[0]


def _trail(store: Store, asset_id: str, t0: float, t1: float, limit: int) -> list[FixRecord]:
    out: list[FixRecord] = []
    for p in store.pairings(asset=asset_id):
        a, b = max(t0, p.since), min(t1, math.inf if p.until is None else p.until)
        if a < b:
            out.extend(store.trail(p.tag, a, b))
    out.sort(key=lambda f: (f.ts, f.tag))
    return out[:limit + 1]


@router.get("/assets/{asset_id}/trail", response_model=TrailOut, summary="Where it has been")
async def trail(
    principal: PorterDep,
    state: StateDep,
    store: StoreDep,
    asset_id: AssetId,
    t0: Annotated[float | None, Query(alias="from", ge=0, allow_inf_nan=False,
                                      description="start, Unix seconds (default: 8 h ago)")
                  ] = None,
    t1: Annotated[float | None, Query(alias="to", ge=0, allow_inf_nan=False,
                                      description="end, Unix seconds (default: now)")] = None,
    limit: Annotated[int, Query(ge=1, le=50_000)] = 10_000,
) -> TrailOut:
    """Stored fixes of the asset's tags while they were paired with it, oldest first.

    422 when ``from`` is not before ``to`` or the span exceeds 31 days.
    """
    end = time.time() if t1 is None else t1
    start = end - DEFAULT_TRAIL_S if t0 is None else t0
    if start >= end:
        raise invalid("query", "from", "must be before 'to'", t0)
    if end - start > MAX_TRAIL_SPAN_S:
        raise invalid("query", "from", "the trail may span at most 31 days", t0)
    asset = await _asset(store, asset_id)
    fixes = await asyncio.to_thread(_trail, store, asset.id, start, end, limit)
    now = time.time()
    items = [LocationOut.of(f, now, site=state.site) for f in fixes[:limit]]
    return TrailOut(asset=asset.id, items=items, truncated=len(fixes) > limit)


@router.get("/types", response_model=list[TypeOut], summary="Equipment types")
async def types(principal: PorterDep, state: StateDep) -> list[TypeOut]:
    """Every equipment type in the registry with its number of assets and of available ones."""
    fl = await fleet(state)
    counts = await asyncio.to_thread(fl.type_counts)
    return [TypeOut(type=c.type, count=c.count, available=c.available) for c in counts]
