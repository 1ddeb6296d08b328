"""Needs forecast: concurrent in-use demand per type and department for the next 7 days.

The demand of a group ``G`` (a type, owned by a department) in hour ``h`` is
``y_h = fleet_hours.in_use_max``: the most of ``G`` in use at once in that hour (from the
rollup, :mod:`tracker.reports.rollup`). Each local **hour of the week** ``s`` (Monday 00:00
is 0, Sunday 23:00 is 167) is forecast from the past weeks' values at ``s``, oldest first
``x_1 .. x_n``, by simple exponential smoothing with weight ``alpha``:

* ``L_1 = x_1``, ``L_i = alpha x_i + (1 - alpha) L_{i-1}``; the forecast is ``mean_s = L_n``;
* the one-step-ahead residuals ``r_i = x_i - L_{i-1}`` (``i >= 2``) of all 168 hours are
  pooled, and the planning level is ``plan_s = max(0, ceil(mean_s + Q_q(r)))`` with ``Q_q``
  the ``q``-quantile (default 0.9): "enough units for 9 hours out of 10". With fewer than
  ``MIN_RESIDUALS`` residuals, ``plan_s = ceil(max(x))`` over the weeks seen.

Hours the rollup does not cover are left out (not counted as zero demand). Demand is measured
by *owning* department, like the fleet report, so a department's measured demand cannot
exceed the units it owned: a department that ran out shows the cap, not its true need (the
shortage hours of the fleet report show where that happened).

**Redistribution** (:func:`suggest_moves`): a department ``D`` *holds* ``H_D`` usable units of
a type now (available or in use; see :func:`holdings`). Its need over the horizon is
``N_D = max_s plan_s``; it is *short* by ``N_D - H_D`` units from the first hour with
``plan_s > H_D``. A department with ``H_D > N_D`` has a surplus, of which at most its
currently *available* units can move. Shortages are served earliest first, each from the
departments with the largest movable surplus, giving sentences like "Move 3 infusion pumps
from Medisin 3A to Kirurgi 1A before 07:00 Monday."
"""

from __future__ import annotations

import datetime as dt
import math
import time
from collections import defaultdict
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import Any, ClassVar

import numpy as np
import numpy.typing as npt

from tracker.availability import AssetState, StateMap
from tracker.reports.fleet import type_names
from tracker.reports.periods import DEFAULT_TZ, HOUR_S, ceil_hour, hour_of_week, iso_local, zone
from tracker.reports.rollup import ALL_DEPARTMENTS, rollup_tz, rollup_window
from tracker.store.base import Store

__all__ = [
    "HORIZON_H",
    "MIN_RESIDUALS",
    "WEEK_H",
    "ForecastRow",
    "Holding",
    "Move",
    "forecast",
    "forecast_series",
    "forecast_with_moves",
    "holdings",
    "hour_of_week",
    "suggest_moves",
]

WEEK_H = 168
#: Hours forecast ahead (7 days).
HORIZON_H = 168
#: Fewest pooled residuals for the quantile; fewer fall back to the largest value seen.
MIN_RESIDUALS = 24

_WEEKDAYS_EN = ("Monday", "Tuesday", "Wednesday", "Thursday", "Friday", "Saturday", "Sunday")
_WEEKDAYS_NO = ("mandag", "tirsdag", "onsdag", "torsdag", "fredag", "lørdag", "søndag")


@dataclass(frozen=True, slots=True)
class SeriesForecast:
    """The forecast of one series over the horizon.

    Attributes:
        hours: Epoch second of each forecast hour (UTC hour starts).
        mean: Smoothed expected demand per hour.
        plan: Planning level per hour (the quantile, whole units).
        weeks: Distinct past weeks with data.
    """

    hours: npt.NDArray[np.float64]
    mean: npt.NDArray[np.float64]
    plan: npt.NDArray[np.int64]
    weeks: int


