"""Query text and row decoding shared by the SQL stores (SQLite, PostgreSQL/TimescaleDB).

Both backends hold the same tables and answer the same questions; they differ in dialect
(placeholders, the true literal, how times are stored and passed, how an asset's open tags are
aggregated, how case-insensitive search is written) and in connection handling. A backend
describes its dialect in a :class:`Dialect` and inherits the reads from :class:`SQLReads`,
supplying :meth:`SQLReads._session`; writes, schema and the genuinely different reads stay in
the backend modules.

Times are read back as integer microseconds since the Unix epoch in both dialects
(:attr:`Dialect.us` wraps a time column), so the row decoders here are dialect-free.
"""

from __future__ import annotations

import datetime as dt
import time
from collections.abc import Callable, Mapping, Sequence
from contextlib import AbstractContextManager
from dataclasses import dataclass
from typing import Any, ClassVar

from tracker.assets import Asset
from tracker.records import FixRecord, StayRecord, ts_to_us, us_to_ts
from tracker.store.base import Pairing, UnknownAssetError

__all__ = [
    "FIX_FIELDS",
    "UPSERT_CURRENT_SET",
    "UPSERT_STAYS_SET",
    "Dialect",
    "Execute",
    "Fetch",
    "Params",
    "SQLReads",
    "decode_fix",
    "decode_stay",
    "fix_row",
    "pair",
    "unpair",
]

Params = Sequence[Any] | Mapping[str, Any]
Fetch = Callable[[str, Params], list[Any]]
"""Run one query on the session's connection and return all its rows."""
Execute = Callable[[str, Sequence[Any]], Any]
"""A connection's ``execute``: runs one statement, returns a cursor with ``fetchone()``."""

FIX_FIELDS = ("tag, asset, site, building, level, room, x, y, accuracy_m, room_confidence,"
              " moving, gateway")
"""The columns of ``positions`` and ``current_location`` after ``time``."""

UPSERT_CURRENT_SET = (
    " ON CONFLICT (tag) DO UPDATE SET time = excluded.time, asset = excluded.asset,"
    " site = excluded.site, building = excluded.building, level = excluded.level,"
    " room = excluded.room, x = excluded.x, y = excluded.y,"
    " accuracy_m = excluded.accuracy_m, room_confidence = excluded.room_confidence,"
    " moving = excluded.moving, gateway = excluded.gateway"
    " WHERE current_location.time < excluded.time"
)
"""Conflict clause keeping the newest fix per tag in ``current_location``."""

UPSERT_STAYS_SET = (
    " ON CONFLICT (tag, t_enter) DO UPDATE SET"
    " t_exit = coalesce(excluded.t_exit, stays.t_exit),"
    " asset = coalesce(excluded.asset, stays.asset),"
    " confidence = CASE WHEN stays.t_exit IS NULL OR excluded.t_exit IS NOT NULL"
    " THEN excluded.confidence ELSE stays.confidence END"
)
"""Conflict clause merging a replayed or closed stay into the stored one."""


@dataclass(frozen=True, slots=True)
class Dialect:
    """What differs between the SQL backends' query text and parameters.

    Attributes:
        param: Positional placeholder (``?`` or ``%s``).
        named: Named placeholder with ``{}`` for the name (``:{}`` or ``%({})s``).
        true: The true literal in a ``WHERE`` clause.
        us: SQL reading a time column (``{}``) as integer microseconds since the epoch.
        greatest: Name of the two-argument maximum function.
        lock: Row lock suffix for reading a tag's open pairing before changing it.
        open_tags: SQL selecting the open pairings' tags of asset ``a`` (one value).
        to_db: A timestamp (s since the epoch) as a query parameter.
        decode_tags: The ``open_tags`` value as a sorted tuple.
        decode_date: A stored date (or None) as a :class:`datetime.date`.
        text_filter: ``text`` as a ``WHERE`` term on assets ``a`` using the named parameter
            ``t``, and the value to bind to ``t``.
    """

    param: str
    named: str
    true: str
    us: str
    greatest: str
    lock: str
    open_tags: str
    to_db: Callable[[float], Any]
    decode_tags: Callable[[Any], tuple[str, ...]]
    decode_date: Callable[[Any], dt.date | None]
    text_filter: Callable[[str], tuple[str, Any]]

    def name(self, key: str) -> str:
        """The named placeholder for ``key``."""
        return self.named.format(key)

    @property
    def fix_cols(self) -> str:
        """Select list decoded by :func:`decode_fix`."""
        return f"{self.us.format('time')}, {FIX_FIELDS}"

    @property
    def stay_cols(self) -> str:
        """Select list decoded by :func:`decode_stay`."""
        return (f"tag, asset, site, level, room, {self.us.format('t_enter')},"
                f" {self.us.format('t_exit')}, confidence")

    @property
    def asset_cols(self) -> str:
        """Select list on assets ``a`` decoded by :meth:`decode_asset`."""
        return ("a.id, a.name, a.type, a.model, a.serial, a.giai, a.barcode, a.department,"
                f" a.home_room, {self.open_tags}, a.status, a.next_maintenance")

    def decode_asset(self, r: Sequence[Any]) -> Asset:
        """An asset row selected with :attr:`asset_cols`."""
        return Asset(r[0], r[1], r[2], r[3], r[4], r[5], r[6], r[7], r[8],
                     tags=self.decode_tags(r[9]), status=r[10],
                     next_maintenance=self.decode_date(r[11]))

    def equal_filters(self, pairs: Sequence[tuple[str, Any]], params: list[Any]) -> str:
        """An ``AND col = ?`` term per pair whose value is not None; appends the values."""
        out = ""
        for col, val in pairs:
            if val is not None:
                out += f" AND {col} = {self.param}"
                params.append(val)
        return out


