"""Domain errors of the API, mapped to HTTP responses in one place."""

from __future__ import annotations

import logging
from typing import Any

from fastapi import FastAPI, Request
from fastapi.responses import JSONResponse
from pydantic import BaseModel

from tracker.store.base import (
    ConflictError,
    StoreError,
    StoreUnavailableError,
    UnknownAssetError,
)

__all__ = [
    "ERROR_RESPONSES",
    "ApiError",
    "ErrorOut",
    "NotFoundError",
    "UnavailableError",
    "install_error_handlers",
    "status_of",
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


def status_of(exc: ApiError | StoreError) -> tuple[int, str]:
    """The HTTP status and the detail to show for a domain or store error.

    The one table every renderer uses (JSON here, ``OperationOutcome`` for FHIR): an
    :class:`ApiError` its own status, an unknown asset 404, a write conflict 409, an
    unreachable database 503 and any other store failure 500. Store failures are logged here
    and shown with a generic detail (their text may name database internals).

    Args:
        exc: The error.

    Returns:
        ``(status, detail)``.
    """
    if isinstance(exc, ApiError):
        return exc.status, exc.detail
    if isinstance(exc, UnknownAssetError):
        return 404, str(exc).strip("'\"")
    if isinstance(exc, ConflictError):
        log.warning("store conflict: %s", exc)
        return 409, "the change conflicts with stored data"
    if isinstance(exc, StoreUnavailableError):
        log.warning("database unavailable: %s", exc)
        return 503, "the database is unavailable; retry shortly"
    log.error("store error: %s", exc)
    return 500, "storage error"


def install_error_handlers(app: FastAPI) -> None:
    """Map domain and store errors to HTTP errors with :func:`status_of` (never a bare 500
    for expected failures)."""

    async def handle(_req: Request, exc: Exception) -> JSONResponse:
        assert isinstance(exc, ApiError | StoreError)
        status, detail = status_of(exc)
        return JSONResponse({"detail": detail}, status_code=status)

    app.add_exception_handler(ApiError, handle)
    app.add_exception_handler(StoreError, handle)
