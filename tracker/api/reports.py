"""Biomedical engineering reports over HTTP (role ``biomed``): JSON, or CSV downloads.

``GET /api/v1/reports/{utilization,fleet,rooms,idle,missing,maintenance,forecast}``. Windows
are ``from``/``to``: a local date (``to`` includes that day) or an ISO date-time (local when
it has no offset; ``to`` excluded), in ``tz`` (default Europe/Oslo); the default window is the
7 days up to now; at most 366 days. ``format=csv`` answers ``text/csv`` as an attachment with
a file name; the CSV columns are those of ``sporing report``. Utilization, fleet and forecast
read the hourly rollup (:mod:`tracker.reports.rollup`), which the service keeps fresh; the
worklists read current locations and the registry.
"""

from __future__ import annotations

import asyncio
import datetime as dt
import functools
import time
from collections.abc import Callable, Mapping, Sequence
from typing import Annotated, Any, Literal, TypeVar

from fastapi import APIRouter, Query, Response
from fastapi.exceptions import RequestValidationError
from pydantic import BaseModel

from tracker.api import snapshots
from tracker.api.deps import StateDep, StoreDep
from tracker.api.report_schemas import (
    FleetOut,
    ForecastOut,
    GroupsOut,
    IdleOut,
    MaintenanceOut,
    MissingOut,
    ReportMeta,
    RoomTimeOut,
    UtilizationOut,
)
from tracker.api.security import BiomedDep
from tracker.api.validation import invalid
from tracker.reports.export import Row, json_of, to_csv
from tracker.reports.periods import DEFAULT_TZ, iso_local, zone
from tracker.reports.rollup import rollup_info
from tracker.store.base import Store

__all__ = ["MAX_SPAN_DAYS", "router"]

router = APIRouter(prefix="/api/v1/reports", tags=["reports"])

#: Longest window a report may cover.
MAX_SPAN_DAYS = 366
_CSV: dict[int | str, dict[str, Any]] = {200: {"content": {"text/csv": {}},
              "description": "JSON, or with format=csv a CSV attachment"}}

From = Annotated[str | None, Query(alias="from", max_length=40,
                                   description="Start: YYYY-MM-DD or ISO date-time (local)")]
To = Annotated[str | None, Query(alias="to", max_length=40,
                                 description="End: YYYY-MM-DD (included) or ISO date-time "
                                 "(excluded); default now")]
TypeQ = Annotated[str | None, Query(max_length=100, description="Only this equipment type")]
DeptQ = Annotated[str | None, Query(max_length=200, description="Only this owning department")]
FormatQ = Annotated[Literal["json", "csv"], Query(description="json, or csv to download")]
TzQ = Annotated[str, Query(max_length=64, description="IANA time zone of dates and hours")]

T = TypeVar("T")
Out = TypeVar("Out", bound=BaseModel)
Window = tuple[float, float]


def _parse(name: str, text: str, tz: str, *, end: bool) -> float:
    from tracker.reports.commands import parse_when

    try:
        return parse_when(text, tz, end=end)
    except ValueError as exc:
        raise invalid("query", name, str(exc), text) from None


def _zone(tz: str) -> str:
    try:
        zone(tz)
    except ValueError as exc:
        raise invalid("query", "tz", str(exc).removeprefix("tz: "), tz) from None
    return tz


def _window(t_from: str | None, t_to: str | None, tz: str) -> Window:
    """Epoch window of the ``from``/``to`` parameters (422 naming the one at fault)."""
    _zone(tz)
    now = time.time()
    t1 = now if t_to is None else _parse("to", t_to, tz, end=True)
    t0 = t1 - 7 * 86_400.0 if t_from is None else _parse("from", t_from, tz, end=False)
    if t1 <= t0:
        raise invalid("query", "to", "must be after from", t_to)
    if t1 - t0 > MAX_SPAN_DAYS * 86_400.0 + 3600.0:  # + an hour: a year across a DST change
        raise invalid("query", "to", f"the window may span at most {MAX_SPAN_DAYS} days",
                      t_to)
    return t0, t1


