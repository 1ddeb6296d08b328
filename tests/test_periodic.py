"""The service's wait-and-act loop: acts every period, never after stop."""

from __future__ import annotations

import asyncio

from tracker.periodic import periodic


async def test_acts_every_period_and_not_after_stop() -> None:
    stop = asyncio.Event()
    calls: list[float] = []

    async def act() -> None:
        calls.append(asyncio.get_running_loop().time())

    task = asyncio.create_task(periodic(stop, 0.05, act))
    await asyncio.sleep(0.23)
    stop.set()
    await asyncio.wait_for(task, 1.0)
    n = len(calls)
    assert n >= 1  # it acted while running
    await asyncio.sleep(0.1)
    assert len(calls) == n  # and nothing ran once stopped


async def test_stop_before_the_first_period_runs_nothing() -> None:
    stop = asyncio.Event()
    calls: list[int] = []
    task = asyncio.create_task(periodic(stop, 10.0, lambda: calls.append(1)))
    await asyncio.sleep(0.01)
    stop.set()
    await asyncio.wait_for(task, 1.0)
    assert calls == []
