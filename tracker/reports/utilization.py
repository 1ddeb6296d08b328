"""Utilization: share of time in each state, and uses, per asset, type or department and period.

For a group ``G`` (one asset, or all assets of a type and/or department) and a period ``P``
(a local day, ISO week, month, or the whole window), from the rollup
(:mod:`tracker.reports.rollup`):

* ``seconds_s = sum over a in G, hours h in P of seconds(h, a, s)`` per state ``s``;
* ``seconds = sum_s seconds_s`` (asset-seconds observed: the number of assets times the
  elapsed time of ``P``, when the rollup covers ``P``);
* ``pct_s = 100 * seconds_s / seconds``, e.g. a pump in a patient room 6 of 24 hours is
  25 % in use;
* ``uses`` = uses that started in ``P``; ``mean_use_s = in_use_s / uses`` (a use running over
  the edge of ``P`` counts where it started, its seconds where they fall).

Whole local days are read from ``asset_state_days`` and the ragged edges of the window from
``asset_state_hours``, so a month of 15,000 assets reads 450,000 day rows, not raw
stays. The window is widened to whole UTC hours.
"""

from __future__ import annotations

import bisect
import datetime as dt
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any, ClassVar, Literal

from tracker.availability import AssetState
from tracker.reports.periods import DEFAULT_TZ, Period, day_bounds, local_date, periods
from tracker.reports.rollup import DAY_COLUMNS, rollup_window
from tracker.store.base import Store

__all__ = ["GROUPINGS", "Grouping", "UtilizationRow", "utilization"]

Grouping = Literal["asset", "type", "department", "type_department"]
#: How a utilization report can group assets.
GROUPINGS: tuple[Grouping, ...] = ("asset", "type", "department", "type_department")

_KEYS: dict[Grouping, tuple[str, ...]] = {
    "asset": ("asset", "type", "department"),
    "type": ("type",),
    "department": ("department",),
    "type_department": ("type", "department"),
}
_STATES = tuple(AssetState)

Key = tuple[str, ...]


@dataclass(frozen=True, slots=True)
class UtilizationRow:
    """One group in one period.

    Attributes:
        period: ``day``, ``week``, ``month`` or ``all``.
        period_start: First local date of the period (None for ``all``).
        asset, type, department: The group (None where not grouped by it; ``""`` for an
            asset without a type or department).
        seconds: Asset-seconds observed in the period.
        state_seconds: Seconds per :class:`AssetState` value (every state present).
        uses: Uses started in the period.
    """

    COLUMNS: ClassVar[tuple[str, ...]] = (
        "period", "period_start", "asset", "type", "department", "hours",
        *(f"pct_{s.value}" for s in AssetState), *(f"hours_{s.value}" for s in AssetState),
        "uses", "mean_use_min")

    period: Period
    period_start: dt.date | None
    asset: str | None
    type: str | None
    department: str | None
    seconds: float
    state_seconds: dict[str, float]
    uses: int

    def pct(self, state: AssetState | str) -> float:
        """Percentage of the observed time in ``state`` (0 when nothing was observed)."""
        s = self.state_seconds.get(str(state), 0.0)
        return 100.0 * s / self.seconds if self.seconds > 0 else 0.0

    @property
    def mean_use_s(self) -> float | None:
        """Mean use duration: in-use seconds per use started (None without uses)."""
        return self.state_seconds[AssetState.IN_USE] / self.uses if self.uses else None

    def to_record(self, tz: str = DEFAULT_TZ) -> dict[str, Any]:
        """Flat record for CSV (``COLUMNS``; percentages rounded to 0.01; ``tz`` unused:
        periods are local dates already)."""
        j = self.to_json(tz)
        pct, hours = j.pop("pct"), j.pop("hours_by_state")
        uses, mean = j.pop("uses"), j.pop("mean_use_min")
        return {**j, **{f"pct_{k}": v for k, v in pct.items()},
                **{f"hours_{k}": v for k, v in hours.items()},
                "uses": uses, "mean_use_min": mean}

    def to_json(self, tz: str = DEFAULT_TZ) -> dict[str, Any]:
        """Nested record for JSON: :meth:`to_record` with the percentages and hours per state
        as ``pct`` and ``hours_by_state`` mappings keyed by state."""
        del tz
        m = self.mean_use_s
        return {
            "period": self.period,
            "period_start": self.period_start.isoformat() if self.period_start else None,
            "asset": self.asset, "type": self.type, "department": self.department,
            "hours": round(self.seconds / 3600.0, 3),
            "pct": {s.value: round(self.pct(s), 2) for s in _STATES},
            "hours_by_state": {s.value: round(self.state_seconds[s.value] / 3600.0, 3)
                               for s in _STATES},
            "uses": self.uses, "mean_use_min": None if m is None else round(m / 60.0, 1),
        }


