"""The FastAPI application factory.

``create_app(state)`` serves the components in :class:`tracker.api.state.AppState`:
``/healthz``, ``/readyz``, ``/metrics`` always; the read API under ``/api/v1`` and the live
page at ``/`` unless ``state.ops_only``. The lifespan opens the store from
``state.database_url`` when the caller did not open one (role ``api``), checks that it answers
before serving, and closes it at shutdown.
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from importlib import resources

from fastapi import FastAPI
from fastapi.responses import HTMLResponse
from fastapi.staticfiles import StaticFiles

from tracker.api import (
    alerts,
    assets,
    auth,
    fhir,
    floorplans,
    gateways,
    live,
    locations,
    nearest,
    ops,
    reports,
    rooms,
    tags,
)
from tracker.api.errors import ERROR_RESPONSES, install_error_handlers
from tracker.api.state import AppState

__all__ = ["create_app"]

log = logging.getLogger("sporing.api")


async def _open_store(state: AppState) -> None:
    from tracker.store import open_store

    assert state.database_url
    store = await asyncio.to_thread(open_store, state.database_url)
    state.store = store
    state.owns_store = True
    try:
        await asyncio.to_thread(store.gateway_status)
    except Exception as exc:  # serve anyway: /readyz reports it and requests get 503
        log.warning("database not reachable at startup: %s", exc)


def _index_html(name: str = "index.html") -> str:
    return resources.files("tracker.static").joinpath(name).read_text("utf-8")


def create_app(state: AppState, *, root_path: str = "") -> FastAPI:
    """Build the app for ``state`` (see the module docstring)."""

    @asynccontextmanager
    async def lifespan(app: FastAPI) -> AsyncIterator[None]:
        if state.store is None and state.database_url:
            await _open_store(state)
        try:
            yield
        finally:
            if state.owns_store and state.store is not None:
                store, state.store = state.store, None
                await asyncio.to_thread(store.close)

    app = FastAPI(title="Sporing", version="0.1.0", lifespan=lifespan, root_path=root_path,
                  summary="Real-time location of hospital equipment",
                  responses=ERROR_RESPONSES)
    app.state.sporing = state
    if state.auth is None and not state.ops_only:
        from tracker.auth import AuthService

        state.auth = AuthService(lambda: state.store)
    install_error_handlers(app)
    app.include_router(ops.router)
    if state.ops_only:
        return app
    app.include_router(auth.router)
    app.include_router(locations.router)
    app.include_router(floorplans.router)
    app.include_router(gateways.router)
    app.include_router(alerts.router)
    app.include_router(assets.router)
    app.include_router(rooms.router)
    app.include_router(nearest.router)
    app.include_router(tags.router)
    app.include_router(live.router)
    app.include_router(fhir.router)
    app.include_router(reports.router)

    @app.get("/", response_class=HTMLResponse, include_in_schema=False)
    async def index() -> HTMLResponse:
        return HTMLResponse(_index_html())

    @app.get("/biomed", response_class=HTMLResponse, include_in_schema=False)
    async def biomed() -> HTMLResponse:
        # The biomedical engineering pages; the data behind them needs role biomed.
        return HTMLResponse(_index_html("biomed.html"))

    # The page's script, style sheet and translations (tracker/static, shipped in the wheel).
    app.mount("/static", StaticFiles(packages=[("tracker", "static")]), name="static")

    return app
