"""Dependencies, defined once as ``Annotated`` aliases."""

from __future__ import annotations

from typing import Annotated

from fastapi import Depends, Request

from tracker.api.errors import UnavailableError
from tracker.api.state import AppState
from tracker.store.base import Store

__all__ = ["StateDep", "StoreDep", "get_state", "get_store"]


def get_state(request: Request) -> AppState:
    """The :class:`AppState` of the running app."""
    state: AppState = request.app.state.sporing
    return state


def get_store(state: Annotated[AppState, Depends(get_state)]) -> Store:
    """The store, or 503 while it is not open."""
    if state.store is None:
        raise UnavailableError("the database is not open yet")
    return state.store


StateDep = Annotated[AppState, Depends(get_state)]
StoreDep = Annotated[Store, Depends(get_store)]
