"""Users, sessions, API tokens and the audit log.

People log in to the web page with a name and password and get a session cookie; integrations
send an API token. Nothing secret is stored:

* Passwords are hashed with scrypt (RFC 7914; ``N = 2**15, r = 8, p = 1``, 16-byte random salt,
  32-byte key; 32 MiB of memory and about 0.14 s per check on the 2-core development VM),
  encoded as ``scrypt$<log2 N>$<r>$<p>$<salt>$<key>`` so the cost can be raised later: a
  login with a weaker stored hash rehashes it (``benchmarks/bench_auth.py`` times a check).
* Session cookies and API tokens are 256-bit random secrets; only their SHA-256 is stored (a
  slow KDF adds nothing for secrets this long and would cost every API call). A token reads
  ``spt_<id>_<secret>``: the id finds the row, the secret is compared in constant time.

Sessions last :attr:`AuthService.session_ttl_s` (12 h, one shift). Failed logins are throttled
per user name (:attr:`AuthService.max_failures` within :attr:`AuthService.failure_window_s`).
Token checks are cached for :attr:`AuthService.cache_ttl_s` seconds; revoking a token clears the
cache of this process at once, other processes follow within that time.

Every change to users, tokens and assets goes to the audit log (who, what, when).
"""

from __future__ import annotations

import asyncio
import base64
import hashlib
import hmac
import logging
import re
import secrets
import threading
import time
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

import orjson

from tracker.api.security import Principal, Role
from tracker.records import us_to_ts
from tracker.store.base import Store, StoreUnavailableError

if TYPE_CHECKING:
    from tracker.api.state import AppState

__all__ = [
    "MIN_PASSWORD",
    "USER_NAME_PATTERN",
    "AuditEntry",
    "AuthError",
    "AuthService",
    "LoginThrottledError",
    "TokenInfo",
    "User",
    "audit",
    "hash_password",
    "verify_password",
]

log = logging.getLogger("sporing.auth")

USER_NAME_PATTERN = r"^[A-Za-z0-9][A-Za-z0-9._@-]{0,63}$"
"""What a user name may be: 1-64 letters, digits, ``.``, ``_``, ``@``, ``-``, not starting
with punctuation."""
MIN_PASSWORD = 10
"""Fewest characters a password may have."""
_NAME = re.compile(USER_NAME_PATTERN)
_SCRYPT_LOG_N = 15
_SCRYPT_R = 8
_SCRYPT_P = 1


class AuthError(ValueError):
    """A user or token operation was refused (bad name, weak password, unknown user...)."""


class LoginThrottledError(AuthError):
    """Too many failed logins for this user name; retry after ``retry_after_s``."""

    def __init__(self, retry_after_s: float) -> None:
        super().__init__(f"too many failed logins; retry in {retry_after_s:.0f} s")
        self.retry_after_s = retry_after_s


def _b64(b: bytes) -> str:
    return base64.urlsafe_b64encode(b).decode().rstrip("=")


def _unb64(s: str) -> bytes:
    return base64.urlsafe_b64decode(s + "=" * (-len(s) % 4))


def _scrypt(password: str, salt: bytes, log_n: int, r: int, p: int) -> bytes:
    n = 1 << log_n
    return hashlib.scrypt(password.encode(), salt=salt, n=n, r=r, p=p, dklen=32,
                          maxmem=256 * n * r + (1 << 20))


def hash_password(password: str, *, log_n: int = _SCRYPT_LOG_N) -> str:
    """An scrypt hash of ``password`` in the module's text encoding."""
    salt = secrets.token_bytes(16)
    key = _scrypt(password, salt, log_n, _SCRYPT_R, _SCRYPT_P)
    return f"scrypt${log_n}${_SCRYPT_R}${_SCRYPT_P}${_b64(salt)}${_b64(key)}"


def verify_password(password: str, encoded: str) -> bool:
    """Whether ``password`` matches ``encoded`` (constant-time; False for a malformed hash)."""
    try:
        algo, log_n, r, p, salt, key = encoded.split("$")
        if algo != "scrypt":
            return False
        got = _scrypt(password, _unb64(salt), int(log_n), int(r), int(p))
    except (ValueError, MemoryError):
        return False
    return hmac.compare_digest(got, _unb64(key))


def _needs_rehash(encoded: str, log_n: int) -> bool:
    parts = encoded.split("$")
    return len(parts) != 6 or parts[0] != "scrypt" or int(parts[1]) < log_n


def _sha256(secret: str) -> str:
    return hashlib.sha256(secret.encode()).hexdigest()


@dataclass(frozen=True, slots=True)
class User:
    """A person who logs in to the web page."""

    name: str
    role: Role
    display_name: str | None
    disabled: bool
    created_at: float