#: Query parameters whose report function argument is named differently.
_ARGS = {"shortage_min": "shortage_min_s"}
#: Field named by a report's ValueError -> the query parameter to name in the 422.
_FIELDS = {**{name: name for name in (
    "by", "period", "to", "from", "tz", "days", "hours", "start_room", "weeks", "alpha",
    "quantile")}, **{arg: query for query, arg in _ARGS.items()}}


def _as_422(exc: ValueError) -> RequestValidationError:
    field, sep, rest = str(exc).partition(": ")
    name = _FIELDS.get(field) if sep else None
    if name is None:
        return RequestValidationError([{"type": "value_error", "loc": ("query",),
                                        "msg": str(exc), "input": None}])
    return invalid("query", name, rest, None)


async def _run(fn: Callable[[], T]) -> T:
    try:
        return await asyncio.to_thread(fn)
    except ValueError as exc:
        raise _as_422(exc) from None


def _meta(store: Store, report: str, tz: str, window: Window | None,
          params: Mapping[str, Any], *, rollup: bool) -> ReportMeta:
    mark = rollup_info(store)[1] if rollup else None
    t0, t1 = window or (None, None)
    return ReportMeta.model_validate({
        "report": report, "tz": tz, "from": iso_local(t0, tz), "to": iso_local(t1, tz),
        "generated_at": iso_local(time.time(), tz), "rollup_refreshed_to": iso_local(mark, tz),
        "params": {k: v for k, v in params.items() if v is not None}})


def _csv(report: str, rows: Sequence[Row], columns: Sequence[str], tz: str,
         window: Window | None) -> Response:
    z = zone(tz)
    if window is not None:
        t0, t1 = window
        last = dt.datetime.fromtimestamp(t1 - 1e-6, z).date()
        span = f"{dt.datetime.fromtimestamp(t0, z).date():%Y%m%d}-{last:%Y%m%d}"
    else:
        span = f"{dt.datetime.now(z).date():%Y%m%d}"
    name = f"sporing-{report}-{span}.csv"
    return Response(to_csv(rows, columns, tz).encode("utf-8"),
                    media_type="text/csv; charset=utf-8",
                    headers={"Content-Disposition": f'attachment; filename="{name}"'})


async def _answer(
    store: Store, report: str, out: type[Out], *, format: str, tz: str,
    params: Mapping[str, Any], rows: Callable[..., Any], columns: Sequence[str],
    window: Window | None = None, rollup: bool = False,
    csv_rows: Callable[[Sequence[Any]], Sequence[Row]] | None = None,
) -> Out | Response:
    """One report's answer: ``rows(**params)`` (query names mapped by ``_ARGS``) and the meta
    in one worker thread, then CSV (``csv_rows`` of the rows, default the rows themselves)
    or ``out`` with each row's JSON form.

    ``rows`` returns the rows, or a mapping of the response's lists (``{"rows": ...,
    "moves": ...}``). ``rollup``: the report reads the rollup, so the meta says how far it
    reaches (the worklists and rooms read current data: null).
    """

    def work() -> tuple[Mapping[str, Sequence[Any]], ReportMeta | None]:
        got = rows(**{_ARGS.get(k, k): v for k, v in params.items()})
        lists = got if isinstance(got, Mapping) else {"rows": got}
        meta = None if format == "csv" else _meta(store, report, tz, window, params,
                                                  rollup=rollup)
        return lists, meta

    lists, meta = await _run(work)
    if format == "csv":
        flat = csv_rows(lists["rows"]) if csv_rows is not None else lists["rows"]
        return _csv(report, flat, columns, tz, window)
    return out.model_validate({"meta": meta, **{k: [json_of(r, tz) for r in v]
                                                for k, v in lists.items()}})


# ---------------------------------------------------------------------------- time reports
@router.get("/utilization", response_model=UtilizationOut, responses=_CSV,
            summary="Utilization: time in each state and uses")