def forecast_series(
    hours: npt.ArrayLike,
    values: npt.ArrayLike,
    start: float,
    *,
    tz: str = DEFAULT_TZ,
    alpha: float = 0.5,
    quantile: float = 0.9,
    horizon_h: int = HORIZON_H,
) -> SeriesForecast:
    """Forecast one hourly series for ``horizon_h`` hours from ``start`` (see the module
    docstring).

    Args:
        hours: Epoch second of each observed hour (any order, before ``start``).
        values: Demand in each hour.
        start: First forecast hour (epoch seconds, a whole UTC hour).
        tz: Time zone of the hour of the week.
        alpha: Smoothing weight of the newest week, in (0, 1].
        quantile: Planning quantile, in (0, 1).
        horizon_h: Hours to forecast.

    Raises:
        ValueError: bad ``alpha``, ``quantile`` or ``horizon_h``, or ``hours`` and
            ``values`` of different lengths (the message names the argument).
    """
    if not 0.0 < alpha <= 1.0:
        raise ValueError(f"alpha: must be in (0, 1], got {alpha!r}")
    if not 0.0 < quantile < 1.0:
        raise ValueError(f"quantile: must be in (0, 1), got {quantile!r}")
    if horizon_h < 1:
        raise ValueError(f"horizon_h: must be >= 1, got {horizon_h!r}")
    h = np.ascontiguousarray(hours, dtype=np.float64).reshape(-1)
    y = np.ascontiguousarray(values, dtype=np.float64).reshape(-1)
    if h.shape != y.shape:
        raise ValueError(f"values: {y.size} values for {h.size} hours")
    keep = h < start
    h, y = h[keep], y[keep]
    order = np.argsort(h, kind="stable")
    h, y = h[order], y[order]
    out_hours = start + HOUR_S * np.arange(horizon_h, dtype=np.float64)
    level = np.full(WEEK_H, np.nan)
    top = np.full(WEEK_H, np.nan)
    residuals: list[float] = []
    for s, x in zip(hour_of_week(h, tz).tolist() if h.size else [], y.tolist(), strict=True):
        if math.isnan(level[s]):
            level[s] = x
        else:
            residuals.append(x - level[s])
            level[s] = alpha * x + (1.0 - alpha) * level[s]
        top[s] = x if math.isnan(top[s]) else max(top[s], x)
    weeks = len(np.unique(np.floor((start - h - 1e-9) / (WEEK_H * HOUR_S)))) if h.size else 0
    # A slot never observed (a new group, a gap in the rollup) falls back to the mean of all.
    fill = float(np.nanmean(level)) if np.isfinite(level).any() else 0.0
    level = np.where(np.isnan(level), fill, level)
    top = np.where(np.isnan(top), np.nanmax(top) if np.isfinite(top).any() else 0.0, top)
    slots = hour_of_week(out_hours, tz)
    mean = level[slots]
    if len(residuals) >= MIN_RESIDUALS:
        margin = float(np.quantile(np.asarray(residuals), quantile, method="inverted_cdf"))
        plan = np.ceil(np.maximum(0.0, mean + margin) - 1e-9)
    else:
        plan = np.ceil(top[slots] - 1e-9)
    return SeriesForecast(out_hours, mean, plan.astype(np.int64), weeks)


