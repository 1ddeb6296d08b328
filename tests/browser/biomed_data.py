"""History for the biomed pages on top of the harness's fleet (tests/browser/harness.py).

:func:`add_history` writes, for the infusion pumps of "Medisinsk sengepost", room stays over
the last 7 days (``IP-4711`` in patient room ``A3.105`` 08:00-14:00 every day and in equipment
storage ``A3.113`` otherwise; ``IP-4713`` in patient room ``A3.105`` throughout), makes
``IP-4712`` due for maintenance in 3 days, refreshes the report rollup and raises two alerts
(a par level on clean utility ``A1.112`` and ``IP-4714`` missing).
"""

from __future__ import annotations

import dataclasses
import datetime as dt
import time

from floorplans.model import Site
from tracker.alerts.engine import Transition
from tracker.alerts.store import AlertStore
from tracker.records import StayRecord, WriteBatch
from tracker.reports.periods import zone
from tracker.reports.rollup import refresh_rollup
from tracker.reports.states import StateRules
from tracker.store.base import Store

__all__ = ["add_history"]

H = 3600.0


def _tag(n: int) -> str:
    return f"5e0000{n:06x}"  # the harness's tag of asset number n


def add_history(store: Store, site: Site, now: float | None = None) -> None:
    """Write the stays, the due date and the alerts; refresh the rollup (see the module)."""
    now = time.time() if now is None else now
    z = zone("Europe/Oslo")
    today = dt.datetime.fromtimestamp(now, z).date()
    stays: list[StayRecord] = []
    start = now - 7 * 86_400.0
    cursor = start
    for back in range(7, -1, -1):
        day = today - dt.timedelta(days=back)
        t8 = dt.datetime(day.year, day.month, day.day, 8, tzinfo=z).timestamp()
        t14 = t8 + 6 * H
        if t14 <= start or t8 >= now:
            continue
        a, b = max(t8, start), min(t14, now)
        if a > cursor:
            stays.append(StayRecord(_tag(1), "IP-4711", site.id, "A3", "A3.113", cursor, a, 0.9))
        stays.append(StayRecord(_tag(1), "IP-4711", site.id, "A3", "A3.105", a, b, 0.9))
        cursor = b
    if cursor < now - 60:
        stays.append(StayRecord(_tag(1), "IP-4711", site.id, "A3", "A3.113", cursor, now - 60,
                                0.9))
    stays.append(StayRecord(_tag(3), "IP-4713", site.id, "A3", "A3.105", start, now - 30, 0.9))
    store.write(WriteBatch(stays=stays))
    pump = store.get_asset("IP-4712")
    assert pump is not None
    store.upsert_assets([dataclasses.replace(pump, next_maintenance=today +
                                             dt.timedelta(days=3))], at=now - 86_400.0)
    refresh_rollup(store, StateRules.for_site(site), start - H, now, now=now)
    alerts = AlertStore(store)
    alerts.record([
        Transition("raised", "pumps-a1", "par_level", "A1.112", "warning", now - 600,
                   now - 900, "Rent lager 1.112: 1 available infusion pump, par level 4",
                   {"available": 1, "minimum": 4}),
        Transition("raised", "missing", "missing", "IP-4714", "critical", now - 300,
                   now - 3 * H, "Infusion pump IP-4714 not seen for 3 hours",
                   {"hours": 3}),
    ], now=now)
