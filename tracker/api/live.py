"""Live locations as Server-Sent Events, for the web map.

``GET /api/v1/live?level=A3`` answers ``text/event-stream``:

* ``event: snapshot``, ``data: {"level": ..., "items": [LocationOut...]}``: every current
  location on the level (every level without ``level``);
* then about every second, only when something changed, ``event: update``,
  ``data: {"items": [...], "removed": [tag...]}``: tags that appeared, changed room, level or
  moving flag, or moved at least 0.5 m, and tags that left the level;
* ``: keepalive`` comments after 15 s without an event, so proxies keep the connection open.

Locations come from the shared snapshot (:mod:`tracker.api.snapshots`: the pipeline's memory,
else the store), so many open pages cost one read per second. The stream ends when the client
disconnects. :class:`LiveSettings` (a dependency, overridable in tests) sets the poll interval
and can bound the stream by events or duration.
"""

from __future__ import annotations

import asyncio
import logging
import time
from collections.abc import AsyncIterator, Awaitable, Callable, Mapping
from dataclasses import dataclass
from typing import Annotated, Any

import orjson
from fastapi import APIRouter, Depends, Query, Request
from fastapi.responses import StreamingResponse

from tracker.api.deps import StateDep
from tracker.api.errors import ApiError, NotFoundError
from tracker.api.schemas import LocationOut
from tracker.api.security import PorterDep
from tracker.api.snapshots import locations
from tracker.lookup import diff_locations
from tracker.records import FixRecord
from tracker.store.base import StoreError

__all__ = ["LiveSettings", "event_stream", "live_settings", "router", "sse"]

router = APIRouter(prefix="/api/v1", tags=["live"])
log = logging.getLogger("sporing.api")


@dataclass(frozen=True, slots=True)
class LiveSettings:
    """How the live stream polls and when it ends.

    Attributes:
        poll_s: Seconds between looks for changes.
        keepalive_s: Seconds without an event before a ``: keepalive`` comment.
        max_events: End after this many events (snapshot included); None: no bound.
        max_duration_s: End after this many seconds; None: no bound.
    """

    poll_s: float = 1.0
    keepalive_s: float = 15.0
    max_events: int | None = None
    max_duration_s: float | None = None


def live_settings() -> LiveSettings:
    """The live stream's settings (a dependency; tests override it)."""
    return LiveSettings()


def sse(event: str, data: Any) -> bytes:
    """One Server-Sent Event with a JSON ``data`` line."""
    return b"event: " + event.encode() + b"\ndata: " + orjson.dumps(data) + b"\n\n"


Snapshot = Callable[[], Awaitable[Mapping[str, FixRecord]]]
Render = Callable[[FixRecord, float], dict[str, Any]]


async def event_stream(
    snapshot: Snapshot,
    render: Render,
    settings: LiveSettings,
    *,
    level: str | None = None,
    initial: Mapping[str, FixRecord] | None = None,
    disconnected: Callable[[], Awaitable[bool]] | None = None,
) -> AsyncIterator[bytes]:
    """The SSE byte stream: a snapshot, then updates with only what changed.

    A poll whose read fails (database briefly unavailable) is skipped; the stream goes on.

    Args:
        snapshot: Reads the current fixes (tag -> fix).
        render: One fix as the JSON object sent, given the time now.
        settings: Poll interval and bounds.
        level: The level named in the snapshot event.
        initial: The first snapshot when the caller already read it (errors then surface
            before the response starts).
        disconnected: Whether the client has gone (checked before every poll).
    """
    started = last_sent = time.monotonic()
    before = await snapshot() if initial is None else initial
    now = time.time()
    yield sse("snapshot", {"level": level,
                           "items": [render(before[t], now) for t in sorted(before)]})
    events = 1
    while settings.max_events is None or events < settings.max_events:
        await asyncio.sleep(settings.poll_s)
        if disconnected is not None and await disconnected():
            return
        try:
            after = await snapshot()
        except (ApiError, StoreError) as exc:
            log.warning("live stream: skipping a poll: %s", exc)
            after = before
        changed, removed = diff_locations(before, after)
        before = after
        mono = time.monotonic()
        if changed or removed:
            now = time.time()
            yield sse("update", {"items": [render(f, now) for f in changed],
                                 "removed": removed})
            events += 1
            last_sent = mono
        elif mono - last_sent >= settings.keepalive_s:
            yield b": keepalive\n\n"
            last_sent = mono
        if settings.max_duration_s is not None and mono - started >= settings.max_duration_s:
            return


@router.get("/live", summary="Live locations (Server-Sent Events)",
            response_class=StreamingResponse,
            responses={200: {"content": {"text/event-stream": {}}}, 404: {}})
async def live(
    principal: PorterDep,
    state: StateDep,
    request: Request,
    settings: Annotated[LiveSettings, Depends(live_settings)],
    level: Annotated[str | None, Query(min_length=1, max_length=100,
                                       description="level id (omitted: every level)")] = None,
) -> StreamingResponse:
    """A ``text/event-stream`` of the current locations on a level and their changes (see
    the module docstring for the events). 404 for an unknown level."""
    site = state.site
    if level is not None and not site.has_level(level):
        raise NotFoundError(f"unknown level {level!r}")
    stale_after = state.states.stale_after_s

    async def snapshot() -> Mapping[str, FixRecord]:
        loc = await locations(state)
        if level is None:
            return loc.by_tag
        return {f.tag: f for f in loc.by_level.get(level, ())}

    def render(f: FixRecord, now: float) -> dict[str, Any]:
        return LocationOut.of(f, now, site=site, stale_after_s=stale_after).model_dump()

    stream = event_stream(snapshot, render, settings, level=level, initial=await snapshot(),
                          disconnected=request.is_disconnected)
    return StreamingResponse(stream, media_type="text/event-stream",
                             headers={"Cache-Control": "no-cache", "X-Accel-Buffering": "no"})
