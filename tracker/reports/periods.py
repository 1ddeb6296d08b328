"""Local calendar periods (days, ISO weeks, months) as UTC epoch intervals.

Reports group time by the hospital's local calendar: a local day runs from one local midnight
to the next, so a day on which daylight saving time starts has 23 hours and one on which it
ends has 25 (Europe/Oslo: last Sundays of March and October). The rollup keeps UTC hours and
builds local days from them, which needs local midnights on whole UTC hours
(:func:`day_bounds` checks it). The reports' times are written by :func:`iso_local`, and
their hour-of-day, weekday and hour-of-week profiles come from :func:`hour_of_week`.
"""

from __future__ import annotations

import datetime as dt
import math
from collections.abc import Iterator
from functools import lru_cache
from typing import TYPE_CHECKING, Literal, overload
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

if TYPE_CHECKING:  # numpy is imported on first use: ``sporing --help`` imports this module
    import numpy as np
    import numpy.typing as npt

__all__ = [
    "DEFAULT_TZ",
    "HOUR_S",
    "PERIODS",
    "Period",
    "ceil_hour",
    "day_bounds",
    "days_between",
    "floor_hour",
    "hour_of_week",
    "iso_local",
    "local_date",
    "period_start",
    "periods",
    "zone",
]

#: Default site time zone.
DEFAULT_TZ = "Europe/Oslo"
HOUR_S = 3600.0

Period = Literal["day", "week", "month", "all"]
#: Period names a report can group by.
PERIODS: tuple[Period, ...] = ("day", "week", "month", "all")


@lru_cache(maxsize=16)
def zone(tz: str) -> ZoneInfo:
    """The time zone ``tz`` (an IANA name).

    Raises:
        ValueError: unknown time zone.
    """
    try:
        return ZoneInfo(tz)
    except (ZoneInfoNotFoundError, ValueError):
        raise ValueError(f"tz: unknown time zone {tz!r} (expected e.g. 'Europe/Oslo')") from None


def floor_hour(ts: float) -> float:
    """The UTC hour containing ``ts``."""
    return math.floor(ts / HOUR_S) * HOUR_S


def ceil_hour(ts: float) -> float:
    """The first UTC hour boundary at or after ``ts``."""
    return math.ceil(ts / HOUR_S) * HOUR_S


Timespec = Literal["minutes", "seconds"]


@overload
def iso_local(ts: float, tz: str, timespec: Timespec = "seconds") -> str: ...
@overload
def iso_local(ts: None, tz: str, timespec: Timespec = "seconds") -> None: ...
@overload
def iso_local(ts: float | None, tz: str, timespec: Timespec = "seconds") -> str | None: ...
def iso_local(ts: float | None, tz: str, timespec: Timespec = "seconds") -> str | None:
    """``ts`` (epoch seconds) as local ISO 8601 with the UTC offset, e.g.
    ``2025-11-26T08:00:00+01:00`` (``timespec="minutes"``: ``2025-11-26T08:00+01:00``);
    None stays None."""
    if ts is None:
        return None
    return dt.datetime.fromtimestamp(ts, zone(tz)).isoformat(timespec=timespec)


def hour_of_week(ts: npt.ArrayLike, tz: str) -> npt.NDArray[np.int64]:
    """Local hour of the week (Monday 00:00 = 0, Sunday 23:00 = 167) of each epoch second in
    ``ts``; ``how % 24`` is the local hour of day and ``how // 24`` the weekday (Monday 0)."""
    import numpy as np

    z = zone(tz)
    arr = np.atleast_1d(np.asarray(ts, dtype=np.float64))
    uniq, inverse = np.unique(arr, return_inverse=True)
    how = np.empty(len(uniq), dtype=np.int64)
    for i, t in enumerate(uniq.tolist()):
        local = dt.datetime.fromtimestamp(t, z)
        how[i] = local.weekday() * 24 + local.hour
    return how[inverse.reshape(-1)]


def local_date(ts: float, tz: str) -> dt.date:
    """The local calendar date at ``ts``."""
    return dt.datetime.fromtimestamp(ts, zone(tz)).date()


def _midnight(day: dt.date, tz: str) -> float:
    # Local midnight; where midnight is skipped by a DST jump, zoneinfo maps it forward.
    return dt.datetime(day.year, day.month, day.day, tzinfo=zone(tz)).timestamp()


def day_bounds(day: dt.date, tz: str) -> tuple[float, float]:
    """``(start, end)`` epoch seconds of local ``day`` (23, 24 or 25 hours).

    Raises:
        ValueError: the zone's midnight is not on a whole UTC hour (e.g. Asia/Kolkata), so
            local days cannot be built from UTC hours.
    """
    a, b = _midnight(day, tz), _midnight(day + dt.timedelta(days=1), tz)
    if a % HOUR_S or b % HOUR_S:
        raise ValueError(f"tz: {tz!r} has a UTC offset that is not a whole number of hours; "
                         "reports need local midnights on whole UTC hours")
    return a, b


def days_between(t0: float, t1: float, tz: str) -> Iterator[dt.date]:
    """The local dates of the days overlapping ``[t0, t1)``."""
    if t1 <= t0:
        return
    day, last = local_date(t0, tz), local_date(t1 - 1e-6, tz)
    while day <= last:
        yield day
        day += dt.timedelta(days=1)


def period_start(day: dt.date, period: Period) -> dt.date:
    """The first local date of the period containing ``day`` (weeks start on Monday)."""
    if period == "week":
        return day - dt.timedelta(days=day.weekday())
    if period == "month":
        return day.replace(day=1)
    return day


def _next_start(start: dt.date, period: Period) -> dt.date:
    if period == "week":
        return start + dt.timedelta(days=7)
    if period == "month":
        return (start.replace(day=28) + dt.timedelta(days=4)).replace(day=1)
    return start + dt.timedelta(days=1)


def periods(t0: float, t1: float, period: Period, tz: str
            ) -> Iterator[tuple[dt.date | None, float, float]]:
    """Split ``[t0, t1)`` at local period boundaries.

    Yields:
        ``(first local date of the period, start, end)`` of each part, clipped to the window;
        for ``"all"`` a single ``(None, t0, t1)``.
    """
    if t1 <= t0:
        return
    if period == "all":
        yield None, t0, t1
        return
    start = period_start(local_date(t0, tz), period)
    while True:
        nxt = _next_start(start, period)
        a, b = _midnight(start, tz), _midnight(nxt, tz)
        lo, hi = max(a, t0), min(b, t1)
        if hi > lo:
            yield start, lo, hi
        if b >= t1:
            return
        start = nxt
