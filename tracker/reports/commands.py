"""``sporing report``: the reports on the command line and for scheduled jobs.

::

    sporing report refresh      [--from --to]          # keep the rollup current (cron)
    sporing report utilization  --from --to [--by --period --type --department]
    sporing report fleet        --from --to [--type --department --shortage-min]
    sporing report idle         [--days 7]
    sporing report missing      [--hours 24]
    sporing report maintenance  [--days 14 --start-room R]
    sporing report forecast     [--type --department --weeks 8 --quantile 0.9] [--moves]

Common options: ``--database URL`` (default ``$SPORING_DATABASE_URL``), ``--floorplan F``
(default: the sample hospital), ``--format csv|json``, ``--output FILE``, ``--tz``. Dates are
local to ``--tz``: ``--from 2025-11-01 --to 2025-11-30`` is the whole of November (a bare
``--to`` date includes that day; a date-time is exclusive).
"""

from __future__ import annotations

import argparse
import datetime as dt
import sys
import time
from typing import Any

from tracker.reports.periods import DEFAULT_TZ

__all__ = ["parse_when", "register"]


def register(sub: argparse._SubParsersAction[Any]) -> None:
    """Add the ``report`` command group."""
    rep = sub.add_parser("report", help="biomedical engineering reports (utilization, fleet,"
                                        " idle, missing, maintenance) as CSV or JSON")
    rs = rep.add_subparsers(dest="report_command", metavar="REPORT", required=True)

    p = rs.add_parser("refresh", help="bring the report rollup up to date from stays")
    _common(p, output=False)
    p.add_argument("--from", dest="t_from", metavar="WHEN",
                   help="rebuild from here (default: from the last refresh, less an hour)")
    p.add_argument("--to", dest="t_to", metavar="WHEN", help="up to here (default: now)")
    p.add_argument("--transit-limit", type=float, default=900.0, metavar="S",
                   help="longest gap between stays counted as in transit (default 900 s)")
    p.add_argument("--state", action="append", default=[], metavar="CATEGORY=STATE",
                   help="override the state of a room category, e.g. office=available"
                        " (repeatable; states: in_use, available, needs_cleaning, in_transit,"
                        " not_seen, out_of_service)")
    p.set_defaults(handler=_refresh)

    p = rs.add_parser("utilization", help="time in each state and uses, per asset, type or"
                                          " department and period")
    _common(p)
    _window(p)
    p.add_argument("--by", choices=("asset", "type", "department", "type_department"),
                   default="type")
    p.add_argument("--period", choices=("day", "week", "month", "all"), default="all")
    p.add_argument("--asset", default=None, help="only this asset")
    p.set_defaults(handler=_utilization)

    p = rs.add_parser("fleet", help="owned vs. concurrently in use, with recommendations")
    _common(p)
    _window(p)
    p.add_argument("--shortage-min", type=float, default=600.0, metavar="S",
                   help="seconds with none available that make an hour a shortage (600)")
    p.set_defaults(handler=_fleet)

    p = rs.add_parser("idle", help="assets that have not left their room for N days")
    _common(p)
    _filters(p)
    p.add_argument("--days", type=float, default=7.0)
    p.set_defaults(handler=_idle)

    p = rs.add_parser("missing", help="assets not seen for N hours")
    _common(p)
    _filters(p)
    p.add_argument("--hours", type=float, default=24.0)
    p.set_defaults(handler=_missing)

    p = rs.add_parser("maintenance", help="assets due for maintenance, as a walking route")
    _common(p)
    _filters(p)
    p.add_argument("--days", type=int, default=14, help="due within N days (default 14)")
    p.add_argument("--start-room", default=None, metavar="ROOM",
                   help="where the route starts (default: the most overdue asset's room)")
    p.set_defaults(handler=_maintenance)

    from tracker.reports.forecast_command import add_forecast

    add_forecast(rs, _common, _filters, _run, _emit, _site)


def _common(p: argparse.ArgumentParser, *, output: bool = True) -> None:
    p.add_argument("--database", metavar="URL", default=None,
                   help="database URL (default: $SPORING_DATABASE_URL)")
    p.add_argument("--floorplan", metavar="FILE", default="",
                   help="floor plan (native GeoJSON; default: the sample hospital)")
    p.add_argument("--tz", default=DEFAULT_TZ, help=f"local time zone (default {DEFAULT_TZ})")
    if output:
        p.add_argument("--format", choices=("csv", "json"), default="csv")
        p.add_argument("--output", "-o", metavar="FILE", default=None,
                       help="write here instead of standard output")


