"""The embedded SQLite store: same semantics as the TimescaleDB store, in one file.

Used by ``sporing demo`` and small installations. WAL mode; one writer connection guarded by a
lock, plus one read connection per reading thread for file databases (WAL readers do not block
the writer). ``:memory:`` databases share a single connection under the lock.
"""

from __future__ import annotations

import datetime as dt
import sqlite3
import threading
import time
from collections.abc import Iterator, Sequence
from contextlib import contextmanager
from importlib import resources
from pathlib import Path
from typing import Any

import orjson

from tracker.assets import Asset
from tracker.records import (
    FixRecord,
    GatewayStatusRecord,
    StayRecord,
    WriteBatch,
    ts_to_us,
    us_to_ts,
)
from tracker.store.base import (
    HourlyRoomTime,
    Pairing,
    StoreError,
    StoreUnavailableError,
    UnknownAssetError,
)

__all__ = ["SQLiteStore", "split_stays_hourly"]

_FIX_COLS = ("time, tag, asset, site, building, level, room, x, y, accuracy_m,"
             " room_confidence, moving")
_STAY_COLS = "tag, asset, site, level, room, t_enter, t_exit, confidence"
_ASSET_COLS = ("a.id, a.name, a.type, a.model, a.serial, a.giai, a.barcode, a.department,"
               " a.home_room, (SELECT group_concat(tag, char(31)) FROM (SELECT p.tag FROM"
               " tag_pairings p WHERE p.asset = a.id AND p.until IS NULL ORDER BY p.tag)),"
               " a.status, a.next_maintenance")
_HOUR_US = 3_600_000_000


def _fix(r: Sequence[Any]) -> FixRecord:
    return FixRecord(us_to_ts(r[0]), r[1], r[2], r[3], r[4], r[5], r[6], r[7], r[8], r[9],
                     r[10], bool(r[11]))


def _stay(r: Sequence[Any]) -> StayRecord:
    return StayRecord(r[0], r[1], r[2], r[3], r[4], us_to_ts(r[5]),
                      None if r[6] is None else us_to_ts(r[6]), r[7])


def _asset(r: Sequence[Any]) -> Asset:
    return Asset(r[0], r[1], r[2], r[3], r[4], r[5], r[6], r[7], r[8],
                 tags=tuple(sorted(r[9].split("\x1f"))) if r[9] else (), status=r[10],
                 next_maintenance=None if r[11] is None else dt.date.fromisoformat(r[11]))


def split_stays_hourly(
    stays: Sequence[StayRecord], t0: float, t1: float, now: float
) -> list[HourlyRoomTime]:
    """Split stays into UTC clock hours within ``[t0, t1)``; open stays last until ``now``.

    Rows are keyed by the stay's asset (its tag when unpaired), ordered by (hour, asset, room).
    """
    acc: dict[tuple[int, str, str], int] = {}
    lo_lim, hi_lim, now_us = ts_to_us(t0), ts_to_us(t1), ts_to_us(now)
    for s in stays:
        lo = max(ts_to_us(s.t_enter), lo_lim)
        hi = min(now_us if s.t_exit is None else ts_to_us(s.t_exit), hi_lim)
        hour = lo - lo % _HOUR_US
        while hour < hi:
            part = min(hi, hour + _HOUR_US) - max(lo, hour)
            if part > 0:
                key = (hour, s.asset or s.tag, s.room)
                acc[key] = acc.get(key, 0) + part
            hour += _HOUR_US
    return [HourlyRoomTime(us_to_ts(h), a, r, us / 1e6) for (h, a, r), us in sorted(acc.items())]


