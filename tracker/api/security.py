"""Who may call what: roles, the authenticated principal, and the endpoint dependencies.

Every endpoint under ``/api/v1`` (and every page that shows data) declares the least role it
needs with one of the ``Annotated`` aliases :data:`PorterDep`, :data:`BiomedDep` or
:data:`AdminDep`. Roles are ordered: an admin may do what a biomed may, a biomed what a porter
may. A caller proves who they are with either

* ``Authorization: Bearer <token>``: an API token (integrations), or
* the ``sporing_session`` cookie set by ``POST /api/v1/auth/login`` (people on the web page).

No or bad credentials give 401 (with ``WWW-Authenticate: Bearer``); a role too low gives 403.
The checking itself is the :class:`Authenticator` in :attr:`AppState.auth
<tracker.api.state.AppState.auth>` (see :mod:`tracker.auth`).
"""

from __future__ import annotations

import asyncio
from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from enum import StrEnum
from typing import Annotated, Literal, Protocol

from fastapi import Depends, HTTPException, Request

from tracker.api.deps import StateDep

__all__ = [
    "SESSION_COOKIE",
    "AdminDep",
    "Authenticator",
    "BiomedDep",
    "PorterDep",
    "Principal",
    "Role",
    "require",
]

SESSION_COOKIE = "sporing_session"
"""Name of the session cookie (HttpOnly, SameSite=Strict, Secure behind HTTPS)."""


class Role(StrEnum):
    """What a user or token may do; each role includes the ones before it."""

    PORTER = "porter"
    BIOMED = "biomed"
    ADMIN = "admin"

    @property
    def rank(self) -> int:
        """0 for porter, 1 for biomed, 2 for admin."""
        return _RANK[self]

    def includes(self, other: Role) -> bool:
        """Whether this role may do what ``other`` may."""
        return self.rank >= other.rank


_RANK = {Role.PORTER: 0, Role.BIOMED: 1, Role.ADMIN: 2}


@dataclass(frozen=True, slots=True)
class Principal:
    """Who is calling.

    Attributes:
        name: User name, or the token's name for an API token.
        role: The role granted.
        via: How they proved it.
        session_id: Id (not the secret) of the session or token used, for logout/revocation.
    """

    name: str
    role: Role
    via: Literal["session", "token"]
    session_id: str | None = None


class Authenticator(Protocol):
    """Checks credentials (implemented by :class:`tracker.auth.AuthService`)."""

    def authenticate_token(self, token: str) -> Principal | None:
        """The principal of a valid, unrevoked API token, else None."""
        ...

    def authenticate_session(self, secret: str) -> Principal | None:
        """The principal of a valid, unexpired session cookie value, else None."""
        ...


def _unauthorized(detail: str) -> HTTPException:
    return HTTPException(401, detail, headers={"WWW-Authenticate": "Bearer"})


def require(role: Role) -> Callable[[Request, StateDep], Awaitable[Principal]]:
    """A dependency that returns the caller's :class:`Principal` if it has at least ``role``."""

    async def dependency(request: Request, state: StateDep) -> Principal:
        auth = state.auth
        if auth is None:
            raise HTTPException(503, "authentication is not configured on this server")
        header = request.headers.get("authorization")
        principal: Principal | None
        if header is not None:
            scheme, _, value = header.partition(" ")
            if scheme.lower() != "bearer" or not value.strip():
                raise _unauthorized("the Authorization header must be 'Bearer <token>'")
            principal = await asyncio.to_thread(auth.authenticate_token, value.strip())
            if principal is None:
                raise _unauthorized("the API token is unknown, expired or revoked")
        else:
            cookie = request.cookies.get(SESSION_COOKIE)
            if not cookie:
                raise _unauthorized("log in, or send an API token")
            principal = await asyncio.to_thread(auth.authenticate_session, cookie)
            if principal is None:
                raise _unauthorized("the session has expired; log in again")
        if not principal.role.includes(role):
            raise HTTPException(403, f"role {role.value!r} required; "
                                     f"{principal.name!r} has {principal.role.value!r}")
        request.state.principal = principal
        return principal

    dependency.required_role = role  # type: ignore[attr-defined]  # read by route audits
    return dependency


PorterDep = Annotated[Principal, Depends(require(Role.PORTER))]
BiomedDep = Annotated[Principal, Depends(require(Role.BIOMED))]
AdminDep = Annotated[Principal, Depends(require(Role.ADMIN))]
