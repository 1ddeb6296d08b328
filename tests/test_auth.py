"""Users, sessions, tokens and audit on both stores; the login flow; every endpoint's role."""

from __future__ import annotations

from collections.abc import Iterator, Sequence
from pathlib import Path
from typing import Any

import pytest
from fastapi.routing import APIRoute
from fastapi.testclient import TestClient
from starlette.routing import BaseRoute

from floorplans.sample import load_sample_site
from tests.authutil import bearer
from tracker.api.security import SESSION_COOKIE, Principal, Role
from tracker.api.state import AppState
from tracker.app import create_app
from tracker.auth import (
    AuthError,
    AuthService,
    LoginThrottledError,
    hash_password,
    verify_password,
)
from tracker.store import open_store
from tracker.store.base import ConflictError, Store

FAST = 10  # scrypt log2(N) for tests: same code path, cheaper hashes


class Clock:
    def __init__(self) -> None:
        self.now = 1_790_000_000.0

    def __call__(self) -> float:
        return self.now


def test_password_hash_roundtrip_and_rejects() -> None:
    h = hash_password("correct horse battery", log_n=FAST)
    assert h.startswith(f"scrypt${FAST}$8$1$") and "correct" not in h
    assert verify_password("correct horse battery", h)
    assert not verify_password("correct horse batterY", h)
    assert hash_password("correct horse battery", log_n=FAST) != h  # salted
    assert not verify_password("x", "md5$abc")
    assert not verify_password("x", "scrypt$notanumber$8$1$AA$AA")


@pytest.fixture
def clock() -> Clock:
    return Clock()


@pytest.fixture
def auth(store: Store, clock: Clock) -> AuthService:
    return AuthService(lambda: store, clock=clock, kdf_log_n=FAST)


def test_users(auth: AuthService) -> None:
    u = auth.create_user("kari.nordmann", "langt-passord-1", "porter", display_name="Kari")
    assert u.role is Role.PORTER and not u.disabled
    with pytest.raises(ConflictError):
        auth.create_user("kari.nordmann", "langt-passord-2", "admin")
    with pytest.raises(AuthError, match="at least 10"):
        auth.create_user("ola", "kort", "porter")
    with pytest.raises(AuthError, match="user name"):
        auth.create_user("ola nordmann", "langt-passord-1", "porter")
    with pytest.raises(AuthError, match="unknown role"):
        auth.create_user("ola", "langt-passord-1", "superuser")
    auth.update_user("kari.nordmann", role="biomed")
    assert [(x.name, x.role) for x in auth.list_users()] == [("kari.nordmann", Role.BIOMED)]
    with pytest.raises(AuthError, match="no user"):
        auth.update_user("nobody", disabled=True)


def test_login_sessions_and_expiry(auth: AuthService, clock: Clock) -> None:
    auth.create_user("per", "passord-som-er-langt", "biomed")
    with pytest.raises(AuthError, match="wrong user name or password"):
        auth.login("per", "feil-passord-123")
    with pytest.raises(AuthError, match="wrong user name or password"):
        auth.login("ukjent", "passord-som-er-langt")
    secret, p = auth.login("per", "passord-som-er-langt")
    assert p.name == "per" and p.role is Role.BIOMED and p.via == "session"
    assert auth.authenticate_session(secret) == p
    assert auth.authenticate_session(secret + "x") is None
    auth.logout(secret)
    assert auth.authenticate_session(secret) is None
    secret2, _ = auth.login("per", "passord-som-er-langt")
    clock.now += auth.session_ttl_s + 1
    auth.cache_ttl_s = 0.0
    assert auth.authenticate_session(secret2) is None  # expired after one shift


def test_disabling_or_changing_role_ends_sessions(auth: AuthService) -> None:
    auth.cache_ttl_s = 0.0
    auth.create_user("lise", "passord-som-er-langt", "admin")
    secret, _ = auth.login("lise", "passord-som-er-langt")
    auth.update_user("lise", role="porter")
    assert auth.authenticate_session(secret) is None
    secret, _ = auth.login("lise", "passord-som-er-langt")
    assert auth.authenticate_session(secret) is not None
    auth.update_user("lise", disabled=True)
    assert auth.authenticate_session(secret) is None
    with pytest.raises(AuthError):
        auth.login("lise", "passord-som-er-langt")


