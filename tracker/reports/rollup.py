"""The hourly rollup of asset states, maintained by the application (no continuous aggregates).

Reports over a month of 15,000 assets cannot rescan raw stays per request, and the
Apache-licence TimescaleDB build has no continuous aggregates, so :func:`refresh_rollup`
maintains three tables (migration ``0004_reports``) from stays:

* ``asset_state_hours(hour, asset, type, department, state, seconds, uses)``: for each UTC
  hour ``h`` and asset ``a``, ``seconds(h, a, s) = |{t in [h, h+1h) : state_a(t) = s}|`` with
  the states of :mod:`tracker.reports.states`, so ``sum_s seconds(h, a, s)`` is the elapsed
  part of the hour (3600 s, less in the current hour). ``uses`` counts the uses that *start*
  in the hour (on the ``in_use`` row). Every asset of the registry that is not retired gets
  rows, so an asset never seen is ``not_seen`` for the whole hour.
* ``asset_state_days``: the same summed over the hours of each local day (23-25 hours), one
  row per day and asset with a column of seconds per state (``in_use_s``, ...).
* ``fleet_hours(hour, type, department, ...)``: per type and owning department (``'*'``:
  all departments) the number of assets ``n``, ``in_use_max = max_t |{a : in_use_a(t)}|``,
  ``in_use_seconds``, ``available_min = min_t |{a : available_a(t)}|`` and
  ``none_available_seconds = |{t : available count = 0}|`` within the hour.

A refresh of ``[t0, t1)`` is widened to whole hours, deletes and rewrites those hours (so
re-running it is idempotent), counts open stays up to ``now`` and rebuilds every local day it
touches from that day's hours. Stays that arrive late (a spooled batch after a database outage)
or that close after the fact (a tag going quiet is closed at its last fix) change past hours:
re-refresh a look-back window (:func:`refresh_incremental` does, one hour by default).
"""

from __future__ import annotations

import datetime as dt
import time
from collections import defaultdict
from collections.abc import Iterable, Iterator, Sequence
from dataclasses import dataclass
from typing import Any

from tracker.availability import AssetState
from tracker.records import StayRecord
from tracker.reports.periods import (
    DEFAULT_TZ,
    HOUR_S,
    ceil_hour,
    day_bounds,
    days_between,
    floor_hour,
    zone,
)
from tracker.reports.states import StateInterval, StateRules, state_intervals, uses
from tracker.store.base import Store
from tracker.store.sql import Fetch

__all__ = [
    "ALL_DEPARTMENTS",
    "DAY_COLUMNS",
    "RefreshResult",
    "RegistryEntry",
    "RollupWindow",
    "refresh_incremental",
    "refresh_rollup",
    "registry",
    "rollup_info",
    "rollup_window",
]

#: ``fleet_hours.department`` of the rows over all departments.
ALL_DEPARTMENTS = "*"

#: The per-state seconds columns of ``asset_state_days``, in :class:`AssetState` order.
DAY_COLUMNS = ", ".join(f"{s.value}_s" for s in AssetState)

_MAX_PARAMS = 900  # below SQLite's historical limit of 999 bound parameters per statement
_HOURS_COLS = (("hour", "timestamptz"), ("asset", "text"), ("type", "text"),
               ("department", "text"), ("state", "text"), ("seconds", "float8"),
               ("uses", "int4"))
_FLEET_COLS = (("hour", "timestamptz"), ("type", "text"), ("department", "text"),
               ("assets", "int4"), ("in_use_max", "int4"), ("in_use_seconds", "float8"),
               ("available_min", "int4"), ("none_available_seconds", "float8"))


@dataclass(frozen=True, slots=True)
class RegistryEntry:
    """What the rollup keeps of an asset: its type and owning department ('' when none)."""

    asset: str
    type: str
    department: str


@dataclass(frozen=True, slots=True)
class RefreshResult:
    """What a refresh did.

    Attributes:
        t0, t1: The window actually rewritten (whole hours; ``t1`` at most the current hour's
            end).
        assets: Assets rolled up.
        stays: Stays read.
        hour_rows, fleet_rows: Rows written to ``asset_state_hours`` and ``fleet_hours``.
        days: Local days rebuilt in ``asset_state_days``.
    """

    t0: float
    t1: float
    assets: int
    stays: int
    hour_rows: int
    fleet_rows: int
    days: int


