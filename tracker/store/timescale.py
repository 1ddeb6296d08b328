"""The PostgreSQL/TimescaleDB store (psycopg 3 + psycopg-pool).

Writes go through ``COPY`` (binary) into per-connection temporary staging tables, then
``INSERT ... ON CONFLICT`` into the real tables, all in one transaction per batch, so a batch is
atomic and replays are idempotent: fixes are keyed by (tag, time), stays by (tag, t_enter),
gateway statuses by (gateway, time). On a server without TimescaleDB (or with it disabled) the
same schema is plain tables; see :mod:`tracker.store.migrate`.
"""

from __future__ import annotations

import datetime as dt
import logging
import time
from collections.abc import Iterator, Sequence
from contextlib import contextmanager
from typing import Any

import orjson
import psycopg
import psycopg_pool
from psycopg import sql

from tracker.assets import Asset
from tracker.records import (
    GatewayStatusRecord,
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
from tracker.store.migrate import Capabilities, apply_migrations, detect_capabilities
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

__all__ = ["TimescaleStore"]

log = logging.getLogger(__name__)
Conn = psycopg.Connection[tuple[Any, ...]]

_EPOCH = "TIMESTAMPTZ 'epoch' + {} * INTERVAL '1 microsecond'"
_US = "(extract(epoch FROM {}) * 1000000)::int8"

_STAGE_DDL = """
CREATE TEMP TABLE IF NOT EXISTS stage_fixes (
    us int8, tag text, asset text, site text, building text, level text, room text,
    x float8, y float8, accuracy_m float8, room_confidence float8, moving bool, gateway text
) ON COMMIT DELETE ROWS;
CREATE TEMP TABLE IF NOT EXISTS stage_stays (
    tag text, asset text, site text, level text, room text, t_enter int8, t_exit int8,
    confidence float8
) ON COMMIT DELETE ROWS;
CREATE TEMP TABLE IF NOT EXISTS stage_status (
    us int8, gateway text, online bool, messages_per_s float8, readings_per_s float8,
    last_seen int8, details text
) ON COMMIT DELETE ROWS;
"""
_FIX_TYPES = ["int8", "text", "text", "text", "text", "text", "text",
              "float8", "float8", "float8", "float8", "bool", "text"]
_STAY_TYPES = ["text", "text", "text", "text", "text", "int8", "int8", "float8"]
_STATUS_TYPES = ["int8", "text", "bool", "float8", "float8", "int8", "text"]

_INSERT_FIXES = f"""
INSERT INTO positions (time, {FIX_FIELDS})
SELECT {_EPOCH.format('us')}, {FIX_FIELDS}
FROM stage_fixes ORDER BY us
ON CONFLICT (tag, time) DO NOTHING
"""
_UPSERT_CURRENT = f"""
INSERT INTO current_location (time, {FIX_FIELDS})
SELECT DISTINCT ON (tag) {_EPOCH.format('us')}, {FIX_FIELDS}
FROM stage_fixes ORDER BY tag, us DESC
""" + UPSERT_CURRENT_SET
_UPSERT_STAYS = f"""
INSERT INTO stays (tag, asset, site, level, room, t_enter, t_exit, confidence)
SELECT DISTINCT ON (tag, t_enter) tag, asset, site, level, room, {_EPOCH.format('t_enter')},
       {_EPOCH.format('t_exit')}, confidence
FROM (SELECT *, row_number() OVER () AS n FROM stage_stays) s
ORDER BY tag, t_enter, n DESC
""" + UPSERT_STAYS_SET
_INSERT_STATUS = f"""
INSERT INTO gateway_status (time, gateway, online, messages_per_s, readings_per_s, last_seen,
                            details)
SELECT {_EPOCH.format('us')}, gateway, online, messages_per_s, readings_per_s,
       {_EPOCH.format('last_seen')}, details::jsonb
FROM stage_status
ON CONFLICT (gateway, time) DO NOTHING
"""


def _ts(ts: float) -> dt.datetime:
    return dt.datetime(1970, 1, 1, tzinfo=dt.UTC) + dt.timedelta(microseconds=ts_to_us(ts))


def _like(text: str) -> str:
    return "%" + text.replace("\\", "\\\\").replace("%", "\\%").replace("_", "\\_") + "%"


def _text_filter(text: str) -> tuple[str, str]:
    return ("(a.id ILIKE %(t)s OR a.name ILIKE %(t)s OR a.model ILIKE %(t)s"
            " OR a.serial ILIKE %(t)s OR a.giai ILIKE %(t)s OR a.barcode ILIKE %(t)s"
            " OR EXISTS (SELECT 1 FROM tag_pairings p WHERE p.asset = a.id"
            " AND p.until IS NULL AND p.tag ILIKE %(t)s))", _like(text))


_DIALECT = Dialect(
    param="%s",
    named="%({})s",
    true="true",
    us=_US,
    greatest="greatest",
    lock=" FOR UPDATE",
    open_tags=("array(SELECT p.tag FROM tag_pairings p WHERE p.asset = a.id"
               " AND p.until IS NULL ORDER BY p.tag)"),
    to_db=_ts,
    decode_tags=tuple,
    decode_date=lambda v: v,
    text_filter=_text_filter,
)
"""PostgreSQL: ``timestamptz`` times passed as datetimes and read back as microseconds."""


class TimescaleStore(SQLReads):
    """Store on PostgreSQL, using TimescaleDB where the server has it.

    Args:
        url: ``postgresql://`` connection URL.
        use_timescaledb: False forces plain-PostgreSQL mode even when the extension exists.
        min_size, max_size: Connection pool bounds.
        connect_timeout: Seconds to wait for a connection before raising
            :class:`StoreUnavailableError`.

    The constructor does not block on the database: an unreachable server surfaces as
    :class:`StoreUnavailableError` from the first call, and the pool reconnects by itself.
    """

    _dialect = _DIALECT

    def __init__(
        self,
        url: str,
        *,
        use_timescaledb: bool = True,
        min_size: int = 1,
        max_size: int = 4,
        connect_timeout: float = 5.0,
    ) -> None:
        self.url = url
        self.use_timescaledb = use_timescaledb
        self._timeout = connect_timeout
        self._caps: Capabilities | None = None
        self._pool: psycopg_pool.ConnectionPool[Conn] = psycopg_pool.ConnectionPool(
            url,
            min_size=min_size,
            max_size=max_size,
            kwargs={"connect_timeout": max(1, int(connect_timeout))},
            check=psycopg_pool.ConnectionPool.check_connection,
            reconnect_timeout=3600.0,
            open=False,
            name="sporing-store",
        )
        self._pool.open(wait=False)

    # ------------------------------------------------------------------ plumbing
    @contextmanager
    def _conn(self) -> Iterator[Conn]:
        try:
            with self._pool.connection(timeout=self._timeout) as conn:
                yield conn
        except (psycopg.OperationalError, psycopg_pool.PoolTimeout) as exc:
            raise StoreUnavailableError(f"database unreachable: {exc}") from exc
        except psycopg.Error as exc:
            raise StoreError(f"database error: {exc}") from exc

    @contextmanager
    def _session(self) -> Iterator[Fetch]:
        with self._conn() as conn:
            yield lambda q, params: conn.execute(q.encode(), params).fetchall()

    @contextmanager
    def transaction(self) -> Iterator[Fetch]:
        """A write transaction (see :meth:`SQLReads.transaction`)."""
        with self._conn() as conn, conn.transaction():
            def run(q: str, params: Params = ()) -> list[Any]:
                try:
                    cur = conn.execute(q.encode(), params)
                except psycopg.errors.IntegrityError as exc:
                    raise ConflictError(f"constraint: {exc}") from exc
                return cur.fetchall() if cur.description is not None else []
            yield run

    @property
    def capabilities(self) -> Capabilities:
        """What the server offers (detected on first use)."""
        if self._caps is None:
            with self._conn() as conn:
                conn.autocommit = True
                try:
                    self._caps = detect_capabilities(conn, use_timescaledb=self.use_timescaledb)
                finally:
                    conn.autocommit = False
            missing = self._caps.missing()
            if missing:
                log.warning(
                    "TimescaleDB features unavailable on %s: %s",
                    self.url.rsplit("@", 1)[-1], "; ".join(missing),
                )
        return self._caps

    def upgrade(self) -> list[str]:
        """Apply pending migrations (idempotent, safe to run concurrently)."""
        caps = self.capabilities
        with self._conn() as conn:
            conn.autocommit = True
            try:
                return apply_migrations(conn, caps)
            finally:
                conn.autocommit = False

    def close(self) -> None:
        """Close the connection pool."""
        self._pool.close()

    # ------------------------------------------------------------------ writes
    def write(self, batch: WriteBatch) -> None:
        """Write one batch atomically and idempotently (see module docstring)."""
        if not len(batch):
            return
        with self._conn() as conn, conn.transaction():
            conn.execute(_STAGE_DDL.encode())
            cur = conn.cursor()
            if batch.fixes:
                with cur.copy("COPY stage_fixes FROM STDIN (FORMAT BINARY)") as cp:
                    cp.set_types(_FIX_TYPES)
                    for f in batch.fixes:
                        cp.write_row(fix_row(f))
                cur.execute(_INSERT_FIXES.encode())
                cur.execute(_UPSERT_CURRENT.encode())
            if batch.stays:
                with cur.copy("COPY stage_stays FROM STDIN (FORMAT BINARY)") as cp:
                    cp.set_types(_STAY_TYPES)
                    for s in batch.stays:
                        cp.write_row((s.tag, s.asset, s.site, s.level, s.room,
                                      ts_to_us(s.t_enter),
                                      None if s.t_exit is None else ts_to_us(s.t_exit),
                                      s.confidence))
                cur.execute(_UPSERT_STAYS.encode())
            if batch.statuses:
                with cur.copy("COPY stage_status FROM STDIN (FORMAT BINARY)") as cp:
                    cp.set_types(_STATUS_TYPES)
                    for g in batch.statuses:
                        cp.write_row((ts_to_us(g.ts), g.gateway, g.online, g.messages_per_s,
                                      g.readings_per_s,
                                      None if g.last_seen is None else ts_to_us(g.last_seen),
                                      orjson.dumps(dict(g.details)).decode()))
                cur.execute(_INSERT_STATUS.encode())

    def apply_retention(self, now: float | None = None) -> dict[str, int]:
        """Drop data older than ``retention_settings`` where no policy job does it.

        With TimescaleDB's retention policies this does nothing (the jobs run in the server);
        with hypertables only it calls ``drop_chunks``; on plain PostgreSQL it deletes rows.
        Returns rows/chunks removed per table.
        """
        caps = self.capabilities
        out: dict[str, int] = {}
        if caps.tsl:
            return out
        now_dt = _ts(time.time() if now is None else now)
        with self._conn() as conn, conn.transaction():
            rows = conn.execute(
                "SELECT table_name, time_column, keep FROM retention_settings"
            ).fetchall()
            for table, column, keep in rows:
                cutoff = now_dt - keep
                if caps.timescaledb:
                    n = conn.execute(
                        "SELECT count(*) FROM drop_chunks(%s::regclass, older_than => %s)",
                        (table, cutoff),
                    ).fetchone()
                    out[table] = int(n[0]) if n else 0
                else:
                    cur = conn.execute(
                        sql.SQL("DELETE FROM {} WHERE {} < %s").format(
                            sql.Identifier(table), sql.Identifier(column)),
                        (cutoff,),
                    )
                    out[table] = cur.rowcount
        return out

    # ------------------------------------------------------------------ reads
    def hourly_time_in_room(
        self, t0: float, t1: float, *, asset: str | None = None, now: float | None = None
    ) -> list[HourlyRoomTime]:
        """Seconds per (UTC hour, asset, room) in ``[t0, t1)`` via ``room_time_hourly()``."""
        q = ("SELECT extract(epoch FROM hour)::float8, asset, room, seconds"
             " FROM room_time_hourly(%s, %s, %s)")
        params: list[Any] = [_ts(t0), _ts(t1), _ts(time.time() if now is None else now)]
        if asset is not None:
            q += " WHERE asset = %s"
            params.append(asset)
        return [HourlyRoomTime(float(r[0]), r[1], r[2], float(r[3]))
                for r in self._all(q, params)]

    def gateway_status(self) -> list[GatewayStatusRecord]:
        """Latest status per gateway."""
        q = (f"SELECT DISTINCT ON (gateway) {_US.format('time')}, gateway, online,"
             f" messages_per_s, readings_per_s, {_US.format('last_seen')}, details"
             " FROM gateway_status ORDER BY gateway, time DESC")
        return [GatewayStatusRecord(us_to_ts(r[0]), r[1], bool(r[2]), float(r[3]), float(r[4]),
                                    None if r[5] is None else us_to_ts(r[5]), r[6])
                for r in self._all(q)]

    # ------------------------------------------------------------------ assets
    def upsert_assets(self, assets: Sequence[Asset], *, at: float | None = None) -> int:
        """Insert or update assets and pair their listed tags (one transaction)."""
        at = time.time() if at is None else at
        with self._conn() as conn, conn.transaction():
            conn.cursor().executemany(
                "INSERT INTO assets (id, name, type, model, serial, giai, barcode, department,"
                " home_room, status, next_maintenance) VALUES"
                " (%s, %s, %s, %s, %s, %s, %s, %s, %s, %s, %s)"
                " ON CONFLICT (id) DO UPDATE SET name = excluded.name, type = excluded.type,"
                " model = excluded.model, serial = excluded.serial, giai = excluded.giai,"
                " barcode = excluded.barcode, department = excluded.department,"
                " home_room = excluded.home_room, status = excluded.status,"
                " next_maintenance = excluded.next_maintenance, updated_at = now()",
                [(a.id, a.name, a.type, a.model, a.serial, a.giai, a.barcode, a.department,
                  a.home_room, a.status, a.next_maintenance) for a in assets],
            )
            for a in assets:
                for tag in a.tags:
                    pair(conn.execute, _DIALECT, a.id, tag, at)
        return len(assets)

    def pair_tag(self, asset_id: str, tag: str, at: float) -> None:
        """Pair ``tag`` with ``asset_id`` from ``at``; closes the tag's previous pairing."""
        with self._conn() as conn, conn.transaction():
            pair(conn.execute, _DIALECT, asset_id, tag, at)

    def unpair_tag(self, tag: str, at: float) -> None:
        """Close the tag's open pairing at ``at``."""
        with self._conn() as conn, conn.transaction():
            unpair(conn.execute, _DIALECT, tag, at)

