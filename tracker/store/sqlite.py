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
    GatewayStatusRecord,
    StayRecord,
    WriteBatch,
    ts_to_us,
    us_to_ts,
)
from tracker.store.base import (
    ConflictError,
    HourlyRoomTime,
    StoreError,
    StoreUnavailableError,
)
from tracker.store.sql import (
    FIX_FIELDS,
    UPSERT_CURRENT_SET,
    UPSERT_STAYS_SET,
    Dialect,
    Fetch,
    Params,
    SQLReads,
    fix_row,
    pair,
    unpair,
)

__all__ = ["SQLiteStore", "split_stays_hourly"]

_HOUR_US = 3_600_000_000


def _text_filter(text: str) -> tuple[str, str]:
    return ("(instr(fold(a.id), :t) OR instr(fold(a.name), :t)"
            " OR instr(fold(a.model), :t) OR instr(fold(a.serial), :t)"
            " OR instr(fold(a.giai), :t) OR instr(fold(a.barcode), :t)"
            " OR EXISTS (SELECT 1 FROM tag_pairings p WHERE p.asset = a.id"
            " AND p.until IS NULL AND instr(fold(p.tag), :t)))", text.casefold())


_DIALECT = Dialect(
    param="?",
    named=":{}",
    true="1",
    us="{}",
    greatest="max",
    lock="",
    open_tags=("(SELECT group_concat(tag, char(31)) FROM (SELECT p.tag FROM tag_pairings p"
               " WHERE p.asset = a.id AND p.until IS NULL ORDER BY p.tag))"),
    to_db=ts_to_us,
    decode_tags=lambda v: tuple(sorted(v.split("\x1f"))) if v else (),
    decode_date=lambda v: None if v is None else dt.date.fromisoformat(v),
    text_filter=_text_filter,
)
"""SQLite: times stored as integer microseconds, dates as ISO text."""
_FIX_COLS = _DIALECT.fix_cols
_FIX_VALUES = "(" + ",".join("?" * (1 + len(FIX_FIELDS.split(",")))) + ")"
_STAY_COLS = _DIALECT.stay_cols


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


class SQLiteStore(SQLReads):
    """Store in an SQLite file (or ``":memory:"``).

    Args:
        path: Database file, or ``":memory:"``.
    """

    _dialect = _DIALECT

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

    @contextmanager
    def _session(self) -> Iterator[Fetch]:
        yield self._query

    @contextmanager
    def transaction(self) -> Iterator[Fetch]:
        """A write transaction (see :meth:`SQLReads.transaction`)."""
        with self._tx() as conn:
            def run(q: str, params: Params = ()) -> list[Any]:
                try:
                    return conn.execute(q, params).fetchall()
                except sqlite3.IntegrityError as exc:
                    raise ConflictError(f"SQLite constraint: {exc}") from exc
                except sqlite3.Error as exc:
                    raise StoreError(f"SQLite error: {exc}") from exc
            yield run

    def _query(self, q: str, params: Params = ()) -> list[Any]:
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
        rows = [fix_row(f) for f in batch.fixes]
        conn.executemany(f"INSERT INTO positions ({_FIX_COLS}) VALUES {_FIX_VALUES}"
                         " ON CONFLICT DO NOTHING", rows)
        latest: dict[str, tuple[Any, ...]] = {}
        for r in rows:
            if r[1] not in latest or latest[r[1]][0] < r[0]:
                latest[r[1]] = r
        conn.executemany(
            f"INSERT INTO current_location ({_FIX_COLS}) VALUES {_FIX_VALUES}"
            + UPSERT_CURRENT_SET, list(latest.values()))
        conn.executemany(
            f"INSERT INTO stays ({_STAY_COLS}) VALUES (?,?,?,?,?,?,?,?)" + UPSERT_STAYS_SET,
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
                    pair(conn.execute, _DIALECT, a.id, tag, at)
        return len(assets)

    def pair_tag(self, asset_id: str, tag: str, at: float) -> None:
        """Pair ``tag`` with ``asset_id`` from ``at``; closes the tag's previous pairing."""
        with self._tx() as conn:
            pair(conn.execute, _DIALECT, asset_id, tag, at)

    def unpair_tag(self, tag: str, at: float) -> None:
        """Close the tag's open pairing at ``at``."""
        with self._tx() as conn:
            unpair(conn.execute, _DIALECT, tag, at)


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