def registry(store: Store) -> list[RegistryEntry]:
    """The assets the rollup covers: every registered asset that is not retired, by id."""
    rows = store.query("SELECT id, type, department FROM assets WHERE status <> 'retired'"
                       " ORDER BY id")
    return [RegistryEntry(r[0], r[1] or "", r[2] or "") for r in rows]


def rollup_info(store: Store) -> tuple[str | None, float | None]:
    """``(time zone, refreshed up to)`` of the rollup; ``(None, None)`` before any refresh."""
    d = store.dialect
    rows = store.query(f"SELECT tz, {d.us.format('refreshed_to')} FROM report_rollup"
                       " WHERE id = 1")
    if not rows:
        return None, None
    return str(rows[0][0]), None if rows[0][1] is None else int(rows[0][1]) / 1e6


@dataclass(frozen=True, slots=True)
class RollupWindow:
    """What a report reads of the rollup (:func:`rollup_window`).

    Attributes:
        tz: Time zone of the report's local hours, days and weekdays.
        lo, hi: The window, widened to whole UTC hours and cut at the end of the current hour.
        now: The current time.
    """

    tz: str
    lo: float
    hi: float
    now: float


def _report_tz(tz: str | None, built_tz: str | None) -> str:
    tz = tz or built_tz or DEFAULT_TZ
    zone(tz)  # raises on an unknown zone
    return tz


def rollup_tz(store: Store, tz: str | None = None) -> str:
    """The zone a report groups by: ``tz``, else the rollup's, else ``DEFAULT_TZ`` (the rule
    of :func:`rollup_window`).

    Raises:
        ValueError: an unknown zone.
    """
    return _report_tz(tz, None if tz else rollup_info(store)[0])  # no query when given


def rollup_window(store: Store, t0: float, t1: float, *, tz: str | None = None,
                  now: float | None = None, local_days: bool = False) -> RollupWindow:
    """The window and time zone of a report over ``[t0, t1)`` of the rollup.

    The rule for ``tz``: it defaults to the zone the rollup was built in (``DEFAULT_TZ``
    before any refresh). A report that reads ``asset_state_days`` (``local_days``: the
    utilization report) must use that zone, because those days cannot be cut again in another
    one; a report that reads only UTC hours (fleet sizing, the forecast) may group them by the
    local hour of any zone.

    Raises:
        ValueError: ``t1 <= t0`` (names ``to``), an unknown zone, or with ``local_days`` a
            zone other than the rollup's (names ``tz``).
    """
    if not t1 > t0:
        raise ValueError("to: must be after from")
    built_tz, _ = rollup_info(store)
    tz = _report_tz(tz, built_tz)
    if local_days and built_tz is not None and tz != built_tz:
        raise ValueError(f"tz: the rollup's local days are in {built_tz!r}, not {tz!r}")
    now = time.time() if now is None else now
    return RollupWindow(tz, floor_hour(t0), min(ceil_hour(t1), ceil_hour(now)), now)


def refresh_rollup(
    store: Store,
    rules: StateRules,
    t0: float,
    t1: float,
    *,
    now: float | None = None,
    tz: str = DEFAULT_TZ,
    chunk_s: float = 86_400.0,
) -> RefreshResult:
    """Recompute the rollup for ``[t0, t1)`` (see the module docstring).

    Args:
        store: An upgraded store.
        rules: Room states and transit limit (:meth:`StateRules.for_site`).
        t0, t1: Window (epoch seconds); widened to whole UTC hours and cut at ``now``.
        now: The current time (default: the clock); open stays last until then.
        tz: Time zone of the local days; must equal the one the rollup was built with.
        chunk_s: Stays are read and written this many seconds at a time (bounded memory).

    Raises:
        ValueError: ``t1 <= t0``, ``chunk_s`` too small, an unknown time zone, or not the
            rollup's time zone (the message names the field).
    """
    if not t1 > t0:
        raise ValueError(f"to: must be after from ({t0!r} >= {t1!r})")
    if chunk_s < HOUR_S:
        raise ValueError(f"chunk_s: must be at least one hour, got {chunk_s!r}")
    zone(tz)
    built_tz, mark = rollup_info(store)
    if built_tz is not None and built_tz != tz:
        raise ValueError(f"tz: the rollup was built in {built_tz!r}, not {tz!r}; clear the"
                         " report tables to rebuild it in another time zone")
    now = time.time() if now is None else now
    w0, w1 = floor_hour(t0), min(ceil_hour(t1), ceil_hour(now))
    reg = registry(store)
    if w1 <= w0:
        return RefreshResult(w0, w0, len(reg), 0, 0, 0, 0)
    n_stays = hour_rows = fleet_rows = 0
    a = w0
    while a < w1:
        b = min(w1, a + floor_hour(chunk_s))
        stays = store.stays(a - rules.transit_limit_s, b + rules.transit_limit_s)
        n_stays += len(stays)
        hours, fleet = _roll(stays, reg, rules, a, b, now)
        with store.transaction() as run:
            for table in ("asset_state_hours", "fleet_hours"):
                run(f"DELETE FROM {table} WHERE hour >= {store.dialect.param}"
                    f" AND hour < {store.dialect.param}",
                    (store.dialect.to_db(a), store.dialect.to_db(b)))
            hour_rows += _insert(run, store, "asset_state_hours", _HOURS_COLS, hours)
            fleet_rows += _insert(run, store, "fleet_hours", _FLEET_COLS, fleet)
        a = b
    days = list(days_between(w0, w1, tz))
    with store.transaction() as run:
        for day in days:
            _rebuild_day(run, store, day, tz)
        reached = min(w1, now)
        if mark is not None:
            reached = max(reached, mark)
        _set_info(run, store, tz, reached)
    return RefreshResult(w0, w1, len(reg), n_stays, hour_rows, fleet_rows, len(days))


