"""Logging in and out, and the admin's users, API tokens and audit log."""

from __future__ import annotations

import asyncio
from typing import Annotated, Literal

from fastapi import APIRouter, HTTPException, Path, Query, Request, Response
from pydantic import BaseModel, Field

from tracker.api.deps import StateDep
from tracker.api.errors import NotFoundError, UnavailableError
from tracker.api.security import SESSION_COOKIE, AdminDep, PorterDep, Role
from tracker.auth import (
    MIN_PASSWORD,
    USER_NAME_PATTERN,
    AuditEntry,
    AuthError,
    AuthService,
    LoginThrottledError,
    TokenInfo,
    User,
)
from tracker.store.base import ConflictError

__all__ = ["router"]

router = APIRouter(prefix="/api/v1", tags=["auth"])


def _service(state: StateDep) -> AuthService:
    if not isinstance(state.auth, AuthService):
        raise UnavailableError("authentication is not configured on this server")
    return state.auth


class LoginIn(BaseModel):
    """Credentials typed on the log-in form."""

    username: str = Field(min_length=1, max_length=64)
    password: str = Field(min_length=1, max_length=1024)


class MeOut(BaseModel):
    """Who is logged in."""

    name: str
    role: Role
    via: Literal["session", "token"]


class UserOut(BaseModel):
    """A user as listed (never the password hash)."""

    name: str
    role: Role
    display_name: str | None
    disabled: bool
    created_at: float

    @classmethod
    def of(cls, u: User) -> UserOut:
        """From the auth service's value."""
        return cls(name=u.name, role=u.role, display_name=u.display_name, disabled=u.disabled,
                   created_at=u.created_at)


class UserIn(BaseModel):
    """A new user."""

    name: str = Field(min_length=1, max_length=64, pattern=USER_NAME_PATTERN)
    password: str = Field(min_length=MIN_PASSWORD, max_length=1024)
    role: Role
    display_name: str | None = Field(default=None, max_length=200)


class UserPatch(BaseModel):
    """Changes to a user (fields left out stay as they are)."""

    role: Role | None = None
    password: str | None = Field(default=None, min_length=MIN_PASSWORD, max_length=1024)
    disabled: bool | None = None
    display_name: str | None = Field(default=None, max_length=200)


class TokenIn(BaseModel):
    """A new API token for an integration."""

    name: str = Field(min_length=1, max_length=100)
    role: Role
    expires_in_days: float | None = Field(default=None, gt=0, le=3650)


class TokenOut(BaseModel):
    """An API token as listed; ``token`` (the secret) only in the answer that created it."""

    id: str
    name: str
    role: Role
    created_by: str
    created_at: float
    expires_at: float | None
    revoked_at: float | None
    token: str | None = None

    @classmethod
    def of(cls, t: TokenInfo, secret: str | None = None) -> TokenOut:
        """From the auth service's value."""
        return cls(id=t.id, name=t.name, role=t.role, created_by=t.created_by,
                   created_at=t.created_at, expires_at=t.expires_at, revoked_at=t.revoked_at,
                   token=secret)


class AuditOut(BaseModel):
    """One audit log entry."""

    id: int
    ts: float
    actor: str
    role: str
    action: str
    subject: str
    details: dict[str, object]

    @classmethod
    def of(cls, e: AuditEntry) -> AuditOut:
        """From the auth service's value."""
        return cls(id=e.id, ts=e.ts, actor=e.actor, role=e.role, action=e.action,
                   subject=e.subject, details=dict(e.details))


@router.post("/auth/login", response_model=MeOut, summary="Log in (sets the session cookie)",
             responses={401: {"description": "wrong user name or password"},
                        429: {"description": "too many failed attempts"}})
async def login(body: LoginIn, state: StateDep, response: Response) -> MeOut:
    """Check the name and password; on success set an HttpOnly, SameSite=Strict session
    cookie lasting one shift (12 h)."""
    auth = _service(state)
    try:
        secret, principal = await asyncio.to_thread(auth.login, body.username, body.password)
    except LoginThrottledError as exc:
        raise HTTPException(429, str(exc),
                            headers={"Retry-After": str(int(exc.retry_after_s) + 1)}) from None
    except AuthError as exc:
        raise HTTPException(401, str(exc)) from None
    response.set_cookie(SESSION_COOKIE, secret, max_age=int(auth.session_ttl_s), httponly=True,
                        samesite="strict", secure=state.secure_cookies, path="/")
    return MeOut(name=principal.name, role=principal.role, via="session")


@router.post("/auth/logout", status_code=204, summary="Log out (ends the session)")
async def logout(request: Request, state: StateDep) -> Response:
    """End the session of the cookie sent (if any) and clear the cookie."""
    auth = _service(state)
    cookie = request.cookies.get(SESSION_COOKIE)
    if cookie:
        await asyncio.to_thread(auth.logout, cookie)
    out = Response(status_code=204)
    out.delete_cookie(SESSION_COOKIE, path="/", httponly=True, samesite="strict",
                      secure=state.secure_cookies)
    return out


