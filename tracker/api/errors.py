"""Domain errors of the API, mapped to HTTP responses in one place."""

from __future__ import annotations

import logging

from fastapi import FastAPI, Request
from fastapi.responses import JSONResponse

from tracker.store.base import StoreError, StoreUnavailableError, UnknownAssetError

__all__ = ["ApiError", "NotFoundError", "UnavailableError", "install_error_handlers"]

log = logging.getLogger("sporing.api")


class ApiError(Exception):
    """Root of the API's domain errors; ``status`` is the HTTP status it maps to."""

    status = 400

    def __init__(self, detail: str) -> None:
        super().__init__(detail)
        self.detail = detail


class NotFoundError(ApiError):
    """The named thing (asset, level, tag location) does not exist."""

    status = 404


class UnavailableError(ApiError):
    """A dependency (database, pipeline) is not available right now."""

    status = 503


def _json(status: int, detail: str) -> JSONResponse:
    return JSONResponse({"detail": detail}, status_code=status)


def install_error_handlers(app: FastAPI) -> None:
    """Map domain and store errors to HTTP errors (never a bare 500 for expected failures)."""

    async def api_error(_req: Request, exc: Exception) -> JSONResponse:
        assert isinstance(exc, ApiError)
        return _json(exc.status, exc.detail)

    async def unknown_asset(_req: Request, exc: Exception) -> JSONResponse:
        return _json(404, str(exc).strip("'\""))

    async def store_unavailable(_req: Request, exc: Exception) -> JSONResponse:
        log.warning("database unavailable: %s", exc)
        return _json(503, "the database is unavailable; retry shortly")

    async def store_error(_req: Request, exc: Exception) -> JSONResponse:
        log.error("store error: %s", exc)
        return _json(500, "storage error")

    app.add_exception_handler(ApiError, api_error)
    app.add_exception_handler(UnknownAssetError, unknown_asset)
    app.add_exception_handler(StoreUnavailableError, store_unavailable)
    app.add_exception_handler(StoreError, store_error)