def refresh_incremental(
    store: Store,
    rules: StateRules,
    *,
    now: float | None = None,
    tz: str = DEFAULT_TZ,
    lookback_s: float = HOUR_S,
    since: float | None = None,
) -> RefreshResult:
    """Refresh from the last refresh mark (less ``lookback_s``) up to ``now``.

    Before any refresh, starts at ``since`` (default: one day before ``now``). Run it from a
    scheduled job (``sporing report refresh``) every few minutes to an hour.
    """
    now = time.time() if now is None else now
    _, mark = rollup_info(store)
    first = now - 86_400.0 if since is None else since
    start = first if mark is None else mark - lookback_s
    return refresh_rollup(store, rules, start, now, now=now, tz=tz)


# ---------------------------------------------------------------------------- computation
def _by_asset(stays: Iterable[StayRecord]) -> dict[str, list[StayRecord]]:
    out: dict[str, list[StayRecord]] = defaultdict(list)
    for s in stays:
        if s.asset is not None:
            out[s.asset].append(s)
    return out


def _hours_of(iv: StateInterval) -> Iterator[tuple[float, float]]:
    """``(hour, seconds)`` parts of an interval split at UTC hours."""
    h = floor_hour(iv.start)
    while h < iv.end:
        part = min(iv.end, h + HOUR_S) - max(iv.start, h)
        if part > 0:
            yield h, part
        h += HOUR_S


def _roll(
    stays: Sequence[StayRecord],
    reg: Sequence[RegistryEntry],
    rules: StateRules,
    a: float,
    b: float,
    now: float,
) -> tuple[list[tuple[Any, ...]], list[tuple[Any, ...]]]:
    """Rows of ``asset_state_hours`` and ``fleet_hours`` for ``[a, b)`` (whole hours)."""
    by_asset = _by_asset(stays)
    lead = rules.transit_limit_s
    hour_acc: dict[tuple[float, str, AssetState], list[float]] = {}
    groups: dict[tuple[str, str], list[list[StateInterval]]] = defaultdict(list)
    meta: dict[str, RegistryEntry] = {}
    for entry in reg:
        meta[entry.asset] = entry
        # From ``lead`` earlier, so a use running into the window is seen to start before it.
        ivs = state_intervals(by_asset.get(entry.asset, ()), rules, a - lead, b, now)
        for use in uses(ivs):
            if a <= use.start < b:
                key = (floor_hour(use.start), entry.asset, AssetState.IN_USE)
                hour_acc.setdefault(key, [0.0, 0.0])[1] += 1
        inside = [StateInterval(max(iv.start, a), iv.end, iv.state, iv.room)
                  for iv in ivs if iv.end > a]
        for iv in inside:
            for h, sec in _hours_of(iv):
                hour_acc.setdefault((h, entry.asset, iv.state), [0.0, 0.0])[0] += sec
        groups[(entry.type, entry.department)].append(inside)
        groups[(entry.type, ALL_DEPARTMENTS)].append(inside)
    hours = [(h, asset, meta[asset].type, meta[asset].department, state.value, v[0], int(v[1]))
             for (h, asset, state), v in sorted(hour_acc.items()) if v[0] > 0 or v[1] > 0]
    fleet: list[tuple[Any, ...]] = []
    end = min(b, now)
    for (typ, dept), members in sorted(groups.items()):
        for row in _sweep(members, a, end):
            fleet.append((row[0], typ, dept, len(members), *row[1:]))
    return hours, fleet


