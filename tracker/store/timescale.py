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
from collections.abc import Callable, Iterator, Sequence
from contextlib import contextmanager
from typing import Any, TypeVar

import orjson
import psycopg
import psycopg_pool
from psycopg import sql

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
from tracker.store.migrate import Capabilities, apply_migrations, detect_capabilities

__all__ = ["TimescaleStore"]

log = logging.getLogger(__name__)
T = TypeVar("T")
Conn = psycopg.Connection[tuple[Any, ...]]

_EPOCH = "TIMESTAMPTZ 'epoch' + {} * INTERVAL '1 microsecond'"
_US = "(extract(epoch FROM {}) * 1000000)::int8"
_FIX_COLS = (
    f"{_US.format('time')}, tag, asset, site, building, level, room, x, y, accuracy_m,"
    " room_confidence, moving"
)

_STAGE_DDL = """
CREATE TEMP TABLE IF NOT EXISTS stage_fixes (
    us int8, tag text, asset text, site text, building text, level text, room text,
    x float8, y float8, accuracy_m float8, room_confidence float8, moving bool
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
              "float8", "float8", "float8", "float8", "bool"]
_STAY_TYPES = ["text", "text", "text", "text", "text", "int8", "int8", "float8"]
_STATUS_TYPES = ["int8", "text", "bool", "float8", "float8", "int8", "text"]

_INSERT_FIXES = f"""
INSERT INTO positions (time, tag, asset, site, building, level, room, x, y, accuracy_m,
                       room_confidence, moving)
SELECT {_EPOCH.format('us')}, tag, asset, site, building, level, room, x, y, accuracy_m,
       room_confidence, moving
FROM stage_fixes ORDER BY us
ON CONFLICT (tag, time) DO NOTHING
"""
_UPSERT_CURRENT = f"""
INSERT INTO current_location (time, tag, asset, site, building, level, room, x, y, accuracy_m,
                              room_confidence, moving)
SELECT DISTINCT ON (tag) {_EPOCH.format('us')}, tag, asset, site, building, level, room, x, y,
       accuracy_m, room_confidence, moving
FROM stage_fixes ORDER BY tag, us DESC
ON CONFLICT (tag) DO UPDATE SET
    time = excluded.time, asset = excluded.asset, site = excluded.site,
    building = excluded.building, level = excluded.level, room = excluded.room,
    x = excluded.x, y = excluded.y, accuracy_m = excluded.accuracy_m,
    room_confidence = excluded.room_confidence, moving = excluded.moving
WHERE current_location.time < excluded.time
"""
_UPSERT_STAYS = f"""
INSERT INTO stays (tag, asset, site, level, room, t_enter, t_exit, confidence)
SELECT DISTINCT ON (tag, t_enter) tag, asset, site, level, room, {_EPOCH.format('t_enter')},
       {_EPOCH.format('t_exit')}, confidence
FROM (SELECT *, row_number() OVER () AS n FROM stage_stays) s
ORDER BY tag, t_enter, n DESC
ON CONFLICT (tag, t_enter) DO UPDATE SET
    t_exit = coalesce(excluded.t_exit, stays.t_exit),
    asset = coalesce(excluded.asset, stays.asset),
    confidence = CASE WHEN stays.t_exit IS NULL OR excluded.t_exit IS NOT NULL
                      THEN excluded.confidence ELSE stays.confidence END
"""
_INSERT_STATUS = f"""
INSERT INTO gateway_status (time, gateway, online, messages_per_s, readings_per_s, last_seen,
                            details)
SELECT {_EPOCH.format('us')}, gateway, online, messages_per_s, readings_per_s,
       {_EPOCH.format('last_seen')}, details::jsonb
