"""Domain errors of the API, mapped to HTTP responses in one place."""

from __future__ import annotations

import logging
from typing import Any

from fastapi import FastAPI, Request
from fastapi.responses import JSONResponse
from pydantic import BaseModel

from tracker.store.base import StoreError, StoreUnavailableError, UnknownAssetError

__all__ = [
    "ERROR_RESPONSES",
    "ApiError",
    "ErrorOut",
    "NotFoundError",
    "UnavailableError",
    "install_error_handlers",
]

log = logging.getLogger("sporing.api")


class ErrorOut(BaseModel):
    """The body of every error response except 422 (which lists the fields at fault)."""

    detail: str


#: The error statuses any endpoint may answer, documented on every operation (OpenAPI).
ERROR_RESPONSES: dict[int | str, dict[str, Any]] = {
    400: {"model": ErrorOut, "description": "Malformed request (e.g. a body that is not JSON)"},
    401: {"model": ErrorOut, "description": "Not logged in, or the API token is not valid"},
    403: {"model": ErrorOut, "description": "The caller's role may not do this"},
    404: {"model": ErrorOut, "description": "The named asset, room, level, ... does not exist"},
    503: {"model": ErrorOut, "description": "The database is not available; retry shortly"},
}


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