def _sweep(members: Sequence[Sequence[StateInterval]], a: float, end: float
           ) -> list[tuple[float, int, float, int, float]]:
    """Per hour in ``[a, end)``: (hour, in-use max, in-use seconds, available min,
    seconds with none available) over a group's assets (intervals cover ``[a, end)``)."""
    events: list[tuple[float, int, int]] = []
    for ivs in members:
        for iv in ivs:
            du = 1 if iv.state is AssetState.IN_USE else 0
            da = 1 if iv.state is AssetState.AVAILABLE else 0
            if du or da:
                events.append((iv.start, du, da))
                events.append((iv.end, -du, -da))
    events.sort(key=lambda e: e[0])
    out: list[tuple[float, int, float, int, float]] = []
    use = avail = 0
    i, n = 0, len(events)
    h = a
    while h < end:
        h1 = min(h + HOUR_S, end)
        while i < n and events[i][0] <= h:  # state at the start of the hour
            use += events[i][1]
            avail += events[i][2]
            i += 1
        top, low, use_s, none_s, t = use, avail, 0.0, 0.0, h
        while i < n and events[i][0] < h1:
            tt = events[i][0]
            use_s += use * (tt - t)
            none_s += (tt - t) if avail == 0 else 0.0
            t = tt
            while i < n and events[i][0] == tt:
                use += events[i][1]
                avail += events[i][2]
                i += 1
            top, low = max(top, use), min(low, avail)
        use_s += use * (h1 - t)
        none_s += (h1 - t) if avail == 0 else 0.0
        out.append((h, top, use_s, low, none_s))
        h = h1
    return out


# ---------------------------------------------------------------------------- SQL
def _insert(run: Fetch, store: Store, table: str, cols: Sequence[tuple[str, str]],
            rows: Sequence[tuple[Any, ...]]) -> int:
    """Insert rows (time in column 0); ``cols`` are (name, PostgreSQL type) pairs.

    PostgreSQL gets one statement with an array per column (``unnest``), so the driver does
    not parse thousands of placeholders; SQLite gets multi-row ``VALUES`` statements of at
    most ``_MAX_PARAMS`` parameters.
    """
    if not rows:
        return 0
    d = store.dialect
    names = ", ".join(c for c, _ in cols)
    if d.param == "%s":
        columns = [list(c) for c in zip(*rows, strict=True)]
        columns[0] = [d.to_db(t) for t in columns[0]]
        arrays = ", ".join(f"%s::{t}[]" for _, t in cols)
        run(f"INSERT INTO {table} ({names}) SELECT * FROM unnest({arrays})", columns)
        return len(rows)
    one = "(" + ", ".join([d.param] * len(cols)) + ")"
    per = max(1, _MAX_PARAMS // len(cols))
    for i in range(0, len(rows), per):
        chunk = rows[i:i + per]
        params: list[Any] = []
        for r in chunk:
            params.append(d.to_db(r[0]))
            params.extend(r[1:])
        run(f"INSERT INTO {table} ({names}) VALUES " + ", ".join([one] * len(chunk)), params)
    return len(rows)


def _rebuild_day(run: Fetch, store: Store, day: dt.date, tz: str) -> None:
    d = store.dialect
    p = d.param
    start, end = day_bounds(day, tz)
    per_state = ", ".join(
        f"sum(CASE WHEN state = '{s.value}' THEN seconds ELSE 0 END)" for s in AssetState)
    run(f"DELETE FROM asset_state_days WHERE day = {p}", (d.to_db(start),))
    run(f"INSERT INTO asset_state_days (day, asset, type, department, {DAY_COLUMNS}, uses)"
        f" SELECT {p}, asset, max(type), max(department), {per_state}, sum(uses)"
        f" FROM asset_state_hours WHERE hour >= {p} AND hour < {p} GROUP BY asset",
        (d.to_db(start), d.to_db(start), d.to_db(end)))


def _set_info(run: Fetch, store: Store, tz: str, reached: float) -> None:
    d = store.dialect
    p = d.param
    run(f"INSERT INTO report_rollup (id, tz, refreshed_to) VALUES (1, {p}, {p})"
        " ON CONFLICT (id) DO UPDATE SET tz = excluded.tz,"
        " refreshed_to = excluded.refreshed_to", (tz, d.to_db(reached)))

