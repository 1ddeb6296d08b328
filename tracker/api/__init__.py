"""The HTTP API: one router per resource, shared dependencies, error mapping, schemas."""

from __future__ import annotations

from tracker.api.errors import ApiError, NotFoundError, UnavailableError
from tracker.api.state import AppState

__all__ = ["ApiError", "AppState", "NotFoundError", "UnavailableError"]