def test_login_throttling(auth: AuthService, clock: Clock) -> None:
    auth.create_user("nils", "passord-som-er-langt", "porter")
    for _ in range(auth.max_failures):
        with pytest.raises(AuthError):
            auth.login("nils", "galt-galt-galt")
    with pytest.raises(LoginThrottledError):
        auth.login("nils", "passord-som-er-langt")  # even the right password waits
    clock.now += auth.failure_window_s + 1
    auth.login("nils", "passord-som-er-langt")


def test_tokens(auth: AuthService, clock: Clock) -> None:
    auth.cache_ttl_s = 0.0
    token, info = auth.create_token("EPJ-integrasjon", "porter", created_by="admin")
    assert token.startswith(f"spt_{info.id}_")
    p = auth.authenticate_token(token)
    assert p == Principal("EPJ-integrasjon", Role.PORTER, "token", info.id)
    assert auth.authenticate_token(token[:-1] + ("A" if token[-1] != "A" else "B")) is None
    assert auth.authenticate_token("Basic abc") is None
    revoked = auth.revoke_token(info.id)
    assert revoked.revoked_at == clock.now
    assert auth.authenticate_token(token) is None
    assert [t.id for t in auth.list_tokens()] == [info.id]  # kept, marked revoked
    with pytest.raises(AuthError, match="no token"):
        auth.revoke_token("nope")
    token2, _ = auth.create_token("kort", "biomed", created_by="admin", expires_in_s=60)
    assert auth.authenticate_token(token2) is not None
    clock.now += 61
    assert auth.authenticate_token(token2) is None


def test_revocation_clears_cache_at_once(auth: AuthService) -> None:
    token, info = auth.create_token("cached", "admin", created_by="admin")
    assert auth.authenticate_token(token) is not None  # now cached
    auth.revoke_token(info.id)
    assert auth.authenticate_token(token) is None


def test_audit_log(auth: AuthService, clock: Clock) -> None:
    who = Principal("kari", Role.BIOMED, "session")
    auth.audit(who, "tag.pair", "asset:pump-1", {"tag": "c3aabbccddee"})
    clock.now += 1
    auth.audit(who, "tag.unpair", "asset:pump-1", {"tag": "c3aabbccddee"})
    auth.audit(Principal("ola", Role.ADMIN, "token"), "user.create", "user:x", {})
    log = auth.audit_log(subject="asset:pump-1")
    assert [(e.action, e.actor, e.role) for e in log] == [("tag.unpair", "kari", "biomed"),
                                                         ("tag.pair", "kari", "biomed")]
    assert log[1].details == {"tag": "c3aabbccddee"} and log[1].ts == clock.now - 1
    assert [e.subject for e in auth.audit_log(actor="ola")] == ["user:x"]


# ---------------------------------------------------------------------- HTTP


@pytest.fixture
def app_client(tmp_path: Path) -> Iterator[tuple[TestClient, AppState]]:
    url = f"sqlite:///{tmp_path / 'api.db'}"
    s = open_store(url)
    s.upgrade()
    s.close()
    state = AppState(site=load_sample_site(), database_url=url)
    app = create_app(state)
    with TestClient(app) as c:
        assert isinstance(state.auth, AuthService)
        state.auth._log_n = FAST
        yield c, state


def test_login_cookie_flow(app_client: tuple[TestClient, AppState]) -> None:
    c, state = app_client
    assert isinstance(state.auth, AuthService)
    state.auth.create_user("porter1", "passord-som-er-langt", "porter")
    assert c.get("/api/v1/auth/me").status_code == 401
    bad = c.post("/api/v1/auth/login", json={"username": "porter1", "password": "feil"})
    assert bad.status_code == 401 and SESSION_COOKIE not in bad.cookies
    r = c.post("/api/v1/auth/login",
               json={"username": "porter1", "password": "passord-som-er-langt"})
    assert r.status_code == 200 and r.json() == {"name": "porter1", "role": "porter",
                                                 "via": "session"}
    set_cookie = r.headers["set-cookie"].lower()
    assert "httponly" in set_cookie and "samesite=strict" in set_cookie
    assert c.get("/api/v1/auth/me").json()["name"] == "porter1"
    assert c.get("/api/v1/users").status_code == 403  # porter is not admin
    assert c.post("/api/v1/auth/logout").status_code == 204
    assert c.get("/api/v1/auth/me").status_code == 401
    missing = c.post("/api/v1/auth/login", json={"username": "porter1"})
    assert missing.status_code == 422 and "password" in str(missing.json()["detail"])


