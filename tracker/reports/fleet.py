"""Fleet sizing: owned vs. concurrently in use, per type and owning department.

From ``fleet_hours`` (:mod:`tracker.reports.rollup`), for a group (type, department) over the
hours ``H`` of the window, with ``u_h`` the most assets of the group in use at once in hour
``h``:

* ``owned`` = the group's assets (the registry's, not retired; the largest count in ``H``);
* ``peak = max_h u_h``; ``p95`` = the nearest-rank 95th percentile of ``u_h``: the smallest
  ``x`` with ``u_h <= x`` in at least 95 % of the hours (so "at most ``p95`` in use at once in
  95 % of hours");
* ``spare = max(0, owned - p95)``: units that could be redeployed;
* per local hour of day (0-23) and weekday (Monday = 0): ``peak`` and ``p95`` over the hours
  falling there;
* a **shortage hour** is an hour in which none of the group was available (in a clean utility
  or equipment storage room) for at least ``shortage_min_s`` seconds in total.

The recommendation is a sentence in English and in Norwegian (bokmål).
"""

from __future__ import annotations

import itertools
import math
from dataclasses import dataclass
from typing import Any, ClassVar

import numpy as np
import numpy.typing as npt

from tracker.reports.periods import DEFAULT_TZ, hour_of_week, iso_local
from tracker.reports.rollup import ALL_DEPARTMENTS, rollup_window
from tracker.store.base import Store

__all__ = ["FleetRow", "fleet", "percentile_nearest_rank", "recommendation", "type_names"]

_WEEKDAYS = ("mon", "tue", "wed", "thu", "fri", "sat", "sun")

#: Type id -> (English singular, plural, Norwegian singular, plural).
_NAMES: dict[str, tuple[str, str, str, str]] = {
    "infusion-pump": ("infusion pump", "infusion pumps", "infusjonspumpe", "infusjonspumper"),
    "patient-monitor": ("patient monitor", "patient monitors", "pasientmonitor",
                        "pasientmonitorer"),
    "bed": ("bed", "beds", "seng", "senger"),
    "wheelchair": ("wheelchair", "wheelchairs", "rullestol", "rullestoler"),
    "ventilator": ("ventilator", "ventilators", "respirator", "respiratorer"),
    "ultrasound": ("ultrasound scanner", "ultrasound scanners", "ultralydapparat",
                   "ultralydapparater"),
    "ecg": ("ECG machine", "ECG machines", "EKG-apparat", "EKG-apparater"),
    "defibrillator": ("defibrillator", "defibrillators", "hjertestarter", "hjertestartere"),
    "feeding-pump": ("feeding pump", "feeding pumps", "ernæringspumpe", "ernæringspumper"),
    "suction-pump": ("suction pump", "suction pumps", "sugepumpe", "sugepumper"),
}