@router.get("/auth/me", response_model=MeOut, summary="Who is logged in")
async def me(principal: PorterDep) -> MeOut:
    """The caller's name and role (401 when not logged in)."""
    return MeOut(name=principal.name, role=principal.role, via=principal.via)


UserName = Annotated[str, Path(min_length=1, max_length=64)]


@router.get("/users", response_model=list[UserOut], summary="Users (admin)")
async def list_users(principal: AdminDep, state: StateDep) -> list[UserOut]:
    """Every user."""
    users = await asyncio.to_thread(_service(state).list_users)
    return [UserOut.of(u) for u in users]


@router.post("/users", response_model=UserOut, status_code=201, summary="Add a user (admin)",
             responses={409: {"description": "the name is taken"}})
async def create_user(body: UserIn, principal: AdminDep, state: StateDep) -> UserOut:
    """Add a user with a role; audited."""
    auth = _service(state)
    try:
        user = await asyncio.to_thread(auth.create_user, body.name, body.password, body.role,
                                       display_name=body.display_name)
    except ConflictError:
        raise HTTPException(409, f"user {body.name!r} exists") from None
    except AuthError as exc:
        raise HTTPException(422, str(exc)) from None
    await asyncio.to_thread(auth.audit, principal, "user.create", f"user:{body.name}",
                            {"role": body.role.value})
    return UserOut.of(user)


@router.patch("/users/{name}", response_model=UserOut, summary="Change a user (admin)")
async def update_user(name: UserName, body: UserPatch, principal: AdminDep,
                      state: StateDep) -> UserOut:
    """Change role, password, display name or disabled; ends the user's sessions when access
    changes; audited (never the password)."""
    auth = _service(state)
    if await asyncio.to_thread(auth.get_user, name) is None:
        raise NotFoundError(f"no user {name!r}")
    try:
        user = await asyncio.to_thread(auth.update_user, name, role=body.role,
                                       password=body.password, disabled=body.disabled,
                                       display_name=body.display_name)
    except AuthError as exc:
        raise HTTPException(422, str(exc)) from None
    changed = body.model_dump(exclude_none=True, mode="json")
    if "password" in changed:
        changed["password"] = "changed"
    await asyncio.to_thread(auth.audit, principal, "user.update", f"user:{name}", changed)
    return UserOut.of(user)


@router.get("/tokens", response_model=list[TokenOut], summary="API tokens (admin)")
async def list_tokens(principal: AdminDep, state: StateDep) -> list[TokenOut]:
    """Every token, newest first, without secrets."""
    tokens = await asyncio.to_thread(_service(state).list_tokens)
    return [TokenOut.of(t) for t in tokens]


@router.post("/tokens", response_model=TokenOut, status_code=201,
             summary="Create an API token (admin)")
async def create_token(body: TokenIn, principal: AdminDep, state: StateDep) -> TokenOut:
    """A new token for an integration; the answer holds the secret, shown only once."""
    auth = _service(state)
    exp = None if body.expires_in_days is None else body.expires_in_days * 86_400.0
    secret, info = await asyncio.to_thread(auth.create_token, body.name, body.role,
                                           created_by=principal.name, expires_in_s=exp)
    await asyncio.to_thread(auth.audit, principal, "token.create", f"token:{info.id}",
                            {"name": body.name, "role": body.role.value})
    return TokenOut.of(info, secret)


@router.delete("/tokens/{token_id}", response_model=TokenOut, summary="Revoke a token (admin)")
async def revoke_token(token_id: Annotated[str, Path(min_length=1, max_length=40)],
                       principal: AdminDep, state: StateDep) -> TokenOut:
    """Revoke a token; it stays listed as revoked; audited."""
    auth = _service(state)
    try:
        info = await asyncio.to_thread(auth.revoke_token, token_id)
    except AuthError as exc:
        raise NotFoundError(str(exc)) from None
    await asyncio.to_thread(auth.audit, principal, "token.revoke", f"token:{token_id}", {})
    return TokenOut.of(info)


@router.get("/audit", response_model=list[AuditOut], summary="Audit log (admin)")
async def audit_log(
    principal: AdminDep,
    state: StateDep,
    subject: Annotated[str | None, Query(max_length=200)] = None,
    actor: Annotated[str | None, Query(max_length=64)] = None,
    limit: Annotated[int, Query(ge=1, le=1000)] = 100,
) -> list[AuditOut]:
    """Who changed what and when, newest first."""
    entries = await asyncio.to_thread(_service(state).audit_log, subject=subject, actor=actor,
                                      limit=limit)
    return [AuditOut.of(e) for e in entries]