def decode_fix(r: Sequence[Any]) -> FixRecord:
    """A fix row selected with :attr:`Dialect.fix_cols`."""
    return FixRecord(us_to_ts(r[0]), r[1], r[2], r[3], r[4], r[5], r[6], float(r[7]),
                     float(r[8]), float(r[9]), float(r[10]), bool(r[11]), r[12])


def fix_row(f: FixRecord) -> tuple[Any, ...]:
    """A fix as both stores write it: the time in integer microseconds, then
    :data:`FIX_FIELDS` in order (the inverse of :func:`decode_fix`)."""
    return (ts_to_us(f.ts), f.tag, f.asset, f.site, f.building, f.level, f.room, f.x, f.y,
            f.accuracy_m, f.room_confidence, f.moving, f.gateway)


def decode_stay(r: Sequence[Any]) -> StayRecord:
    """A stay row selected with :attr:`Dialect.stay_cols`."""
    return StayRecord(r[0], r[1], r[2], r[3], r[4], us_to_ts(r[5]),
                      None if r[6] is None else us_to_ts(r[6]), float(r[7]))


def pair(execute: Execute, d: Dialect, asset_id: str, tag: str, at: float) -> None:
    """Pair ``tag`` with ``asset_id`` from ``at`` inside the caller's transaction.

    Raises:
        UnknownAssetError: ``asset_id`` is not in the registry.
    """
    p = d.param
    if execute(f"SELECT 1 FROM assets WHERE id = {p}", (asset_id,)).fetchone() is None:
        raise UnknownAssetError(asset_id)
    cur = execute(f"SELECT asset FROM tag_pairings WHERE tag = {p} AND until IS NULL{d.lock}",
                  (tag,)).fetchone()
    if cur is not None and cur[0] == asset_id:
        return
    if cur is not None:
        unpair(execute, d, tag, at)
    execute(f"INSERT INTO tag_pairings (asset, tag, since) VALUES ({p}, {p}, {p})"
            " ON CONFLICT (tag, since) DO UPDATE SET asset = excluded.asset, until = NULL",
            (asset_id, tag, d.to_db(at)))


def unpair(execute: Execute, d: Dialect, tag: str, at: float) -> None:
    """Close the tag's open pairing at ``at`` inside the caller's transaction."""
    execute(f"UPDATE tag_pairings SET until = {d.greatest}(since, {d.param})"
            f" WHERE tag = {d.param} AND until IS NULL", (d.to_db(at), tag))