@dataclass(frozen=True, slots=True)
class FleetRow:
    """Fleet sizing of one type in one department (``department`` None: all departments).

    Attributes:
        type, department: The group (``""``: assets without a type/department).
        owned: Assets of the group.
        hours: Hours of the window the rollup covers.
        peak, p95: Most in use at once (see the module docstring).
        mean_in_use: Average number in use (in-use seconds / elapsed seconds).
        spare: ``max(0, owned - p95)``.
        peak_by_hour, p95_by_hour: Per local hour of day, 24 values.
        peak_by_weekday, p95_by_weekday: Per weekday from Monday, 7 values.
        shortages: Start (epoch seconds) of each shortage hour.
        recommendation_en, recommendation_no: The plain-language recommendation.
    """

    COLUMNS: ClassVar[tuple[str, ...]] = (
        "type", "department", "owned", "hours", "peak", "p95", "mean_in_use", "spare",
        "shortage_hours", "recommendation_en", "recommendation_no",
        *(f"peak_h{h:02d}" for h in range(24)), *(f"p95_h{h:02d}" for h in range(24)),
        *(f"peak_{w}" for w in _WEEKDAYS), *(f"p95_{w}" for w in _WEEKDAYS),
        "shortages")

    type: str
    department: str | None
    owned: int
    hours: int
    peak: int
    p95: int
    mean_in_use: float
    spare: int
    peak_by_hour: tuple[int, ...]
    p95_by_hour: tuple[int, ...]
    peak_by_weekday: tuple[int, ...]
    p95_by_weekday: tuple[int, ...]
    shortages: tuple[float, ...]
    recommendation_en: str
    recommendation_no: str

    def to_record(self, tz: str = DEFAULT_TZ) -> dict[str, Any]:
        """Flat record for CSV (profiles as one column per hour/weekday, shortages as local
        ISO hours separated by spaces)."""
        rec: dict[str, Any] = {
            "type": self.type, "department": self.department, "owned": self.owned,
            "hours": self.hours, "peak": self.peak, "p95": self.p95,
            "mean_in_use": round(self.mean_in_use, 2), "spare": self.spare,
            "shortage_hours": len(self.shortages),
            "recommendation_en": self.recommendation_en,
            "recommendation_no": self.recommendation_no,
        }
        for h in range(24):
            rec[f"peak_h{h:02d}"] = self.peak_by_hour[h]
        for h in range(24):
            rec[f"p95_h{h:02d}"] = self.p95_by_hour[h]
        for i, w in enumerate(_WEEKDAYS):
            rec[f"peak_{w}"] = self.peak_by_weekday[i]
        for i, w in enumerate(_WEEKDAYS):
            rec[f"p95_{w}"] = self.p95_by_weekday[i]
        rec["shortages"] = " ".join(iso_local(t, tz, "minutes") for t in self.shortages)
        return rec

    def to_json(self, tz: str = DEFAULT_TZ) -> dict[str, Any]:
        """Nested record for JSON."""
        return {
            "type": self.type, "department": self.department, "owned": self.owned,
            "hours": self.hours, "peak": self.peak, "p95": self.p95,
            "mean_in_use": round(self.mean_in_use, 3), "spare": self.spare,
            "by_hour": {"peak": list(self.peak_by_hour), "p95": list(self.p95_by_hour)},
            "by_weekday": {"peak": list(self.peak_by_weekday),
                           "p95": list(self.p95_by_weekday)},
            "shortages": [iso_local(t, tz, "minutes") for t in self.shortages],
            "recommendation": {"en": self.recommendation_en, "no": self.recommendation_no},
        }


def percentile_nearest_rank(values: npt.ArrayLike, q: float) -> int:
    """The smallest value ``x`` of ``values`` with at least ``q`` % of them ``<= x``
    (0 for no values): the ``p95`` of the report."""
    arr = np.asarray(values)
    if arr.size == 0:
        return 0
    k = max(1, math.ceil(q / 100.0 * arr.size))
    return int(np.partition(arr, k - 1)[k - 1])


def type_names(type_: str) -> tuple[str, str, str, str]:
    """How a type is named in a sentence: (English singular, plural, bokmål singular, plural),
    e.g. ``("infusion pump", "infusion pumps", "infusjonspumpe", "infusjonspumper")``."""
    known = _NAMES.get(type_)
    if known is not None:
        return known
    label = type_.replace("-", " ").replace("_", " ") or "untyped asset"
    return (f"{label} unit", f"{label} units", f"{label}-enhet", f"{label}-enheter")


def recommendation(type_: str, department: str | None, owned: int, p95: int, peak: int,
                   shortage_hours: int) -> tuple[str, str]:
    """The English and Norwegian sentences for one fleet row."""
    en1, en_n, no1, no_n = type_names(type_)
    en_name, no_name = (en1, no1) if owned == 1 else (en_n, no_n)
    where_en = f"in {department}" if department else "in all departments"
    where_no = f"i {department}" if department else "i alle avdelinger"
    if department == "":
        where_en, where_no = "without a department", "uten avdeling"
    en = (f"{owned} {en_name} owned {where_en}; at most {p95} in use at once in 95 % of"
          f" hours (peak {peak})")
    no = (f"{owned} {no_name} eid {where_no}; høyst {p95} i bruk samtidig i 95 % av timene"
          f" (topp {peak})")
    spare = owned - p95
    if spare > 0:
        en += f": about {spare} could be redeployed"
        no += f": omtrent {spare} kan omdisponeres"
    else:
        en += ": none to spare"
        no += ": ingen til overs"
    if shortage_hours:
        en += (f"; none available in {shortage_hours} hour{'s' if shortage_hours != 1 else ''},"
               " consider more units or redistribution")
        no += (f"; ingen ledige i {shortage_hours} {'timer' if shortage_hours != 1 else 'time'},"
               " vurder flere enheter eller omfordeling")
    return en + ".", no + "."


