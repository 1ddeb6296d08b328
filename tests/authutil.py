"""Credentials for API tests: a fresh API token of a role, from the app's real auth service."""

from __future__ import annotations

import itertools

from tracker.api.state import AppState
from tracker.auth import AuthService

_seq = itertools.count()


def bearer(state: AppState, role: str) -> dict[str, str]:
    """An ``Authorization`` header with a new token of ``role`` (call once the store is open,
    i.e. inside ``with TestClient(app)``)."""
    auth = state.auth
    assert isinstance(auth, AuthService), "create_app installs the auth service"
    token, _ = auth.create_token(f"test-{role}-{next(_seq)}", role, created_by="tests")
    return {"Authorization": f"Bearer {token}"}