async def utilization_report(
    principal: BiomedDep, store: StoreDep, t_from: From = None, t_to: To = None,
    type: TypeQ = None, department: DeptQ = None,
    asset: Annotated[str | None, Query(max_length=200, description="Only this asset")] = None,
    by: Annotated[Literal["asset", "type", "department", "type_department"],
                  Query(description="Group rows by")] = "type",
    period: Annotated[Literal["day", "week", "month", "all"],
                      Query(description="Split the window into local periods")] = "all",
    format: FormatQ = "json", tz: TzQ = DEFAULT_TZ,
) -> Any:
    """Share of time in use, available, needing cleaning, in transit, not seen and out of
    service, with the number of uses and their mean duration, per asset, type or department
    and per day, week or month."""
    from tracker.reports.utilization import UtilizationRow, utilization

    t0, t1 = _window(t_from, t_to, tz)
    return await _answer(
        store, "utilization", UtilizationOut, format=format, tz=tz, window=(t0, t1),
        rollup=True, columns=UtilizationRow.COLUMNS,
        rows=functools.partial(utilization, store, t0, t1, tz=tz),
        params={"by": by, "period": period, "type": type, "department": department,
                "asset": asset})


@router.get("/fleet", response_model=FleetOut, responses=_CSV,
            summary="Fleet sizing: owned vs. concurrently in use")
async def fleet_report(
    principal: BiomedDep, store: StoreDep, t_from: From = None, t_to: To = None,
    type: TypeQ = None, department: DeptQ = None,
    shortage_min: Annotated[float, Query(ge=0, le=3600, description="Seconds with none "
                                         "available that make an hour a shortage")] = 600.0,
    format: FormatQ = "json", tz: TzQ = DEFAULT_TZ,
) -> Any:
    """Per type and owning department: units owned, peak and 95th percentile in use at once
    (by hour of day and weekday), shortage hours and a recommendation in English and
    Norwegian."""
    from tracker.reports.fleet import FleetRow, fleet

    t0, t1 = _window(t_from, t_to, tz)
    return await _answer(
        store, "fleet", FleetOut, format=format, tz=tz, window=(t0, t1), rollup=True,
        columns=FleetRow.COLUMNS, rows=functools.partial(fleet, store, t0, t1, tz=tz),
        params={"type": type, "department": department, "shortage_min": shortage_min})


@router.get("/rooms", response_model=RoomTimeOut, responses=_CSV,
            summary="Where a type spends its time (heat map)")
async def rooms_report(
    principal: BiomedDep, state: StateDep, store: StoreDep, t_from: From = None,
    t_to: To = None, type: TypeQ = None, department: DeptQ = None,
    level: Annotated[str | None, Query(max_length=100, description="Only rooms here")] = None,
    format: FormatQ = "json", tz: TzQ = DEFAULT_TZ,
) -> Any:
    """Hours per room of the group's stays in the window, most first, with each room's
    share of the group's time in any room."""
    from tracker.reports.rooms import RoomTimeRow, room_time

    t0, t1 = _window(t_from, t_to, tz)
    if level is not None and not state.site.has_level(level):
        raise invalid("query", "level", f"unknown level {level!r}", level)
    return await _answer(
        store, "rooms", RoomTimeOut, format=format, tz=tz, window=(t0, t1),
        columns=RoomTimeRow.COLUMNS, rows=functools.partial(room_time, store, state.site, t0, t1),
        params={"type": type, "department": department, "level": level})


# ---------------------------------------------------------------------------- worklists
@router.get("/idle", response_model=IdleOut, responses=_CSV, summary="Idle equipment")
async def idle_report(
    principal: BiomedDep, state: StateDep, store: StoreDep, type: TypeQ = None,
    department: DeptQ = None,
    days: Annotated[float, Query(ge=0, le=3650, description="Not moved for N days")] = 7.0,
    format: FormatQ = "json", tz: TzQ = DEFAULT_TZ,
) -> Any:
    """Assets that have not left their room for ``days`` days (and are still heard),
    longest first."""
    from tracker.reports.worklists import IdleRow, idle

    _zone(tz)
    return await _answer(
        store, "idle", IdleOut, format=format, tz=tz, columns=IdleRow.COLUMNS,
        rows=functools.partial(idle, store, state.site, state_map=state.states),
        params={"days": days, "type": type, "department": department})