# ---------------------------------------------------------------------------- report rows
@dataclass(frozen=True, slots=True)
class ForecastRow:
    """The 7-day forecast of one type owned by one department (None: all departments).

    Attributes:
        weeks: Past weeks the forecast learnt from.
        hours, mean, plan: Per forecast hour (see :class:`SeriesForecast`).
        peak_plan: ``max(plan)``; peak_at: the first hour reaching it.
    """

    COLUMNS: ClassVar[tuple[str, ...]] = ("type", "department", "hour", "mean", "plan")

    type: str
    department: str | None
    weeks: int
    hours: tuple[float, ...]
    mean: tuple[float, ...]
    plan: tuple[int, ...]

    @property
    def peak_plan(self) -> int:
        """Most units needed in any forecast hour."""
        return max(self.plan, default=0)

    @property
    def peak_at(self) -> float | None:
        """The first hour needing :attr:`peak_plan` units."""
        return self.hours[self.plan.index(self.peak_plan)] if self.plan else None

    def to_record(self, tz: str = DEFAULT_TZ) -> dict[str, Any]:
        """Peak summary as a flat record (the CSV uses :meth:`records`, one row per hour)."""
        return {"type": self.type, "department": self.department, "weeks": self.weeks,
                "peak_plan": self.peak_plan,
                "peak_at": iso_local(self.peak_at, tz, "minutes")}

    def records(self, tz: str = DEFAULT_TZ) -> list[dict[str, Any]]:
        """One flat record per forecast hour (``COLUMNS``): the CSV lines."""
        return [{"type": self.type, "department": self.department,
                 "hour": iso_local(h, tz, "minutes"), "mean": round(m, 2), "plan": p}
                for h, m, p in zip(self.hours, self.mean, self.plan, strict=True)]

    def to_json(self, tz: str = DEFAULT_TZ) -> dict[str, Any]:
        """Nested record for JSON: the peak and the hourly series as parallel lists."""
        return {"type": self.type, "department": self.department, "weeks": self.weeks,
                "peak_plan": self.peak_plan, "peak_at": iso_local(self.peak_at, tz),
                "hours": [iso_local(h, tz) for h in self.hours], "mean": list(self.mean),
                "plan": list(self.plan)}


def forecast(
    store: Store,
    *,
    type: str | None = None,
    department: str | None = None,
    weeks: int = 8,
    alpha: float = 0.5,
    quantile: float = 0.9,
    tz: str | None = None,
    now: float | None = None,
) -> list[ForecastRow]:
    """Forecast each (type, owning department) group for the 7 days from the next hour.

    Args:
        store: A store whose rollup covers the past ``weeks`` weeks.
        type, department: Only these groups (department None: every department, and each
            type over all departments). Rows of one department are not enough for
            :func:`suggest_moves`; :func:`forecast_with_moves` filters after suggesting.
        weeks: Weeks of history to learn from (1-52).
        alpha, quantile: See :func:`forecast_series`.
        tz: Time zone of the hour of the week (default: the rollup's; see
            :func:`~tracker.reports.rollup.rollup_window`).
        now: The current time (default: the clock).

    Returns:
        Rows ordered by type, the all-department row first, then departments.

    Raises:
        ValueError: a bad argument (the message names it).
    """
    if not 1 <= weeks <= 52:
        raise ValueError(f"weeks: must be 1-52, got {weeks!r}")
    now = time.time() if now is None else now
    start = ceil_hour(now)
    w = rollup_window(store, start - weeks * WEEK_H * HOUR_S, start, tz=tz, now=now)
    d = store.dialect
    params: list[Any] = [d.to_db(w.lo), d.to_db(start)]
    where = d.equal_filters((("type", type), ("department", department)), params)
    rows = store.query(
        f"SELECT type, department, {d.us.format('hour')}, in_use_max FROM fleet_hours"
        f" WHERE hour >= {d.param} AND hour < {d.param}{where} ORDER BY type, department, hour",
        params)
    series: dict[tuple[str, str], tuple[list[float], list[float]]] = defaultdict(
        lambda: ([], []))
    for typ, dept, us, top in rows:
        hs, ys = series[(typ, dept)]
        hs.append(int(us) / 1e6)
        ys.append(float(top))
    out: list[ForecastRow] = []
    for (typ, dept), (hs, ys) in series.items():
        f = forecast_series(hs, ys, start, tz=w.tz, alpha=alpha, quantile=quantile)
        # Plain floats (not numpy scalars), so the rows serialise as JSON.
        out.append(ForecastRow(typ, None if dept == ALL_DEPARTMENTS else dept, f.weeks,
                               tuple(f.hours.tolist()), tuple(np.round(f.mean, 3).tolist()),
                               tuple(int(p) for p in f.plan)))
    out.sort(key=lambda r: (r.type, r.department is not None, r.department or ""))
    return out