class SQLiteStore:
    """Store in an SQLite file (or ``":memory:"``).

    Args:
        path: Database file, or ``":memory:"``.
    """

    def __init__(self, path: str | Path = ":memory:") -> None:
        self.path = str(path)
        self._memory = self.path == ":memory:"
        self._lock = threading.RLock()
        self._local = threading.local()
        self._readers: list[sqlite3.Connection] = []
        self._closed = False
        self._wconn = self._connect()

    def _connect(self) -> sqlite3.Connection:
        try:
            conn = sqlite3.connect(self.path, check_same_thread=False, isolation_level=None,
                                   timeout=30.0)
        except sqlite3.Error as exc:
            msg = f"cannot open SQLite database {self.path!r}: {exc}"
            raise StoreUnavailableError(msg) from exc
        conn.execute("PRAGMA foreign_keys = ON")
        conn.execute("PRAGMA busy_timeout = 30000")
        if not self._memory:
            conn.execute("PRAGMA journal_mode = WAL")
            conn.execute("PRAGMA synchronous = NORMAL")
        conn.create_function("fold", 1, lambda s: None if s is None else str(s).casefold(),
                             deterministic=True)
        return conn

    @contextmanager
    def _tx(self) -> Iterator[sqlite3.Connection]:
        if self._closed:
            raise StoreError("store is closed")
        with self._lock:
            conn = self._wconn
            conn.execute("BEGIN IMMEDIATE")
            try:
                yield conn
            except BaseException:
                conn.execute("ROLLBACK")
                raise
            else:
                conn.execute("COMMIT")

    def _reader(self) -> sqlite3.Connection:
        if self._closed:
            raise StoreError("store is closed")
        if self._memory:
            return self._wconn
        conn: sqlite3.Connection | None = getattr(self._local, "conn", None)
        if conn is None:
            conn = self._connect()
            self._local.conn = conn
            with self._lock:
                self._readers.append(conn)
        return conn

    def _query(self, q: str, params: Sequence[Any] | dict[str, Any] = ()) -> list[Any]:
        conn = self._reader()
        try:
            if self._memory:
                with self._lock:
                    return conn.execute(q, params).fetchall()
            return conn.execute(q, params).fetchall()
        except sqlite3.Error as exc:
            raise StoreError(f"SQLite error: {exc}") from exc

    # ------------------------------------------------------------------ schema
    def upgrade(self) -> list[str]:
        """Apply pending migrations from ``migrations/sqlite`` (idempotent)."""
        applied: list[str] = []
        files = sorted(
            (e for e in resources.files("tracker.store.migrations.sqlite").iterdir()
             if e.name.endswith(".sql")),
            key=lambda e: e.name,
        )
        with self._tx() as conn:
            conn.execute("CREATE TABLE IF NOT EXISTS schema_migrations (version INTEGER"
                         " PRIMARY KEY, name TEXT NOT NULL, applied_at INTEGER NOT NULL)")
            done = {r[0] for r in conn.execute("SELECT version FROM schema_migrations")}
            for entry in files:
                version, _, name = entry.name.removesuffix(".sql").partition("_")
                if int(version) in done:
                    continue
                for stmt in _statements(entry.read_text(encoding="utf-8")):
                    conn.execute(stmt)
                conn.execute("INSERT INTO schema_migrations VALUES (?, ?, ?)",
                             (int(version), name, int(time.time())))
                applied.append(entry.name.removesuffix(".sql"))
        return applied

    def close(self) -> None:
        """Close every connection."""
        with self._lock:
            if self._closed:
                return
            self._closed = True
            for c in self._readers:
                c.close()
            self._wconn.close()

    # ------------------------------------------------------------------ writes
    def write(self, batch: WriteBatch) -> None:
        """Write one batch atomically and idempotently."""
        if not len(batch):
            return
        try:
            with self._tx() as conn:
                self._write(conn, batch)
        except sqlite3.OperationalError as exc:
            raise StoreUnavailableError(f"SQLite busy or unavailable: {exc}") from exc
        except sqlite3.Error as exc:
            raise StoreError(f"SQLite error: {exc}") from exc

    @staticmethod
    def _write(conn: sqlite3.Connection, batch: WriteBatch) -> None:
        rows = [(ts_to_us(f.ts), f.tag, f.asset, f.site, f.building, f.level, f.room, f.x, f.y,
                 f.accuracy_m, f.room_confidence, int(f.moving)) for f in batch.fixes]
        conn.executemany(f"INSERT INTO positions ({_FIX_COLS}) VALUES"
                         " (?,?,?,?,?,?,?,?,?,?,?,?) ON CONFLICT DO NOTHING", rows)
        latest: dict[str, tuple[Any, ...]] = {}
        for r in rows:
            if r[1] not in latest or latest[r[1]][0] < r[0]:
                latest[r[1]] = r
        conn.executemany(
            f"INSERT INTO current_location ({_FIX_COLS}) VALUES (?,?,?,?,?,?,?,?,?,?,?,?)"
            " ON CONFLICT (tag) DO UPDATE SET time = excluded.time, asset = excluded.asset,"
            " site = excluded.site, building = excluded.building, level = excluded.level,"
            " room = excluded.room, x = excluded.x, y = excluded.y,"
            " accuracy_m = excluded.accuracy_m, room_confidence = excluded.room_confidence,"
            " moving = excluded.moving WHERE current_location.time < excluded.time",
            list(latest.values()),
        )
        conn.executemany(
            f"INSERT INTO stays ({_STAY_COLS}) VALUES (?,?,?,?,?,?,?,?)"
            " ON CONFLICT (tag, t_enter) DO UPDATE SET"
            " t_exit = coalesce(excluded.t_exit, stays.t_exit),"
            " asset = coalesce(excluded.asset, stays.asset),"
            " confidence = CASE WHEN stays.t_exit IS NULL OR excluded.t_exit IS NOT NULL"
            " THEN excluded.confidence ELSE stays.confidence END",
            [(s.tag, s.asset, s.site, s.level, s.room, ts_to_us(s.t_enter),
              None if s.t_exit is None else ts_to_us(s.t_exit), s.confidence)
             for s in batch.stays],
        )
        conn.executemany(
            "INSERT INTO gateway_status VALUES (?,?,?,?,?,?,?) ON CONFLICT DO NOTHING",
            [(ts_to_us(g.ts), g.gateway, int(g.online), g.messages_per_s, g.readings_per_s,
              None if g.last_seen is None else ts_to_us(g.last_seen),
              orjson.dumps(dict(g.details)).decode()) for g in batch.statuses],
        )

    def apply_retention(self, now: float | None = None) -> dict[str, int]:
        """Delete rows older than ``retention_settings``; returns rows removed per table."""
        now_us = ts_to_us(time.time() if now is None else now)
        out: dict[str, int] = {}
        with self._tx() as conn:
            for table, column, keep_s in conn.execute(
                "SELECT table_name, time_column, keep_s FROM retention_settings"
            ).fetchall():
                cur = conn.execute(f'DELETE FROM "{table}" WHERE "{column}" < ?',
                                   (now_us - keep_s * 1_000_000,))
                out[table] = cur.rowcount
        return out

    # ------------------------------------------------------------------ reads
    def current_locations(
        self, *, site: str | None = None, level: str | None = None, since: float | None = None
    ) -> list[FixRecord]:
        """The latest fix of every tag, ordered by tag."""
        q = f"SELECT {_FIX_COLS} FROM current_location WHERE 1"
        params: list[Any] = []
        if site is not None:
            q += " AND site = ?"
            params.append(site)
        if level is not None:
            q += " AND level = ?"
            params.append(level)
        if since is not None:
            q += " AND time >= ?"
            params.append(ts_to_us(since))
        return [_fix(r) for r in self._query(q + " ORDER BY tag", params)]

    def location_of(self, asset_or_tag: str) -> FixRecord | None:
        """Latest fix of a tag, or of the tags currently paired with an asset."""
        rows = self._query(
            f"SELECT {_FIX_COLS} FROM current_location WHERE tag = :k OR tag IN"
            " (SELECT tag FROM tag_pairings WHERE asset = :k AND until IS NULL)"
            " ORDER BY (tag = :k) DESC, time DESC LIMIT 1", {"k": asset_or_tag})
        if not rows:
            rows = self._query(f"SELECT {_FIX_COLS} FROM current_location WHERE asset = ?"
                               " ORDER BY time DESC LIMIT 1", (asset_or_tag,))
        return _fix(rows[0]) if rows else None

    def trail(self, tag: str, t0: float, t1: float) -> list[FixRecord]:
        """Stored fixes of a tag in ``[t0, t1)``, in time order."""
        return [_fix(r) for r in self._query(
            f"SELECT {_FIX_COLS} FROM positions WHERE tag = ? AND time >= ? AND time < ?"
            " ORDER BY time", (tag, ts_to_us(t0), ts_to_us(t1)))]

    def room_contents(self, room: str) -> list[FixRecord]:
        """Current locations in ``room``, ordered by tag."""
        return [_fix(r) for r in self._query(
            f"SELECT {_FIX_COLS} FROM current_location WHERE room = ? ORDER BY tag", (room,))]

    def stays(
        self,
        t0: float,
        t1: float,
        *,
        tag: str | None = None,
        asset: str | None = None,
        room: str | None = None,
    ) -> list[StayRecord]:
        """Stays overlapping ``[t0, t1)``, ordered by (t_enter, tag)."""
        q = (f"SELECT {_STAY_COLS} FROM stays WHERE t_enter < ?"
             " AND (t_exit IS NULL OR t_exit > ?)")
        params: list[Any] = [ts_to_us(t1), ts_to_us(t0)]
        for col, val in (("tag", tag), ("asset", asset), ("room", room)):
            if val is not None:
                q += f" AND {col} = ?"
                params.append(val)
        return [_stay(r) for r in self._query(q + " ORDER BY t_enter, tag", params)]

    def hourly_time_in_room(
        self, t0: float, t1: float, *, asset: str | None = None, now: float | None = None
    ) -> list[HourlyRoomTime]:
        """Seconds per (UTC hour, asset, room) in ``[t0, t1)``."""
        rows = split_stays_hourly(self.stays(t0, t1), t0, t1,
                                  time.time() if now is None else now)
        return [r for r in rows if asset is None or r.asset == asset]

    def gateway_status(self) -> list[GatewayStatusRecord]:
        """Latest status per gateway."""
        rows = self._query(
            "SELECT g.* FROM gateway_status g JOIN (SELECT gateway, max(time) AS t"
            " FROM gateway_status GROUP BY gateway) m ON g.gateway = m.gateway AND g.time = m.t"
            " ORDER BY g.gateway")
        return [GatewayStatusRecord(us_to_ts(r[0]), r[1], bool(r[2]), r[3], r[4],
                                    None if r[5] is None else us_to_ts(r[5]),
                                    orjson.loads(r[6])) for r in rows]

    # ------------------------------------------------------------------ assets
    def upsert_assets(self, assets: Sequence[Asset], *, at: float | None = None) -> int:
        """Insert or update assets and pair their listed tags (one transaction)."""
        at = time.time() if at is None else at
        now_us = ts_to_us(time.time())
        with self._tx() as conn:
            conn.executemany(
                "INSERT INTO assets VALUES (?,?,?,?,?,?,?,?,?,?,?,?)"
                " ON CONFLICT (id) DO UPDATE SET name = excluded.name, type = excluded.type,"
                " model = excluded.model, serial = excluded.serial, giai = excluded.giai,"
                " barcode = excluded.barcode, department = excluded.department,"
                " home_room = excluded.home_room, status = excluded.status,"
                " next_maintenance = excluded.next_maintenance, updated_at = excluded.updated_at",
                [(a.id, a.name, a.type, a.model, a.serial, a.giai, a.barcode, a.department,
                  a.home_room, a.status,
                  None if a.next_maintenance is None else a.next_maintenance.isoformat(), now_us)
                 for a in assets],
            )
            for a in assets:
                for tag in a.tags:
                    self._pair(conn, a.id, tag, at)
        return len(assets)

    def get_asset(self, asset_id: str) -> Asset | None:
        """One asset with its currently paired tags."""
        rows = self._query(f"SELECT {_ASSET_COLS} FROM assets a WHERE a.id = ?", (asset_id,))
        return _asset(rows[0]) if rows else None

    def search_assets(
        self,
        text: str | None = None,
        *,
        type: str | None = None,
        department: str | None = None,
        status: str | None = None,
        limit: int = 50,
        offset: int = 0,
    ) -> tuple[list[Asset], int]:
        """Filtered page of assets ordered by id, and the total count."""
        where = "WHERE 1"
        named: dict[str, Any] = {}
        if text:
            where += (
                " AND (instr(fold(a.id), :t) OR instr(fold(a.name), :t)"
                " OR instr(fold(a.model), :t) OR instr(fold(a.serial), :t)"
                " OR instr(fold(a.giai), :t) OR instr(fold(a.barcode), :t)"
                " OR EXISTS (SELECT 1 FROM tag_pairings p WHERE p.asset = a.id"
                " AND p.until IS NULL AND instr(fold(p.tag), :t)))"
            )
            named["t"] = text.casefold()
        for col, val in (("type", type), ("department", department), ("status", status)):
            if val is not None:
                where += f" AND a.{col} = :{col}"
                named[col] = val
        total = self._query(f"SELECT count(*) FROM assets a {where}", named)[0][0]
        rows = self._query(
            f"SELECT {_ASSET_COLS} FROM assets a {where} ORDER BY a.id LIMIT :limit"
            " OFFSET :offset", {**named, "limit": max(0, limit), "offset": max(0, offset)})
        return [_asset(r) for r in rows], int(total)

    @staticmethod
    def _pair(conn: sqlite3.Connection, asset_id: str, tag: str, at: float) -> None:
        if conn.execute("SELECT 1 FROM assets WHERE id = ?", (asset_id,)).fetchone() is None:
            raise UnknownAssetError(asset_id)
        cur = conn.execute("SELECT asset FROM tag_pairings WHERE tag = ? AND until IS NULL",
                           (tag,)).fetchone()
        if cur is not None and cur[0] == asset_id:
            return
        when = ts_to_us(at)
        if cur is not None:
            conn.execute("UPDATE tag_pairings SET until = max(since, ?) WHERE tag = ?"
                         " AND until IS NULL", (when, tag))
        conn.execute("INSERT INTO tag_pairings (asset, tag, since) VALUES (?, ?, ?)"
                     " ON CONFLICT (tag, since) DO UPDATE SET asset = excluded.asset,"
                     " until = NULL", (asset_id, tag, when))

    def pair_tag(self, asset_id: str, tag: str, at: float) -> None:
        """Pair ``tag`` with ``asset_id`` from ``at``; closes the tag's previous pairing."""
        with self._tx() as conn:
            self._pair(conn, asset_id, tag, at)

    def unpair_tag(self, tag: str, at: float) -> None:
        """Close the tag's open pairing at ``at``."""
        with self._tx() as conn:
            conn.execute("UPDATE tag_pairings SET until = max(since, ?) WHERE tag = ?"
                         " AND until IS NULL", (ts_to_us(at), tag))

    def asset_for_tag(self, tag: str, at: float | None = None) -> str | None:
        """The asset ``tag`` was paired with at ``at`` (default now)."""
        when = ts_to_us(time.time() if at is None else at)
        rows = self._query("SELECT asset FROM tag_pairings WHERE tag = ? AND since <= ?"
                           " AND (until IS NULL OR until > ?) ORDER BY since DESC LIMIT 1",
                           (tag, when, when))
        return str(rows[0][0]) if rows else None

    def pairings(self, *, asset: str | None = None, tag: str | None = None) -> list[Pairing]:
        """Pairing history ordered by (since, tag)."""
        q = "SELECT asset, tag, since, until FROM tag_pairings WHERE 1"
        params: list[Any] = []
        if asset is not None:
            q += " AND asset = ?"
            params.append(asset)
        if tag is not None:
            q += " AND tag = ?"
            params.append(tag)
        return [Pairing(r[0], r[1], us_to_ts(r[2]), None if r[3] is None else us_to_ts(r[3]))
                for r in self._query(q + " ORDER BY since, tag", params)]


def _statements(script: str) -> Iterator[str]:
    """Split a migration script into statements (no semicolons inside literals here)."""
    buf: list[str] = []
    for line in script.splitlines():
        if line.strip().startswith("--"):
            continue
        buf.append(line)
        if line.rstrip().endswith(";"):
            stmt = "\n".join(buf).strip()
            if sqlite3.complete_statement(stmt):
                yield stmt
                buf = []
    rest = "\n".join(buf).strip()
    if rest:
        yield rest