def fleet(
    store: Store,
    t0: float,
    t1: float,
    *,
    type: str | None = None,
    department: str | None = None,
    by_department: bool = True,
    shortage_min_s: float = 600.0,
    tz: str | None = None,
    now: float | None = None,
) -> list[FleetRow]:
    """The fleet sizing report over ``[t0, t1)`` (widened to whole hours, cut at ``now``).

    Args:
        store: A store whose rollup covers the window.
        t0, t1: Window, epoch seconds.
        type: Only this type.
        department: Only this owning department (otherwise every department, plus each
            type over all departments).
        by_department: With ``department`` None, also list each department (False: only
            the all-department rows).
        shortage_min_s: Seconds without any available unit that make an hour a shortage.
        tz: Time zone of the hour-of-day and weekday profiles (default: the rollup's; any
            zone, see :func:`~tracker.reports.rollup.rollup_window`).
        now: The current time (default: the clock).

    Raises:
        ValueError: bad window (the message names the field).
    """
    if shortage_min_s < 0:
        raise ValueError(f"shortage_min_s: must be >= 0, got {shortage_min_s!r}")
    w = rollup_window(store, t0, t1, tz=tz, now=now)
    d = store.dialect
    params: list[Any] = [d.to_db(w.lo), d.to_db(w.hi)]
    where = d.equal_filters((("type", type),), params)
    if department is not None:
        where += f" AND department = {d.param}"
        params.append(department)
    elif not by_department:
        where += f" AND department = {d.param}"
        params.append(ALL_DEPARTMENTS)
    rows = store.query(
        f"SELECT type, department, {d.us.format('hour')}, assets, in_use_max, in_use_seconds,"
        f" none_available_seconds FROM fleet_hours WHERE hour >= {d.param}"
        f" AND hour < {d.param}{where} ORDER BY type, department, hour", params)
    if not rows:
        return []
    types, depts, us, assets, top, use_s, none_s = zip(*rows, strict=True)
    cols = _Columns(np.asarray(us, dtype=np.int64) / 1e6, np.asarray(assets, dtype=np.int64),
                    np.asarray(top, dtype=np.int64), np.asarray(use_s, dtype=np.float64),
                    np.asarray(none_s, dtype=np.float64))
    how = hour_of_week(cols.hour, w.tz)
    hod, wday = how % 24, how // 24
    bounds = [0] + [i for i in range(1, len(rows))
                    if types[i] != types[i - 1] or depts[i] != depts[i - 1]] + [len(rows)]
    out: list[FleetRow] = []
    for a, b in itertools.pairwise(bounds):
        dept = depts[a]
        out.append(_row(types[a], None if dept == ALL_DEPARTMENTS else dept, cols, a, b,
                        hod, wday, shortage_min_s, w.now))
    out.sort(key=lambda r: (r.type, r.department is not None, r.department or ""))
    return out


@dataclass(frozen=True, slots=True)
class _Columns:
    hour: npt.NDArray[np.float64]
    assets: npt.NDArray[np.int64]
    top: npt.NDArray[np.int64]
    use_s: npt.NDArray[np.float64]
    none_s: npt.NDArray[np.float64]


def _row(typ: str, dept: str | None, c: _Columns, a: int, b: int,
         hod: npt.NDArray[np.int64], wday: npt.NDArray[np.int64], shortage_min_s: float,
         now: float) -> FleetRow:
    top, h = c.top[a:b], c.hour[a:b]
    hd, wd = hod[a:b], wday[a:b]
    elapsed = float(np.minimum(3600.0, now - h).sum())
    none_s = c.none_s[a:b]
    shortages = h[(none_s >= shortage_min_s) & (none_s > 0)]
    owned = int(c.assets[a:b].max())
    peak, p95 = int(top.max()), percentile_nearest_rank(top, 95.0)
    en, no = recommendation(typ, dept, owned, p95, peak, int(shortages.size))
    return FleetRow(
        type=typ, department=dept, owned=owned, hours=b - a, peak=peak, p95=p95,
        mean_in_use=float(c.use_s[a:b].sum()) / elapsed if elapsed > 0 else 0.0,
        spare=max(0, owned - p95),
        peak_by_hour=tuple(int(top[hd == i].max(initial=0)) for i in range(24)),
        p95_by_hour=tuple(percentile_nearest_rank(top[hd == i], 95.0) for i in range(24)),
        peak_by_weekday=tuple(int(top[wd == i].max(initial=0)) for i in range(7)),
        p95_by_weekday=tuple(percentile_nearest_rank(top[wd == i], 95.0) for i in range(7)),
        shortages=tuple(shortages.tolist()), recommendation_en=en, recommendation_no=no)