def forecast_with_moves(
    store: Store,
    site: Any,
    *,
    type: str | None = None,
    department: str | None = None,
    weeks: int = 8,
    alpha: float = 0.5,
    quantile: float = 0.9,
    tz: str | None = None,
    state_map: StateMap | None = None,
    now: float | None = None,
) -> tuple[list[ForecastRow], list[Move]]:
    """The forecast and the suggested moves, as the command line and the API report them.

    Every department of the type is forecast and weighed, whatever ``department`` says: a
    department that is not forecast would look like one with no demand, and all its
    available units would be offered. Then ``department`` keeps its own rows and the moves
    into or out of it.

    Args:
        store: A store whose rollup covers the past ``weeks`` weeks.
        site: The floor plan (room categories of the current locations, :func:`holdings`).
        type, department: Only these rows and moves.
        weeks, alpha, quantile, tz, now: See :func:`forecast`.
        state_map: Room category -> state (default :class:`StateMap`).

    Returns:
        ``(rows, moves)``, ordered as by :func:`forecast` and :func:`suggest_moves`.

    Raises:
        ValueError: a bad argument (the message names it).
    """
    tz = rollup_tz(store, tz)  # the zone forecast() defaults to, for the moves' sentences too
    rows = forecast(store, type=type, weeks=weeks, alpha=alpha, quantile=quantile, tz=tz,
                    now=now)
    moves = suggest_moves(rows, holdings(store, site, state_map=state_map, now=now), tz=tz)
    if department is not None:
        rows = [r for r in rows if r.department == department]
        moves = [m for m in moves if department in (m.from_department, m.to_department)]
    return rows, moves


# ---------------------------------------------------------------------------- redistribution
@dataclass(frozen=True, slots=True)
class Holding:
    """Usable units of a type a department holds now: ``available`` + ``in_use``."""

    available: int
    in_use: int

    @property
    def usable(self) -> int:
        """Units that can serve demand."""
        return self.available + self.in_use


def holdings(store: Store, site: Any, *, state_map: StateMap | None = None,
             now: float | None = None) -> dict[tuple[str, str], Holding]:
    """Per (type, owning department): units available and in use now, from the latest fix
    of each registry asset (see :class:`tracker.availability.StateMap`)."""
    now = time.time() if now is None else now
    sm = state_map or StateMap()
    d = store.dialect
    seen: dict[str, tuple[float, str | None, bool]] = {}
    for asset, us, room, moving in store.query(
            f"SELECT asset, {d.us.format('time')}, room, moving FROM current_location"
            " WHERE asset IS NOT NULL"):
        ts = int(us) / 1e6
        if asset not in seen or ts > seen[asset][0]:
            seen[asset] = (ts, room, bool(moving))
    acc: dict[tuple[str, str], list[int]] = defaultdict(lambda: [0, 0])
    for aid, typ, dept, status in store.query(
            "SELECT id, type, department, status FROM assets WHERE status <> 'retired'"):
        last = seen.get(aid)
        room = last[1] if last else None
        cat = site.room(room).category if room is not None and site.has_room(room) else None
        state = sm.state(category=cat, status=status, moving=last[2] if last else False,
                         age_s=None if last is None else now - last[0])
        key = (typ or "", dept or "")
        if state is AssetState.AVAILABLE:
            acc[key][0] += 1
        elif state is AssetState.IN_USE:
            acc[key][1] += 1
        else:
            acc.setdefault(key, [0, 0])
    return {k: Holding(v[0], v[1]) for k, v in acc.items()}


