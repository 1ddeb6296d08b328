"""Tag battery levels from the formats that carry them (Minew, Kontakt.io, Theengs decoders).

The ingestor keeps the latest level of each tag here; the alert runner drains what changed since
it last looked and feeds it to the ``low_battery`` rule. Bounded: past ``max_tags`` tags the
oldest reports are forgotten first (a tag that reports again comes back).
"""

from __future__ import annotations

from collections import OrderedDict
from collections.abc import Iterable

from gateway.adapters.types import TagBattery

__all__ = ["TagBatteries"]


class TagBatteries:
    """The latest battery report per tag, with the tags changed since the last :meth:`drain`.

    Args:
        max_tags: At most this many tags are remembered.

    Raises:
        ValueError: ``max_tags`` is not positive.
    """

    def __init__(self, max_tags: int = 200_000) -> None:
        if max_tags <= 0:
            raise ValueError(f"max_tags: must be positive, got {max_tags}")
        self.max_tags = max_tags
        self._latest: OrderedDict[str, TagBattery] = OrderedDict()
        self._changed: dict[str, TagBattery] = {}

    def __len__(self) -> int:
        return len(self._latest)

    def observe(self, reports: Iterable[TagBattery]) -> None:
        """Record reports; an older report than the one held for a tag is ignored."""
        for r in reports:
            cur = self._latest.get(r.tag)
            if cur is not None and cur.ts > r.ts:
                continue
            self._latest[r.tag] = r
            self._latest.move_to_end(r.tag)
            self._changed[r.tag] = r
            if len(self._latest) > self.max_tags:
                old, _ = self._latest.popitem(last=False)
                self._changed.pop(old, None)

    def latest(self, tag: str) -> TagBattery | None:
        """The latest report of ``tag`` (None when it never reported one)."""
        return self._latest.get(tag)

    def drain(self) -> dict[str, TagBattery]:
        """The latest report of every tag that reported since the previous call."""
        out, self._changed = self._changed, {}
        return out
