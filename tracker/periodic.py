"""One background loop shape for the service and the alert runner: wait, act, repeat."""

from __future__ import annotations

import asyncio
import contextlib
import inspect
from collections.abc import Callable

__all__ = ["periodic"]


async def periodic(stop: asyncio.Event, every_s: float, fn: Callable[[], object]) -> None:
    """Until ``stop`` is set: wait ``every_s`` seconds (or until ``stop``), then call ``fn``
    (awaiting its result when it returns an awaitable).

    ``fn`` does not run once ``stop`` is set: a last save or submit at shutdown belongs to the
    owner's stop sequence, which knows what must have finished first. An exception from
    ``fn`` ends the loop: ``fn`` handles the failures it expects.
    """
    while not stop.is_set():
        with contextlib.suppress(TimeoutError):
            await asyncio.wait_for(stop.wait(), timeout=every_s)
        if stop.is_set():
            return
        result = fn()
        if inspect.isawaitable(result):
            await result