@dataclass(frozen=True, slots=True)
class Move:
    """A suggested move of ``units`` of ``type`` before ``before`` (epoch seconds)."""

    COLUMNS: ClassVar[tuple[str, ...]] = (
        "type", "units", "from_department", "to_department", "before", "need", "holds",
        "text_en", "text_no")

    type: str
    units: int
    from_department: str
    to_department: str
    before: float
    need: int
    holds: int
    text_en: str
    text_no: str

    def to_record(self, tz: str = DEFAULT_TZ) -> dict[str, Any]:
        """Flat record for CSV/JSON."""
        return {"type": self.type, "units": self.units, "from_department": self.from_department,
                "to_department": self.to_department,
                "before": iso_local(self.before, tz, "minutes"), "need": self.need,
                "holds": self.holds, "text_en": self.text_en, "text_no": self.text_no}

    def to_json(self, tz: str = DEFAULT_TZ) -> dict[str, Any]:
        """Nested record for JSON (the sentences as ``text``, keys ``en`` and ``no``)."""
        return {"type": self.type, "units": self.units, "from_department": self.from_department,
                "to_department": self.to_department, "before": iso_local(self.before, tz),
                "need": self.need, "holds": self.holds,
                "text": {"en": self.text_en, "no": self.text_no}}


def move_text(type_: str, units: int, src: str, dst: str, before: float, tz: str
              ) -> tuple[str, str]:
    """The English and Norwegian (bokmål) sentences of one move."""
    en1, en_n, no1, no_n = type_names(type_)
    t = dt.datetime.fromtimestamp(before, zone(tz))
    wd = t.weekday()
    en = (f"Move {units} {en1 if units == 1 else en_n} from {src} to {dst} before"
          f" {t:%H:%M} {_WEEKDAYS_EN[wd]}.")
    no = (f"Flytt {units} {no1 if units == 1 else no_n} fra {src} til {dst} før"
          f" kl. {t:%H:%M} {_WEEKDAYS_NO[wd]}.")
    return en, no


def suggest_moves(rows: Sequence[ForecastRow], held: Mapping[tuple[str, str], Holding],
                  *, tz: str = DEFAULT_TZ) -> list[Move]:
    """Moves from departments with a surplus to those that will run short (see the module
    docstring), ordered by deadline then type.

    ``rows`` must hold every department of each type (not a forecast filtered by
    department): a holder without a row is taken to have no demand at all, so all its
    available units are offered. :func:`forecast_with_moves` forecasts them all.
    """
    by_type: dict[str, list[ForecastRow]] = defaultdict(list)
    for r in rows:
        if r.department is not None and r.department != "":
            by_type[r.type].append(r)
    moves: list[Move] = []
    for typ, group in sorted(by_type.items()):
        short: list[tuple[float, str, int, int]] = []
        spare: dict[str, int] = {}
        for r in group:
            h = held.get((typ, r.department or ""), Holding(0, 0))
            need = r.peak_plan
            if need > h.usable:
                first = next(t for t, p in zip(r.hours, r.plan, strict=True) if p > h.usable)
                short.append((first, r.department or "", need, h.usable))
            elif h.usable > need and h.available > 0:
                spare[r.department or ""] = min(h.usable - need, h.available)
        for (typ_, dept), h in held.items():  # holders with no demand history at all
            if typ_ == typ and dept and dept not in spare and \
                    all(r.department != dept for r in group) and h.available > 0:
                spare[dept] = h.available
        for first, dept, need, holds in sorted(short):
            missing = need - holds
            while missing > 0 and spare:
                src = max(sorted(spare), key=lambda k: spare[k])
                n = min(missing, spare[src])
                en, no = move_text(typ, n, src, dept, first, tz)
                moves.append(Move(typ, n, src, dept, first, need, holds, en, no))
                missing -= n
                spare[src] -= n
                if spare[src] == 0:
                    del spare[src]
    moves.sort(key=lambda m: (m.before, m.type, m.to_department, m.from_department))
    return moves