class SQLReads:
    """The reads both SQL stores answer with the same queries.

    Subclasses set :attr:`_dialect` and implement :meth:`_session`.
    """

    _dialect: ClassVar[Dialect]

    def _session(self) -> AbstractContextManager[Fetch]:
        """A context holding one read connection, yielding a function that runs a query."""
        raise NotImplementedError

    def _all(self, q: str, params: Params = ()) -> list[Any]:
        with self._session() as fetch:
            return fetch(q, params)

    @property
    def dialect(self) -> Dialect:
        """The SQL dialect, for feature modules (auth, alerts, reports) writing their own SQL."""
        return self._dialect

    def query(self, q: str, params: Params = ()) -> list[Any]:
        """Run one read query (in :attr:`dialect`) and return all its rows."""
        return self._all(q, params)

    def transaction(self) -> AbstractContextManager[Fetch]:
        """A write transaction: yields a function running one statement and returning its
        rows (empty for statements without a result); commits on success, rolls back on
        error."""
        raise NotImplementedError

    def current_locations(
        self, *, site: str | None = None, level: str | None = None, since: float | None = None
    ) -> list[FixRecord]:
        """The latest fix of every tag, ordered by tag."""
        d = self._dialect
        params: list[Any] = []
        where = d.equal_filters((("site", site), ("level", level)), params)
        if since is not None:
            where += f" AND time >= {d.param}"
            params.append(d.to_db(since))
        q = f"SELECT {d.fix_cols} FROM current_location WHERE {d.true}{where} ORDER BY tag"
        return [decode_fix(r) for r in self._all(q, params)]

    def location_of(self, asset_or_tag: str) -> FixRecord | None:
        """Latest fix of a tag, or of the tags currently paired with an asset."""
        d = self._dialect
        k = d.name("k")
        with self._session() as fetch:
            rows = fetch(
                f"SELECT {d.fix_cols} FROM current_location WHERE tag = {k} OR tag IN"
                f" (SELECT tag FROM tag_pairings WHERE asset = {k} AND until IS NULL)"
                f" ORDER BY (tag = {k}) DESC, time DESC LIMIT 1", {"k": asset_or_tag})
            if not rows:
                rows = fetch(f"SELECT {d.fix_cols} FROM current_location WHERE asset ="
                             f" {d.param} ORDER BY time DESC LIMIT 1", (asset_or_tag,))
        return decode_fix(rows[0]) if rows else None

    def trail(self, tag: str, t0: float, t1: float) -> list[FixRecord]:
        """Stored fixes of a tag in ``[t0, t1)``, in time order."""
        d, p = self._dialect, self._dialect.param
        q = (f"SELECT {d.fix_cols} FROM positions WHERE tag = {p} AND time >= {p}"
             f" AND time < {p} ORDER BY time")
        return [decode_fix(r) for r in self._all(q, (tag, d.to_db(t0), d.to_db(t1)))]

    def room_contents(self, room: str) -> list[FixRecord]:
        """Current locations in ``room``, ordered by tag."""
        d = self._dialect
        q = f"SELECT {d.fix_cols} FROM current_location WHERE room = {d.param} ORDER BY tag"
        return [decode_fix(r) for r in self._all(q, (room,))]

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
        d = self._dialect
        params: list[Any] = [d.to_db(t1), d.to_db(t0)]
        q = (f"SELECT {d.stay_cols} FROM stays WHERE t_enter < {d.param}"
             f" AND (t_exit IS NULL OR t_exit > {d.param})")
        q += d.equal_filters((("tag", tag), ("asset", asset), ("room", room)), params)
        return [decode_stay(r) for r in self._all(q + " ORDER BY t_enter, tag", params)]

    def get_asset(self, asset_id: str) -> Asset | None:
        """One asset with its currently paired tags."""
        d = self._dialect
        rows = self._all(f"SELECT {d.asset_cols} FROM assets a WHERE a.id = {d.param}",
                         (asset_id,))
        return d.decode_asset(rows[0]) if rows else None

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
        d = self._dialect
        where = f"WHERE {d.true}"
        named: dict[str, Any] = {}
        if text:
            clause, named["t"] = d.text_filter(text)
            where += f" AND {clause}"
        for col, val in (("type", type), ("department", department), ("status", status)):
            if val is not None:
                where += f" AND a.{col} = {d.name(col)}"
                named[col] = val
        with self._session() as fetch:
            total = fetch(f"SELECT count(*) FROM assets a {where}", named)
            rows = fetch(
                f"SELECT {d.asset_cols} FROM assets a {where} ORDER BY a.id"
                f" LIMIT {d.name('limit')} OFFSET {d.name('offset')}",
                {**named, "limit": max(0, limit), "offset": max(0, offset)})
        return [d.decode_asset(r) for r in rows], int(total[0][0] if total else 0)

    def asset_for_tag(self, tag: str, at: float | None = None) -> str | None:
        """The asset ``tag`` was paired with at ``at`` (default now)."""
        d, p = self._dialect, self._dialect.param
        when = d.to_db(time.time() if at is None else at)
        rows = self._all(f"SELECT asset FROM tag_pairings WHERE tag = {p} AND since <= {p}"
                         f" AND (until IS NULL OR until > {p}) ORDER BY since DESC LIMIT 1",
                         (tag, when, when))
        return str(rows[0][0]) if rows else None

    def pairings(self, *, asset: str | None = None, tag: str | None = None) -> list[Pairing]:
        """Pairing history ordered by (since, tag)."""
        d = self._dialect
        params: list[Any] = []
        q = (f"SELECT asset, tag, {d.us.format('since')}, {d.us.format('until')}"
             f" FROM tag_pairings WHERE {d.true}")
        q += d.equal_filters((("asset", asset), ("tag", tag)), params)
        return [Pairing(r[0], r[1], us_to_ts(r[2]), None if r[3] is None else us_to_ts(r[3]))
                for r in self._all(q + " ORDER BY since, tag", params)]