FROM stage_status
ON CONFLICT (gateway, time) DO NOTHING
"""
_STAY_COLS = (
    f"tag, asset, site, level, room, {_US.format('t_enter')}, {_US.format('t_exit')}, confidence"
)
_ASSET_COLS = (
    "a.id, a.name, a.type, a.model, a.serial, a.giai, a.barcode, a.department, a.home_room,"
    " array(SELECT p.tag FROM tag_pairings p WHERE p.asset = a.id AND p.until IS NULL"
    " ORDER BY p.tag), a.status, a.next_maintenance"
)


def _ts(ts: float) -> dt.datetime:
    return dt.datetime(1970, 1, 1, tzinfo=dt.UTC) + dt.timedelta(microseconds=ts_to_us(ts))


def _fix(row: Sequence[Any]) -> FixRecord:
    return FixRecord(us_to_ts(row[0]), row[1], row[2], row[3], row[4], row[5], row[6],
                     float(row[7]), float(row[8]), float(row[9]), float(row[10]), bool(row[11]))


def _stay(row: Sequence[Any]) -> StayRecord:
    return StayRecord(row[0], row[1], row[2], row[3], row[4], us_to_ts(row[5]),
                      None if row[6] is None else us_to_ts(row[6]), float(row[7]))


def _asset(row: Sequence[Any]) -> Asset:
    return Asset(row[0], row[1], row[2], row[3], row[4], row[5], row[6], row[7], row[8],
                 tags=tuple(row[9]), status=row[10], next_maintenance=row[11])


def _like(text: str) -> str:
    return "%" + text.replace("\\", "\\\\").replace("%", "\\%").replace("_", "\\_") + "%"


class TimescaleStore:
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

    def _read(self, fn: Callable[[Conn], T]) -> T:
        with self._conn() as conn:
            return fn(conn)

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
                        cp.write_row((ts_to_us(f.ts), f.tag, f.asset, f.site, f.building,
                                      f.level, f.room, f.x, f.y, f.accuracy_m,
                                      f.room_confidence, f.moving))
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
    def current_locations(
        self, *, site: str | None = None, level: str | None = None, since: float | None = None
    ) -> list[FixRecord]:
        """The latest fix of every tag, ordered by tag."""
        q = f"SELECT {_FIX_COLS} FROM current_location WHERE true"
        params: list[Any] = []
        if site is not None:
            q += " AND site = %s"
            params.append(site)
        if level is not None:
            q += " AND level = %s"
            params.append(level)
        if since is not None:
            q += " AND time >= %s"
            params.append(_ts(since))
        q += " ORDER BY tag"
        return self._read(lambda c: [_fix(r) for r in c.execute(q.encode(), params)])

    def location_of(self, asset_or_tag: str) -> FixRecord | None:
        """Latest fix of a tag, or of the tags currently paired with an asset."""
        q = (
            f"SELECT {_FIX_COLS} FROM current_location WHERE tag = %(k)s"
            " OR tag IN (SELECT tag FROM tag_pairings WHERE asset = %(k)s AND until IS NULL)"
            " ORDER BY (tag = %(k)s) DESC, time DESC LIMIT 1"
        )

        def run(c: Conn) -> FixRecord | None:
            row = c.execute(q.encode(), {"k": asset_or_tag}).fetchone()
            if row is None:
                row = c.execute(
                    f"SELECT {_FIX_COLS} FROM current_location WHERE asset = %s"
                    " ORDER BY time DESC LIMIT 1".encode(), (asset_or_tag,)
                ).fetchone()
            return None if row is None else _fix(row)

        return self._read(run)

    def trail(self, tag: str, t0: float, t1: float) -> list[FixRecord]:
        """Stored fixes of a tag in ``[t0, t1)``, in time order."""
        q = (f"SELECT {_FIX_COLS} FROM positions WHERE tag = %s AND time >= %s AND time < %s"
             " ORDER BY time")
        return self._read(
            lambda c: [_fix(r) for r in c.execute(q.encode(), (tag, _ts(t0), _ts(t1)))]
        )

    def room_contents(self, room: str) -> list[FixRecord]:
        """Current locations in ``room``, ordered by tag."""
        q = f"SELECT {_FIX_COLS} FROM current_location WHERE room = %s ORDER BY tag"
        return self._read(lambda c: [_fix(r) for r in c.execute(q.encode(), (room,))])

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
        q = (f"SELECT {_STAY_COLS} FROM stays WHERE t_enter < %s"
             " AND (t_exit IS NULL OR t_exit > %s)")
        params: list[Any] = [_ts(t1), _ts(t0)]
        for col, val in (("tag", tag), ("asset", asset), ("room", room)):
            if val is not None:
                q += f" AND {col} = %s"
                params.append(val)
        q += " ORDER BY t_enter, tag"
        return self._read(lambda c: [_stay(r) for r in c.execute(q.encode(), params)])

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
        return self._read(lambda c: [
            HourlyRoomTime(float(r[0]), r[1], r[2], float(r[3]))
            for r in c.execute(q.encode(), params)
        ])

    def gateway_status(self) -> list[GatewayStatusRecord]:
        """Latest status per gateway."""
        q = (f"SELECT DISTINCT ON (gateway) {_US.format('time')}, gateway, online,"
             f" messages_per_s, readings_per_s, {_US.format('last_seen')}, details"
             " FROM gateway_status ORDER BY gateway, time DESC")
        return self._read(lambda c: [
            GatewayStatusRecord(us_to_ts(r[0]), r[1], bool(r[2]), float(r[3]), float(r[4]),
                                None if r[5] is None else us_to_ts(r[5]), r[6])
            for r in c.execute(q.encode())
        ])

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
                    self._pair(conn, a.id, tag, at)
        return len(assets)

    def get_asset(self, asset_id: str) -> Asset | None:
        """One asset with its currently paired tags."""
        q = f"SELECT {_ASSET_COLS} FROM assets a WHERE a.id = %s"
        return self._read(lambda c: (
            None if (r := c.execute(q.encode(), (asset_id,)).fetchone()) is None else _asset(r)
        ))

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
        where = "WHERE true"
        if text:
            where += (
                " AND (a.id ILIKE %(t)s OR a.name ILIKE %(t)s OR a.model ILIKE %(t)s"
                " OR a.serial ILIKE %(t)s OR a.giai ILIKE %(t)s OR a.barcode ILIKE %(t)s"
                " OR EXISTS (SELECT 1 FROM tag_pairings p WHERE p.asset = a.id"
                " AND p.until IS NULL AND p.tag ILIKE %(t)s))"
            )
        named: dict[str, Any] = {"t": _like(text or "")}
        for col, val in (("type", type), ("department", department), ("status", status)):
            if val is not None:
                where += f" AND a.{col} = %({col})s"
                named[col] = val

        def run(c: Conn) -> tuple[list[Asset], int]:
            total = c.execute(f"SELECT count(*) FROM assets a {where}".encode(), named)
            n = int((total.fetchone() or (0,))[0])
            rows = c.execute(
                f"SELECT {_ASSET_COLS} FROM assets a {where} ORDER BY a.id"
                " LIMIT %(limit)s OFFSET %(offset)s".encode(),
                {**named, "limit": max(0, limit), "offset": max(0, offset)},
            )
            return [_asset(r) for r in rows], n

        return self._read(run)

    def _pair(self, conn: Conn, asset_id: str, tag: str, at: float) -> None:
        if conn.execute("SELECT 1 FROM assets WHERE id = %s", (asset_id,)).fetchone() is None:
            raise UnknownAssetError(asset_id)
        cur = conn.execute(
            "SELECT asset FROM tag_pairings WHERE tag = %s AND until IS NULL FOR UPDATE", (tag,)
        ).fetchone()
        if cur is not None and cur[0] == asset_id:
            return
        when = _ts(at)
        if cur is not None:
            conn.execute(
                "UPDATE tag_pairings SET until = greatest(since, %s) WHERE tag = %s"
                " AND until IS NULL", (when, tag))
        conn.execute(
            "INSERT INTO tag_pairings (asset, tag, since) VALUES (%s, %s, %s)"
            " ON CONFLICT (tag, since) DO UPDATE SET asset = excluded.asset, until = NULL",
            (asset_id, tag, when),
        )

    def pair_tag(self, asset_id: str, tag: str, at: float) -> None:
        """Pair ``tag`` with ``asset_id`` from ``at``; closes the tag's previous pairing."""
        with self._conn() as conn, conn.transaction():
            self._pair(conn, asset_id, tag, at)

    def unpair_tag(self, tag: str, at: float) -> None:
        """Close the tag's open pairing at ``at``."""
        with self._conn() as conn, conn.transaction():
            conn.execute(
                "UPDATE tag_pairings SET until = greatest(since, %s) WHERE tag = %s"
                " AND until IS NULL", (_ts(at), tag))

    def asset_for_tag(self, tag: str, at: float | None = None) -> str | None:
        """The asset ``tag`` was paired with at ``at`` (default now)."""
        when = _ts(time.time() if at is None else at)
        q = ("SELECT asset FROM tag_pairings WHERE tag = %s AND since <= %s"
             " AND (until IS NULL OR until > %s) ORDER BY since DESC LIMIT 1")
        return self._read(lambda c: (
            None if (r := c.execute(q, (tag, when, when)).fetchone()) is None else str(r[0])
        ))

    def pairings(self, *, asset: str | None = None, tag: str | None = None) -> list[Pairing]:
        """Pairing history ordered by (since, tag)."""
        q = (f"SELECT asset, tag, {_US.format('since')}, {_US.format('until')}"
             " FROM tag_pairings WHERE true")
        params: list[Any] = []
        if asset is not None:
            q += " AND asset = %s"
            params.append(asset)
        if tag is not None:
            q += " AND tag = %s"
            params.append(tag)
        q += " ORDER BY since, tag"
        return self._read(lambda c: [
            Pairing(r[0], r[1], us_to_ts(r[2]), None if r[3] is None else us_to_ts(r[3]))
            for r in c.execute(q.encode(), params)
        ])