def _filters(p: argparse.ArgumentParser) -> None:
    p.add_argument("--type", default=None, help="only this equipment type")
    p.add_argument("--department", default=None, help="only this owning department")


def _window(p: argparse.ArgumentParser) -> None:
    p.add_argument("--from", dest="t_from", metavar="WHEN", required=True,
                   help="start: YYYY-MM-DD or an ISO date-time, local time")
    p.add_argument("--to", dest="t_to", metavar="WHEN", required=True,
                   help="end: YYYY-MM-DD (that day included) or an ISO date-time (excluded)")
    _filters(p)


def parse_when(text: str, tz: str, *, end: bool = False) -> float:
    """Epoch seconds of a local date or ISO 8601 date-time.

    A bare date is local midnight starting it, or with ``end`` the one ending it; a
    date-time without an offset is local time.

    Raises:
        ValueError: not a date or date-time.
    """
    from tracker.reports.periods import zone

    z = zone(tz)
    s = text.strip()
    try:
        if len(s) == 10:
            day = dt.date.fromisoformat(s) + dt.timedelta(days=1 if end else 0)
            return dt.datetime(day.year, day.month, day.day, tzinfo=z).timestamp()
        t = dt.datetime.fromisoformat(s)
    except ValueError:
        raise ValueError(f"{text!r} is not a date (YYYY-MM-DD) or ISO date-time") from None
    return (t if t.tzinfo else t.replace(tzinfo=z)).timestamp()


class _UsageError(Exception):
    pass


def _fail(msg: str, code: int = 2) -> int:
    print(f"error: {msg}", file=sys.stderr)
    return code


def _open(args: argparse.Namespace) -> Any:
    from tracker.store import DATABASE_URL_ENV, default_database_url, open_store

    url = args.database or default_database_url()
    if not url:
        raise _UsageError(f"no database: pass --database URL or set {DATABASE_URL_ENV}")
    store = open_store(url)
    try:
        store.upgrade()
    except BaseException:
        store.close()
        raise
    return store


def _site(args: argparse.Namespace) -> Any:
    from tracker.service import load_site

    try:
        return load_site(args.floorplan)
    except (OSError, ValueError) as exc:
        raise _UsageError(f"--floorplan: {exc}") from exc


def _window_of(args: argparse.Namespace) -> tuple[float, float]:
    try:
        t0 = parse_when(args.t_from, args.tz)
    except ValueError as exc:
        raise _UsageError(f"--from: {exc}") from None
    try:
        t1 = parse_when(args.t_to, args.tz, end=True)
    except ValueError as exc:
        raise _UsageError(f"--to: {exc}") from None
    if t1 <= t0:
        raise _UsageError("--to: must be after --from")
    return t0, t1


def _run(args: argparse.Namespace, body: Any) -> int:
    from floorplans.problems import FloorplanError
    from tracker.reports.periods import zone
    from tracker.store import StoreError

    try:
        zone(args.tz)
        store = None
        try:
            store = _open(args)
            return int(body(store))
        finally:
            if store is not None:
                store.close()
    except _UsageError as exc:
        return _fail(str(exc))
    except FloorplanError as exc:
        return _fail(f"--floorplan: {exc}")
    except ValueError as exc:
        return _fail(_option_message(str(exc)))
    except StoreError as exc:
        return _fail(str(exc), 1)


def _option_message(msg: str) -> str:
    """``"start_room: unknown ..."`` -> ``"--start-room: unknown ..."`` (field -> option)."""
    field, sep, rest = msg.partition(": ")
    if sep and field.isidentifier():
        return f"--{field.replace('_', '-')}: {rest}"
    return msg


def _emit(args: argparse.Namespace, rows: Any, columns: Any, **meta: Any) -> int:
    from tracker.reports.export import to_csv, to_json

    if args.format == "json":
        data = to_json(rows, args.tz, {**meta, "tz": args.tz}) + b"\n"
    else:
        data = to_csv(rows, columns, args.tz).encode("utf-8")
    if args.output:
        with open(args.output, "wb") as f:
            f.write(data)
    else:
        sys.stdout.buffer.write(data)
        sys.stdout.flush()
    return 0