@dataclass(frozen=True, slots=True)
class TokenInfo:
    """An API token as listed (never its secret)."""

    id: str
    name: str
    role: Role
    created_by: str
    created_at: float
    expires_at: float | None
    revoked_at: float | None


@dataclass(frozen=True, slots=True)
class AuditEntry:
    """One audited change: who did what to which subject, when."""

    id: int
    ts: float
    actor: str
    role: str
    action: str
    subject: str
    details: Mapping[str, Any]


def _opt_ts(v: Any) -> float | None:
    return None if v is None else us_to_ts(int(v))


class AuthService:
    """Users, sessions, tokens and audit log, kept in the store's tables (migration 0002).

    Args:
        store: Returns the open store (None while it is not open: calls then raise
            :class:`~tracker.store.base.StoreUnavailableError`).
        clock: Current time in epoch seconds (injectable for tests).
        kdf_log_n: log2 of scrypt's N for new password hashes.
    """

    session_ttl_s = 12 * 3600.0
    cache_ttl_s = 5.0
    max_failures = 10
    failure_window_s = 900.0

    def __init__(
        self,
        store: Callable[[], Store | None],
        *,
        clock: Callable[[], float] = time.time,
        kdf_log_n: int = _SCRYPT_LOG_N,
    ) -> None:
        self._store = store
        self._clock = clock
        self._log_n = kdf_log_n
        self._lock = threading.Lock()
        self._cache: dict[str, tuple[float, Principal | None]] = {}
        self._failures: dict[str, list[float]] = {}
        self._dummy_hash = hash_password(secrets.token_urlsafe(12), log_n=kdf_log_n)

    # ------------------------------------------------------------------ plumbing
    def _s(self) -> Store:
        store = self._store()
        if store is None:
            raise StoreUnavailableError("the database is not open yet")
        return store

    def _t(self, ts: float) -> Any:
        return self._s().dialect.to_db(ts)

    def _us(self, col: str) -> str:
        return self._s().dialect.us.format(col)

    # ------------------------------------------------------------------ users
    def create_user(self, name: str, password: str, role: Role | str, *,
                    display_name: str | None = None) -> User:
        """Add a user.

        Raises:
            AuthError: the name is not 1–64 letters, digits or ``._@-``, the password is
                shorter than 10 characters, or the role is unknown.
            ConflictError: a user of that name exists.
        """
        if not _NAME.match(name):
            raise AuthError(f"user name {name!r}: use 1-64 letters, digits, '.', '_', '@', '-'")
        self._check_password(password)
        r = _role(role)
        now = self._clock()
        p = self._s().dialect.param
        with self._s().transaction() as run:
            run(f"INSERT INTO users (name, display_name, role, password_hash, disabled,"
                f" created_at) VALUES ({p}, {p}, {p}, {p}, {p}, {p})",
                (name, display_name, r.value, hash_password(password, log_n=self._log_n),
                 False, self._t(now)))
        return User(name, r, display_name, False, now)

    @staticmethod
    def _check_password(password: str) -> None:
        if len(password) < MIN_PASSWORD:
            raise AuthError(f"the password must have at least {MIN_PASSWORD} characters")
        if len(password) > 1024:
            raise AuthError("the password must have at most 1024 characters")

    def update_user(self, name: str, *, role: Role | str | None = None,
                    password: str | None = None, disabled: bool | None = None,
                    display_name: str | None = None) -> User:
        """Change a user's role, password, display name or disabled flag.

        Disabling a user or changing their password or role ends their sessions.

        Raises:
            AuthError: unknown user, unknown role, or a too short password.
        """
        sets: list[str] = []
        params: list[Any] = []
        p = self._s().dialect.param
        if role is not None:
            sets.append(f"role = {p}")
            params.append(_role(role).value)
        if password is not None:
            self._check_password(password)
            sets.append(f"password_hash = {p}")
            params.append(hash_password(password, log_n=self._log_n))
        if disabled is not None:
            sets.append(f"disabled = {p}")
            params.append(disabled)
        if display_name is not None:
            sets.append(f"display_name = {p}")
            params.append(display_name)
        with self._s().transaction() as run:
            if sets:
                run(f"UPDATE users SET {', '.join(sets)} WHERE name = {p}", (*params, name))
            if role is not None or password is not None or disabled:
                run(f"DELETE FROM sessions WHERE user_name = {p}", (name,))
        user = self.get_user(name)
        if user is None:
            raise AuthError(f"no user {name!r}")
        with self._lock:
            self._cache.clear()
        return user

    def get_user(self, name: str) -> User | None:
        """One user, or None."""
        p = self._s().dialect.param
        rows = self._s().query(
            f"SELECT name, role, display_name, disabled, {self._us('created_at')}"
            f" FROM users WHERE name = {p}", (name,))
        return _user(rows[0]) if rows else None

    def list_users(self) -> list[User]:
        """Every user, by name."""
        rows = self._s().query(
            f"SELECT name, role, display_name, disabled, {self._us('created_at')}"
            " FROM users ORDER BY name")
        return [_user(r) for r in rows]

    # ------------------------------------------------------------------ sessions
    def login(self, name: str, password: str) -> tuple[str, Principal]:
        """Check a name and password; returns ``(cookie secret, principal)``.

        Raises:
            LoginThrottledError: too many recent failures for this name.
            AuthError: wrong name or password, or the user is disabled (one message for all,
                so the answer does not tell which names exist).
        """
        now = self._clock()
        key = name.casefold()
        with self._lock:
            recent = [t for t in self._failures.get(key, []) if now - t < self.failure_window_s]
            self._failures[key] = recent
            if len(recent) >= self.max_failures:
                raise LoginThrottledError(self.failure_window_s - (now - recent[0]))
        p = self._s().dialect.param
        rows = self._s().query(
            f"SELECT name, role, password_hash, disabled FROM users WHERE name = {p}", (name,))
        stored = rows[0][2] if rows else self._dummy_hash
        ok = verify_password(password, stored) and bool(rows) and not rows[0][3]
        if not ok:
            with self._lock:
                self._failures.setdefault(key, []).append(now)
            log.warning("failed login for %r", name[:64])
            raise AuthError("wrong user name or password")
        with self._lock:
            self._failures.pop(key, None)
        secret = secrets.token_urlsafe(32)
        sid = secrets.token_urlsafe(9)
        role = Role(rows[0][1])
        with self._s().transaction() as run:
            if _needs_rehash(stored, self._log_n):
                run(f"UPDATE users SET password_hash = {p} WHERE name = {p}",
                    (hash_password(password, log_n=self._log_n), name))
            run(f"DELETE FROM sessions WHERE expires_at < {p}", (self._t(now),))
            run(f"INSERT INTO sessions (id, secret_hash, user_name, created_at, expires_at)"
                f" VALUES ({p}, {p}, {p}, {p}, {p})",
                (sid, _sha256(secret), name, self._t(now),
                 self._t(now + self.session_ttl_s)))
        return secret, Principal(name, role, "session", sid)

    def logout(self, secret: str) -> None:
        """End the session whose cookie holds ``secret`` (no error if there is none)."""
        p = self._s().dialect.param
        with self._s().transaction() as run:
            run(f"DELETE FROM sessions WHERE secret_hash = {p}", (_sha256(secret),))
        with self._lock:
            self._cache.pop("s:" + _sha256(secret), None)

    def authenticate_session(self, secret: str) -> Principal | None:
        """The principal of a valid session cookie, else None."""
        if not secret or len(secret) > 256:
            return None
        h = _sha256(secret)
        return self._cached("s:" + h, lambda: self._lookup_session(h))

    def _lookup_session(self, h: str) -> Principal | None:
        p = self._s().dialect.param
        rows = self._s().query(
            f"SELECT s.id, u.name, u.role FROM sessions s JOIN users u ON u.name = s.user_name"
            f" WHERE s.secret_hash = {p} AND s.expires_at > {p} AND u.disabled = {p}",
            (h, self._t(self._clock()), False))
        return Principal(rows[0][1], Role(rows[0][2]), "session", rows[0][0]) if rows else None

    # ------------------------------------------------------------------ tokens
    def create_token(self, name: str, role: Role | str, *, created_by: str,
                     expires_in_s: float | None = None) -> tuple[str, TokenInfo]:
        """A new API token; returns ``(secret token text, info)``. The text is shown once."""
        if not name.strip() or len(name) > 100:
            raise AuthError("the token name must have 1-100 characters")
        r = _role(role)
        if expires_in_s is not None and expires_in_s <= 0:
            raise AuthError("expires_in_s must be positive")
        tid = secrets.token_hex(6)
        secret = secrets.token_urlsafe(32)
        now = self._clock()
        exp = None if expires_in_s is None else now + expires_in_s
        p = self._s().dialect.param
        with self._s().transaction() as run:
            run(f"INSERT INTO api_tokens (id, name, role, secret_hash, created_by, created_at,"
                f" expires_at) VALUES ({p}, {p}, {p}, {p}, {p}, {p}, {p})",
                (tid, name, r.value, _sha256(secret), created_by, self._t(now),
                 None if exp is None else self._t(exp)))
        return f"spt_{tid}_{secret}", TokenInfo(tid, name, r, created_by, now, exp, None)

    def revoke_token(self, token_id: str) -> TokenInfo:
        """Revoke a token (kept in the list, marked revoked).

        Raises:
            AuthError: no token with this id.
        """
        p = self._s().dialect.param
        now = self._clock()
        with self._s().transaction() as run:
            run(f"UPDATE api_tokens SET revoked_at = {p} WHERE id = {p} AND revoked_at IS NULL",
                (self._t(now), token_id))
        with self._lock:
            self._cache.clear()
        for t in self.list_tokens():
            if t.id == token_id:
                return t
        raise AuthError(f"no token {token_id!r}")

    def list_tokens(self) -> list[TokenInfo]:
        """Every token (revoked ones too), newest first."""
        rows = self._s().query(
            f"SELECT id, name, role, created_by, {self._us('created_at')},"
            f" {self._us('expires_at')}, {self._us('revoked_at')} FROM api_tokens"
            " ORDER BY created_at DESC, id")
        return [TokenInfo(r[0], r[1], Role(r[2]), r[3], us_to_ts(int(r[4])), _opt_ts(r[5]),
                          _opt_ts(r[6])) for r in rows]

    def authenticate_token(self, token: str) -> Principal | None:
        """The principal of a valid, unexpired, unrevoked API token, else None."""
        parts = token.split("_", 2)
        if len(parts) != 3 or parts[0] != "spt" or len(token) > 256:
            return None
        tid, secret = parts[1], parts[2]
        return self._cached("t:" + _sha256(token), lambda: self._lookup_token(tid, secret))

    def _lookup_token(self, tid: str, secret: str) -> Principal | None:
        p = self._s().dialect.param
        rows = self._s().query(
            f"SELECT name, role, secret_hash, {self._us('expires_at')} FROM api_tokens"
            f" WHERE id = {p} AND revoked_at IS NULL", (tid,))
        if not rows or not hmac.compare_digest(rows[0][2], _sha256(secret)):
            return None
        exp = _opt_ts(rows[0][3])
        if exp is not None and exp <= self._clock():
            return None
        return Principal(rows[0][0], Role(rows[0][1]), "token", tid)

    def _cached(self, key: str, load: Callable[[], Principal | None]) -> Principal | None:
        now = time.monotonic()
        with self._lock:
            hit = self._cache.get(key)
        if hit is not None and now - hit[0] < self.cache_ttl_s:
            return hit[1]
        principal = load()
        with self._lock:
            if len(self._cache) > 10_000:
                self._cache.clear()
            self._cache[key] = (now, principal)
        return principal

    # ------------------------------------------------------------------ audit
    def audit(self, principal: Principal, action: str, subject: str,
              details: Mapping[str, Any] | None = None) -> None:
        """Append one entry to the audit log."""
        d = self._s().dialect
        p = d.param
        json_type = "TEXT" if d.true == "1" else "jsonb"
        with self._s().transaction() as run:
            run(f"INSERT INTO audit_log (time, actor, role, action, subject, details)"
                f" VALUES ({p}, {p}, {p}, {p}, {p}, CAST({p} AS {json_type}))",
                (self._t(self._clock()), principal.name, principal.role.value, action, subject,
                 orjson.dumps(dict(details or {}), default=str).decode()))

    def audit_log(self, *, subject: str | None = None, actor: str | None = None,
                  limit: int = 100) -> list[AuditEntry]:
        """Audit entries, newest first, optionally for one subject or actor."""
        d = self._s().dialect
        where, params = [], []
        if subject is not None:
            where.append(f"subject = {d.param}")
            params.append(subject)
        if actor is not None:
            where.append(f"actor = {d.param}")
            params.append(actor)
        clause = f" WHERE {' AND '.join(where)}" if where else ""
        rows = self._s().query(
            f"SELECT id, {self._us('time')}, actor, role, action, subject, details"
            f" FROM audit_log{clause} ORDER BY time DESC, id DESC LIMIT {int(limit)}", params)
        return [AuditEntry(int(r[0]), us_to_ts(int(r[1])), r[2], r[3], r[4], r[5],
                           orjson.loads(r[6]) if isinstance(r[6], str | bytes) else r[6])
                for r in rows]


def _role(role: Role | str) -> Role:
    try:
        return Role(role)
    except ValueError:
        raise AuthError(f"unknown role {role!r}; use porter, biomed or admin") from None


def _user(r: Any) -> User:
    return User(r[0], Role(r[1]), r[2], bool(r[3]), us_to_ts(int(r[4])))


async def audit(state: AppState, principal: Principal, action: str, subject: str,
                details: Mapping[str, object]) -> None:
    """Append an audit entry through the app's auth service (from async endpoints).

    Raises:
        ConflictError, StoreUnavailableError: as the store raises them.
    """
    auth = state.auth
    if not isinstance(auth, AuthService):
        raise StoreUnavailableError("the audit log needs the auth service")
    await asyncio.to_thread(auth.audit, principal, action, subject, details)

