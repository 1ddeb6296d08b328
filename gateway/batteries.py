"""Tag battery levels from the formats that carry them (Minew, Kontakt.io, Theengs decoders).

The ingestor records every report here; the alert runner drains the tags that reported since it
last looked (on every pipeline tick) and hands them to the alert engine, which keeps the latest
level of each tag for the ``low_battery`` rule. Only what was not drained yet is held, plus the
time of each tag's latest report: bounded, past ``max_tags`` tags the tags that reported the
longest ago are forgotten first (nothing drains a process that runs no alerts).
"""

from __future__ import annotations

import threading
from collections import OrderedDict
from collections.abc import Iterable

from gateway.adapters.types import TagBattery

__all__ = ["TagBatteries"]


class TagBatteries:
    """The latest battery report of each tag that reported since the last :meth:`drain`.

    Thread-safe: the ingestor observes in the event loop, the alert runner drains in the
    pipeline's tick thread. The time of each tag's latest report is remembered across drains
    (bounded like the reports), so a late, older report (a queued message delivered after a
    reconnect) never replaces a newer level.

    Args:
        max_tags: At most this many tags are held between two drains, and remembered.

    Raises:
        ValueError: ``max_tags`` is not positive.
    """

    def __init__(self, max_tags: int = 200_000) -> None:
        if max_tags <= 0:
            raise ValueError(f"max_tags: must be positive, got {max_tags}")
        self.max_tags = max_tags
        self._changed: dict[str, TagBattery] = {}
        self._seen: OrderedDict[str, float] = OrderedDict()  # tag -> time of latest report
        self._lock = threading.Lock()

    def __len__(self) -> int:
        """How many tags reported since the last drain."""
        return len(self._changed)

    def observe(self, reports: Iterable[TagBattery]) -> None:
        """Record reports; a report older than the tag's latest one is ignored."""
        with self._lock:
            changed, seen = self._changed, self._seen
            for r in reports:
                last = seen.get(r.tag)
                if last is not None:
                    if last > r.ts:
                        continue
                    seen.move_to_end(r.tag)
                    changed.pop(r.tag, None)  # re-inserted last: the oldest report comes first
                seen[r.tag] = r.ts
                changed[r.tag] = r
                if len(seen) > self.max_tags:
                    seen.popitem(last=False)
                if len(changed) > self.max_tags:
                    del changed[next(iter(changed))]

    def drain(self) -> dict[str, TagBattery]:
        """The latest report of every tag that reported since the previous call."""
        with self._lock:
            out, self._changed = self._changed, {}
        return out