def _warn_coverage(store: Any, t1: float) -> None:
    from tracker.reports.rollup import rollup_info

    _, mark = rollup_info(store)
    if mark is None:
        print("warning: the report rollup is empty; run 'sporing report refresh' first",
              file=sys.stderr)
    elif mark < min(t1, time.time()) - 3600.0:
        when = dt.datetime.fromtimestamp(mark, dt.UTC).isoformat(timespec="minutes")
        print(f"warning: the report rollup reaches only {when}; run 'sporing report refresh'",
              file=sys.stderr)


def _refresh(args: argparse.Namespace) -> int:
    def body(store: Any) -> int:
        from tracker.availability import StateMap
        from tracker.reports.rollup import refresh_incremental, refresh_rollup
        from tracker.reports.states import StateRules

        overrides: dict[str, str] = {}
        for item in args.state:
            cat, sep, name = item.partition("=")
            if not sep or not cat.strip():
                raise _UsageError(f"--state: {item!r} is not CATEGORY=STATE")
            overrides[cat.strip()] = name.strip()
        try:
            state_map = StateMap.from_config(overrides)
        except ValueError as exc:
            raise _UsageError(f"--state: {exc}") from None
        if not args.transit_limit >= 0:
            raise _UsageError("--transit-limit: must be >= 0")
        rules = StateRules.for_site(_site(args), state_map, transit_limit_s=args.transit_limit)
        now = time.time()
        if args.t_from:
            if not args.t_to:
                args.t_to = dt.datetime.fromtimestamp(now, dt.UTC).isoformat()
            t0, t1 = _window_of(args)
            res = refresh_rollup(store, rules, t0, min(t1, now), now=now, tz=args.tz)
        else:
            res = refresh_incremental(store, rules, now=now, tz=args.tz)
        print(f"refreshed {res.assets} asset(s) from {res.stays} stay(s): {res.hour_rows} hour"
              f" row(s), {res.fleet_rows} fleet row(s), {res.days} day(s)")
        return 0

    return _run(args, body)


def _utilization(args: argparse.Namespace) -> int:
    def body(store: Any) -> int:
        from tracker.reports.utilization import UtilizationRow, utilization

        t0, t1 = _window_of(args)
        _warn_coverage(store, t1)
        rows = utilization(store, t0, t1, by=args.by, period=args.period, type=args.type,
                           department=args.department, asset=args.asset, tz=args.tz)
        # Flat records in JSON too (one key per CSV column), as this command always wrote.
        return _emit(args, [r.to_record(args.tz) for r in rows], UtilizationRow.COLUMNS,
                     report="utilization", by=args.by, period=args.period)

    return _run(args, body)


def _fleet(args: argparse.Namespace) -> int:
    def body(store: Any) -> int:
        from tracker.reports.fleet import FleetRow, fleet

        t0, t1 = _window_of(args)
        _warn_coverage(store, t1)
        rows = fleet(store, t0, t1, type=args.type, department=args.department,
                     shortage_min_s=args.shortage_min, tz=args.tz)
        return _emit(args, rows, FleetRow.COLUMNS, report="fleet")

    return _run(args, body)


def _idle(args: argparse.Namespace) -> int:
    def body(store: Any) -> int:
        from tracker.reports.worklists import IdleRow, idle

        rows = idle(store, _site(args), days=args.days, type=args.type,
                    department=args.department)
        return _emit(args, rows, IdleRow.COLUMNS, report="idle", days=args.days)

    return _run(args, body)


def _missing(args: argparse.Namespace) -> int:
    def body(store: Any) -> int:
        from tracker.reports.worklists import MissingRow, missing

        rows = missing(store, _site(args), hours=args.hours, type=args.type,
                       department=args.department)
        return _emit(args, rows, MissingRow.COLUMNS, report="missing", hours=args.hours)

    return _run(args, body)


def _maintenance(args: argparse.Namespace) -> int:
    def body(store: Any) -> int:
        from tracker.reports.worklists import MaintenanceRow, maintenance

        rows = maintenance(store, _site(args), days=args.days, start_room=args.start_room,
                           type=args.type, department=args.department)
        return _emit(args, rows, MaintenanceRow.COLUMNS, report="maintenance",
                     days=args.days)

    return _run(args, body)