def test_admin_manages_users_and_tokens_audited(app_client: tuple[TestClient, AppState]) -> None:
    c, state = app_client
    admin = bearer(state, "admin")
    r = c.post("/api/v1/users", headers=admin,
               json={"name": "biomed1", "password": "passord-som-er-langt", "role": "biomed"})
    assert r.status_code == 201 and r.json()["role"] == "biomed"
    assert c.post("/api/v1/users", headers=admin, json={
        "name": "biomed1", "password": "passord-som-er-langt", "role": "biomed"}
    ).status_code == 409
    weak = c.post("/api/v1/users", headers=admin,
                  json={"name": "x", "password": "kort", "role": "porter"})
    assert weak.status_code == 422 and "password" in str(weak.json()["detail"])
    assert c.patch("/api/v1/users/nobody", headers=admin,
                   json={"disabled": True}).status_code == 404
    assert c.patch("/api/v1/users/biomed1", headers=admin,
                   json={"role": "porter"}).json()["role"] == "porter"
    t = c.post("/api/v1/tokens", headers=admin, json={"name": "EPJ", "role": "porter"}).json()
    token = t["token"]
    assert c.get("/api/v1/auth/me", headers={"Authorization": f"Bearer {token}"}
                 ).json() == {"name": "EPJ", "role": "porter", "via": "token"}
    assert all(x["token"] is None for x in c.get("/api/v1/tokens", headers=admin).json())
    assert c.delete(f"/api/v1/tokens/{t['id']}", headers=admin).json()["revoked_at"]
    assert c.delete("/api/v1/tokens/unknown", headers=admin).status_code == 404
    assert c.get("/api/v1/auth/me",
                 headers={"Authorization": f"Bearer {token}"}).status_code == 401
    actions = [e["action"] for e in c.get("/api/v1/audit", headers=admin).json()]
    assert actions == ["token.revoke", "token.create", "user.update", "user.create"]
    assert c.get("/api/v1/auth/me", headers={"Authorization": "Basic Zm9vOmJhcg=="}
                 ).status_code == 401


def _required_role(route: APIRoute) -> Role | None:
    stack: list[Any] = [route.dependant]
    while stack:
        d = stack.pop()
        role = getattr(d.call, "required_role", None)
        if role is not None:
            return Role(role)
        stack.extend(d.dependencies)
    return None


def api_routes(routes: Sequence[BaseRoute]) -> Iterator[APIRoute]:
    """Every APIRoute, looking into included routers (FastAPI >= 0.120 keeps them nested)."""
    for r in routes:
        if isinstance(r, APIRoute):
            yield r
        else:
            inner = getattr(r, "original_router", None)
            if inner is not None:
                yield from api_routes(inner.routes)


OPEN = {"/api/v1/auth/login", "/api/v1/auth/logout"}


def _concrete(path: str) -> str:
    out = path
    for name in ("asset_id", "level", "room_id", "name", "token_id", "tag", "id",
                 "alert_id", "resource_id"):
        out = out.replace("{" + name + "}", "x")
    return out.replace("{", "").replace("}", "")


def test_every_endpoint_requires_a_role(app_client: tuple[TestClient, AppState]) -> None:
    """Each data endpoint: 401 without credentials, 403 below its role, not 401/403 at it."""
    c, state = app_client
    routes = [r for r in api_routes(create_app(state).routes)
              if r.path.startswith(("/api/", "/fhir/"))]
    assert len(routes) >= 10
    headers = {role: bearer(state, role.value) for role in Role}
    checked = 0
    for route in routes:
        if route.path in OPEN:
            continue
        role = _required_role(route)
        assert role is not None, f"{route.path} has no role dependency"
        if route.path.endswith("/live"):
            continue  # a stream; its dependency is checked above
        for method in sorted(route.methods - {"HEAD", "OPTIONS"}):
            path = _concrete(route.path)
            r = c.request(method, path)
            assert r.status_code == 401, (method, path, r.status_code)
            assert r.headers.get("www-authenticate") == "Bearer"
            for other in Role:
                r = c.request(method, path, headers=headers[other])
                if other.includes(role):
                    assert r.status_code not in (401, 403), (method, path, other, r.text)
                else:
                    assert r.status_code == 403, (method, path, other, r.status_code)
            checked += 1
    assert checked >= 10