@router.get("/missing", response_model=MissingOut, responses=_CSV, summary="Missing equipment")
async def missing_report(
    principal: BiomedDep, state: StateDep, store: StoreDep, type: TypeQ = None,
    department: DeptQ = None,
    hours: Annotated[float, Query(ge=0, le=87_600, description="Not seen for N hours")] = 24.0,
    format: FormatQ = "json", tz: TzQ = DEFAULT_TZ,
) -> Any:
    """Assets not seen for ``hours`` hours (never seen first), with the last known level and
    room."""
    from tracker.reports.worklists import MissingRow, missing

    _zone(tz)
    return await _answer(
        store, "missing", MissingOut, format=format, tz=tz, columns=MissingRow.COLUMNS,
        rows=functools.partial(missing, store, state.site),
        params={"hours": hours, "type": type, "department": department})


@router.get("/maintenance", response_model=MaintenanceOut, responses=_CSV,
            summary="Maintenance worklist as a walking route")
async def maintenance_report(
    principal: BiomedDep, state: StateDep, store: StoreDep, type: TypeQ = None,
    department: DeptQ = None,
    days: Annotated[int, Query(ge=0, le=3650, description="Due within N days")] = 14,
    start_room: Annotated[str | None, Query(max_length=100,
                                            description="Where the route starts")] = None,
    format: FormatQ = "json", tz: TzQ = DEFAULT_TZ,
) -> Any:
    """Assets due for maintenance within ``days`` days (overdue included) with where they
    are and whether they can be collected, in the order of a walking route."""
    from tracker.reports.worklists import MaintenanceRow, maintenance

    _zone(tz)
    graph = (await snapshots.wayfinder(state)).graph  # the lookup's graph, built once
    return await _answer(
        store, "maintenance", MaintenanceOut, format=format, tz=tz,
        columns=MaintenanceRow.COLUMNS,
        rows=functools.partial(maintenance, store, state.site, graph=graph,
                               state_map=state.states, tz=tz),
        params={"days": days, "type": type, "department": department,
                "start_room": start_room})


# ---------------------------------------------------------------------------- forecast
@router.get("/forecast", response_model=ForecastOut, responses=_CSV,
            summary="Needs forecast for 7 days, with redistribution suggestions")
async def forecast_report(
    principal: BiomedDep, state: StateDep, store: StoreDep, type: TypeQ = None,
    department: DeptQ = None,
    weeks: Annotated[int, Query(ge=1, le=52, description="Weeks of history")] = 8,
    quantile: Annotated[float, Query(gt=0, lt=1, description="Planning quantile")] = 0.9,
    format: FormatQ = "json", tz: TzQ = DEFAULT_TZ,
) -> Any:
    """Concurrent in-use demand per type and owning department for each hour of the next 7
    days (hour-of-week profile with exponential smoothing over past weeks, and a planning
    quantile), and moves from departments with a surplus to those heading for a shortage
    (every department is weighed; ``department`` keeps its rows and the moves into or out of
    it). The CSV has one line per group and hour."""
    from tracker.reports.forecast import ForecastRow, forecast_with_moves

    _zone(tz)

    def rows(**params: Any) -> dict[str, Any]:
        got, moves = forecast_with_moves(store, state.site, state_map=state.states, tz=tz,
                                         **params)
        return {"rows": got, "moves": moves}

    return await _answer(
        store, "forecast", ForecastOut, format=format, tz=tz, rollup=True,
        columns=ForecastRow.COLUMNS, rows=rows,
        csv_rows=lambda got: [rec for r in got for rec in r.records(tz)],
        params={"type": type, "department": department, "weeks": weeks,
                "quantile": quantile})


@router.get("/groups", response_model=GroupsOut, summary="Types and departments to filter by")
async def groups(principal: BiomedDep, store: StoreDep) -> GroupsOut:
    """The equipment types and owning departments of the registry (retired assets left out)."""

    def work() -> GroupsOut:
        rows = store.query("SELECT DISTINCT type, department FROM assets"
                           " WHERE status <> 'retired'")
        return GroupsOut(types=sorted({r[0] for r in rows if r[0]}),
                         departments=sorted({r[1] for r in rows if r[1]}))

    return await asyncio.to_thread(work)
