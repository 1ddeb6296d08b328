"""Gateway health."""

from __future__ import annotations

import asyncio
import time

from fastapi import APIRouter

from tracker.api.deps import StateDep
from tracker.api.errors import UnavailableError
from tracker.api.schemas import GatewayList, GatewayOut
from tracker.api.security import PorterDep
from tracker.records import stored_online

__all__ = ["router"]

router = APIRouter(prefix="/api/v1", tags=["gateways"])


@router.get("/gateways", response_model=GatewayList, summary="Gateway health")
async def gateways(principal: PorterDep, state: StateDep) -> GatewayList:
    """Every gateway's state (online, offline, never seen), last message and rates: live from
    the ingestor in this process, else the latest status rows in the database."""
    if state.health is not None:
        rows = state.health.snapshot()
        items = [GatewayOut(gateway=r.gateway, state=r.state, last_seen=r.last_seen,
                            age_s=None if r.age_s is None else round(r.age_s, 1),
                            messages_per_s=round(r.messages_per_s, 3),
                            readings_per_s=round(r.readings_per_s, 3), messages=r.messages,
                            readings=r.readings, rejects=r.rejects) for r in rows]
        return GatewayList(count=len(items), source="ingestor", items=items)
    store = state.store
    if store is None:
        raise UnavailableError("no ingestor and no database in this process")
    stored = {g.gateway: g for g in await asyncio.to_thread(store.gateway_status)}
    now = time.time()
    items = []
    for gid in sorted({g.id for g in state.site.gateways} | set(stored)):
        g = stored.get(gid)
        if g is None:
            items.append(GatewayOut(gateway=gid, state="never_seen", last_seen=None, age_s=None,
                                    messages_per_s=0.0, readings_per_s=0.0))
            continue
        items.append(GatewayOut(
            gateway=gid, state="online" if stored_online(g, now) else "offline",
            last_seen=g.last_seen,
            age_s=None if g.last_seen is None else round(max(now - g.last_seen, 0.0), 1),
            messages_per_s=g.messages_per_s, readings_per_s=g.readings_per_s))
    return GatewayList(count=len(items), source="database", items=items)
