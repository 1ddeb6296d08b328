"""Where a type spends its time: seconds per room over a window (the dashboard's heat map).

For the assets ``G`` of a type (and/or owning department) and a window ``[t0, t1)``:
``seconds(r) = sum over a in G, stays s of a in room r of |[s.enter, s.exit) ∩ [t0, min(t1,
now))|`` (an open stay lasts until ``now``), and ``share(r) = seconds(r) / sum_r seconds(r)``.
Overlapping stays of one asset with two tags are counted once per tag (rare; the rollup's
per-asset state time resolves them, this map does not need to).
"""

from __future__ import annotations

import time
from collections import defaultdict
from dataclasses import dataclass
from typing import Any, ClassVar

from floorplans.model import Site
from tracker.reports.periods import DEFAULT_TZ
from tracker.store.base import Store

__all__ = ["RoomTimeRow", "room_time"]


@dataclass(frozen=True, slots=True)
class RoomTimeRow:
    """Time the group spent in one room."""

    COLUMNS: ClassVar[tuple[str, ...]] = (
        "room", "room_name", "level", "category", "hours", "share_pct")

    room: str
    room_name: str | None
    level: str | None
    category: str | None
    seconds: float
    share: float

    def to_record(self, tz: str = DEFAULT_TZ) -> dict[str, Any]:
        """Flat record for CSV/JSON (``tz`` unused: no times)."""
        del tz
        return {"room": self.room, "room_name": self.room_name, "level": self.level,
                "category": self.category, "hours": round(self.seconds / 3600.0, 3),
                "share_pct": round(100.0 * self.share, 2)}


def room_time(
    store: Store,
    site: Site | None,
    t0: float,
    t1: float,
    *,
    type: str | None = None,
    department: str | None = None,
    level: str | None = None,
    now: float | None = None,
) -> list[RoomTimeRow]:
    """Seconds per room of the group's stays over ``[t0, t1)``, most time first.

    ``share`` is relative to the group's time in every room (also when ``level`` limits the
    rows returned), so shares on one level say how much of all the time was spent there.

    Raises:
        ValueError: ``t1 <= t0`` (names ``to``).
    """
    if not t1 > t0:
        raise ValueError("to: must be after from")
    now = time.time() if now is None else now
    hi = min(t1, now)
    if hi <= t0:
        return []
    d = store.dialect
    p = d.param
    params: list[Any] = [d.to_db(hi), d.to_db(t0)]
    where = d.equal_filters((("a.type", type), ("a.department", department)), params)
    rows = store.query(
        f"SELECT s.room, s.level, {d.us.format('s.t_enter')}, {d.us.format('s.t_exit')}"
        " FROM stays s JOIN assets a ON a.id = s.asset"
        f" WHERE s.t_enter < {p} AND (s.t_exit IS NULL OR s.t_exit > {p})"
        f" AND a.status <> 'retired'{where}", params)
    acc: dict[str, float] = defaultdict(float)
    levels: dict[str, str | None] = {}
    for room, lv, enter_us, exit_us in rows:
        a = max(t0, int(enter_us) / 1e6)
        b = min(hi, now if exit_us is None else int(exit_us) / 1e6)
        if b > a:
            acc[room] += b - a
            levels[room] = lv
    total = sum(acc.values())
    out: list[RoomTimeRow] = []
    for room, secs in acc.items():
        known = site is not None and site.has_room(room)
        r = site.room(room) if site is not None and known else None
        lv = r.level if r is not None else levels.get(room)
        if level is not None and lv != level:
            continue
        out.append(RoomTimeRow(room, r.name if r else None, lv, r.category if r else None,
                               secs, secs / total if total > 0 else 0.0))
    out.sort(key=lambda x: (-x.seconds, x.room))
    return out
