"""Keep the report rollup fresh inside a running process (the service and the demo).

:func:`refresh_loop` runs :func:`~tracker.reports.rollup.refresh_incremental` at once and then
every ``every_s`` seconds of its clock, in a worker thread, until ``stop`` is set. A failed
refresh (database down) is logged and retried on the next round; since each refresh starts
from the last mark less an hour, nothing is lost. Deployments with several processes run
``sporing report refresh`` from one scheduled job instead.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import time
from collections.abc import Callable

from floorplans.model import Site
from tracker.availability import StateMap
from tracker.reports.periods import DEFAULT_TZ
from tracker.reports.rollup import refresh_incremental
from tracker.reports.states import StateRules
from tracker.store.base import Store

__all__ = ["refresh_loop"]

log = logging.getLogger("sporing.reports")


async def refresh_loop(
    store: Store,
    site: Site,
    stop: asyncio.Event,
    *,
    every_s: float = 300.0,
    clock: Callable[[], float] = time.time,
    rate: float = 1.0,
    state_map: StateMap | None = None,
    tz: str = DEFAULT_TZ,
) -> None:
    """Refresh the rollup now and every ``every_s`` clock seconds until ``stop`` is set.

    Args:
        store: The process's store.
        site: The floor plan (room categories).
        stop: Set to end the loop.
        every_s: Period in seconds of ``clock``.
        clock: The time the stays are written in (the demo's simulated clock).
        rate: Clock seconds per wall-clock second (the demo's speed).
        state_map: Room category -> state (default :class:`StateMap`).
        tz: Time zone of the rollup's local days.
    """
    rules = StateRules.for_site(site, state_map)
    while not stop.is_set():
        try:
            res = await asyncio.to_thread(refresh_incremental, store, rules, now=clock(),
                                          tz=tz)
            log.debug("report rollup refreshed: %d hour rows, %d fleet rows", res.hour_rows,
                      res.fleet_rows)
        except Exception as exc:  # the database may be down; the next round catches up
            log.warning("report rollup not refreshed: %s", exc)
        with contextlib.suppress(TimeoutError):
            await asyncio.wait_for(stop.wait(), timeout=every_s / rate)
