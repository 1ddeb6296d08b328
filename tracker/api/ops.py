"""Operations endpoints: liveness, readiness, Prometheus metrics."""

from __future__ import annotations

import asyncio
import time

from fastapi import APIRouter, Response
from fastapi.responses import JSONResponse

from tracker.api.deps import StateDep
from tracker.api.schemas import ReadyOut
from tracker.metrics import CONTENT_TYPE

__all__ = ["router"]

router = APIRouter(tags=["operations"])


@router.get("/healthz", summary="The process is alive")
async def healthz() -> dict[str, str]:
    """Always 200 while the event loop answers."""
    return {"status": "ok"}


@router.get("/readyz", response_model=ReadyOut, summary="Ready to serve",
            responses={503: {"model": ReadyOut}})
async def readyz(state: StateDep) -> JSONResponse:
    """200 when every component of this role is up: broker subscribed, database reachable,
    pipeline ticking; 503 (with the failing checks) otherwise."""
    checks: dict[str, str] = {}
    if state.starting:
        checks["startup"] = state.starting
    if state.ingestor is not None:
        checks["broker"] = "ok" if state.ingestor.connected.is_set() else "disconnected"
    if state.pipeline is not None:
        checks["pipeline"] = "ok" if state.pipeline.running else "stopped"
    spool = 0
    if state.writer is not None:
        ws = state.writer.stats()
        spool = ws.spool_bytes
        checks["database"] = "ok" if ws.store_available else "unreachable (spooling)"
    elif state.store is not None:
        store = state.store
        try:
            await asyncio.wait_for(asyncio.to_thread(store.gateway_status), timeout=5.0)
            checks["database"] = "ok"
        except Exception as exc:
            checks["database"] = f"unreachable: {type(exc).__name__}"
    elif state.database_url:
        checks["database"] = "not open"
    ready = all(v == "ok" for v in checks.values())
    body = ReadyOut(ready=ready, checks=checks, spool_bytes=spool,
                    uptime_s=round(time.time() - state.started_at, 1))
    return JSONResponse(body.model_dump(), status_code=200 if ready else 503)


@router.get("/metrics", summary="Prometheus metrics", response_class=Response)
async def metrics(state: StateDep) -> Response:
    """The Prometheus text exposition (see :mod:`tracker.metrics`)."""
    return Response(state.metrics.render(), media_type=CONTENT_TYPE)