def utilization(
    store: Store,
    t0: float,
    t1: float,
    *,
    by: Grouping = "type",
    period: Period = "all",
    type: str | None = None,
    department: str | None = None,
    asset: str | None = None,
    tz: str | None = None,
    now: float | None = None,
) -> list[UtilizationRow]:
    """The utilization report over ``[t0, t1)`` (see the module docstring).

    Args:
        store: A store whose rollup covers the window (:func:`~tracker.reports.rollup.\
refresh_rollup`).
        t0, t1: Window, epoch seconds (widened to whole hours, cut at ``now``).
        by: Grouping.
        period: Period to split the window into (local calendar of ``tz``).
        type, department, asset: Only these assets.
        tz: Time zone of the periods: the one the rollup's local days were built in (the
            default; another is refused, see :func:`~tracker.reports.rollup.rollup_window`).
        now: The current time (default: the clock).

    Returns:
        Rows ordered by period, then group.

    Raises:
        ValueError: bad window, grouping, period or time zone (the message names the field).
    """
    if by not in _KEYS:
        raise ValueError(f"by: {by!r} is not one of {', '.join(GROUPINGS)}")
    if period not in ("day", "week", "month", "all"):
        raise ValueError(f"period: {period!r} is not one of day, week, month, all")
    w = rollup_window(store, t0, t1, tz=tz, now=now, local_days=True)
    tz, lo, hi = w.tz, w.lo, w.hi
    parts = list(periods(lo, hi, period, tz))
    starts = [p0 for _, p0, _ in parts]
    filters = (("type", type), ("department", department), ("asset", asset))
    acc: dict[tuple[int, Key], list[float]] = {}
    meta: dict[str, tuple[str, str]] = {}
    for table, a, b in _split(lo, hi, tz):
        if table == "asset_state_days":
            _add_days(store, acc, meta, a, b, starts, by, filters)
        else:  # a part of one local day, so inside one period
            _add_hours(store, acc, meta, a, b, bisect.bisect_right(starts, a) - 1, by,
                       filters)
    out: list[UtilizationRow] = []
    for (p, key) in sorted(acc):
        v = acc[(p, key)]
        secs = {s.value: v[i] for i, s in enumerate(_STATES)}
        if by == "asset":
            fields: dict[str, str] = {"asset": key[0], "type": meta[key[0]][0],
                                      "department": meta[key[0]][1]}
        else:
            fields = dict(zip(_KEYS[by], key, strict=True))
        out.append(UtilizationRow(
            period=period, period_start=parts[p][0], asset=fields.get("asset"),
            type=fields.get("type"), department=fields.get("department"),
            seconds=sum(secs.values()), state_seconds=secs, uses=int(v[-1])))
    return out


def _split(t0: float, t1: float, tz: str) -> list[tuple[str, float, float]]:
    """``[t0, t1)`` (whole hours) as whole local days plus ragged edges of hours."""
    parts: list[tuple[str, float, float]] = []
    day = local_date(t0, tz)
    start, end = day_bounds(day, tz)
    if start < t0:  # t0 is inside a day: its hours up to the next midnight come from hours
        parts.append(("asset_state_hours", t0, min(end, t1)))
        day += dt.timedelta(days=1)
        start, end = day_bounds(day, tz)
    first = start
    while end <= t1:
        day += dt.timedelta(days=1)
        start, end = day_bounds(day, tz)
    if start > first:
        parts.append(("asset_state_days", first, start))
    if t0 <= start < t1:
        parts.append(("asset_state_hours", start, t1))
    return parts


def _group(by: Grouping) -> tuple[str, str, int]:
    """(select list, group-by list, number of key columns) for a grouping."""
    if by == "asset":
        return "asset, max(type), max(department)", "asset", 1
    cols = ", ".join(_KEYS[by])
    return cols, cols, len(_KEYS[by])


def _period_expr(store: Store, col: str, starts: Sequence[float], a: float, b: float,
                 params: list[Any]) -> str:
    """SQL numbering the period of ``col`` (a day start) among ``starts`` within [a, b)."""
    inner = [s for s in starts if a < s < b]
    if not inner:
        return str(bisect.bisect_right(starts, a) - 1)
    first = bisect.bisect_right(starts, a) - 1
    d = store.dialect
    whens = []
    for i, s in enumerate(inner):
        whens.append(f"WHEN {col} < {d.param} THEN {first + i}")
        params.append(d.to_db(s))
    return f"CASE {' '.join(whens)} ELSE {first + len(inner)} END"


def _add_days(store: Store, acc: dict[tuple[int, Key], list[float]],
              meta: dict[str, tuple[str, str]], a: float, b: float, starts: Sequence[float],
              by: Grouping, filters: Sequence[tuple[str, str | None]]) -> None:
    d = store.dialect
    select, group, n = _group(by)
    params: list[Any] = []
    pexpr = _period_expr(store, "day", starts, a, b, params)
    params += [d.to_db(a), d.to_db(b)]
    where = d.equal_filters(filters, params)
    sums = ", ".join(f"sum({c})" for c in DAY_COLUMNS.split(", "))
    q = (f"SELECT {pexpr} AS p, {select}, {sums}, sum(uses) FROM asset_state_days"
         f" WHERE day >= {d.param} AND day < {d.param}{where} GROUP BY 1, {group}")
    width = len(_STATES) + 1
    for r in store.query(q, params):
        key = tuple(r[1:1 + n])
        if by == "asset":
            meta[r[1]] = (r[2], r[3])
        off = 1 + (3 if by == "asset" else n)
        v = acc.setdefault((int(r[0]), key), [0.0] * width)
        for i in range(width):
            v[i] += float(r[off + i])


def _add_hours(store: Store, acc: dict[tuple[int, Key], list[float]],
               meta: dict[str, tuple[str, str]], a: float, b: float, p: int, by: Grouping,
               filters: Sequence[tuple[str, str | None]]) -> None:
    d = store.dialect
    select, group, n = _group(by)
    params: list[Any] = [d.to_db(a), d.to_db(b)]
    where = d.equal_filters(filters, params)
    q = (f"SELECT {select}, state, sum(seconds), sum(uses) FROM asset_state_hours"
         f" WHERE hour >= {d.param} AND hour < {d.param}{where} GROUP BY {group}, state")
    width = len(_STATES) + 1
    index = {s.value: i for i, s in enumerate(_STATES)}
    off = 3 if by == "asset" else n
    for r in store.query(q, params):
        key = tuple(r[:n])
        if by == "asset":
            meta[r[0]] = (r[1], r[2])
        v = acc.setdefault((p, key), [0.0] * width)
        v[index[r[off]]] += float(r[off + 1])
        v[-1] += float(r[off + 2])
