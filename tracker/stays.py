"""Room stays from fixes: "asset entered room R at t0, left at t1".

The room filter already smooths rooms over time, so a stay opens the first tick a tag is in a
room and closes when its room changes or when the tag has not been heard for
``stale_after_s`` (closed at the last time it was seen, so an outage of a gateway or a tag that
left the building never inflates a stay). Each change yields records for the store: the new open
stay (``t_exit`` None) and the closed one; the store upserts them by ``(tag, t_enter)``.
"""

from __future__ import annotations

import math
from collections.abc import Callable, Iterable
from dataclasses import dataclass

from positioning.engine import FixFrame
from tracker.records import StayRecord

__all__ = ["StayTracker"]


@dataclass(slots=True)
class _Open:
    room: str
    level: str | None
    t_enter: float
    last_seen: float
    conf_sum: float
    n: int


class StayTracker:
    """Turns a stream of fix frames into stay records.

    Args:
        site: Site id written into the records.
        asset_of: Maps a tag to its asset at a time (the registry's pairing), or None.
        stale_after_s: A tag unheard this long has its open stay closed at its last fix.
    """

    def __init__(self, site: str, asset_of: Callable[[str, float], str | None] | None = None,
                 *, stale_after_s: float = 300.0) -> None:
        self.site = site
        self.asset_of = asset_of or (lambda _tag, _ts: None)
        self.stale_after_s = stale_after_s
        self._open: dict[str, _Open] = {}
        # No open stay can go stale before this time (last_seen only grows): the scan over
        # every open stay runs when one may, not on every tick.
        self._stale_check_at = -math.inf

    def _record(self, tag: str, s: _Open, t_exit: float | None) -> StayRecord:
        return StayRecord(tag=tag, asset=self.asset_of(tag, s.t_enter), site=self.site,
                          level=s.level, room=s.room, t_enter=s.t_enter, t_exit=t_exit,
                          confidence=round(s.conf_sum / max(s.n, 1), 4))

    def update(self, frame: FixFrame) -> list[StayRecord]:
        """Advance with one tick's fixes; returns the stays opened or closed by it."""
        out: list[StayRecord] = []
        t = frame.ts
        for i, tag in enumerate(frame.tag):
            room = frame.room[i]
            conf = float(frame.room_confidence[i])
            cur = self._open.get(tag)
            if cur is not None and cur.room == room:
                cur.last_seen = t
                cur.conf_sum += conf
                cur.n += 1
                continue
            if cur is not None:
                out.append(self._record(tag, cur, t))
                del self._open[tag]
            if room is not None:
                new = _Open(room, frame.level[i], t, t, conf, 1)
                self._open[tag] = new
                out.append(self._record(tag, new, None))
                self._stale_check_at = min(self._stale_check_at, t + self.stale_after_s)
        if t >= self._stale_check_at:
            out.extend(self.expire(t))
        return out

    def expire(self, now: float) -> list[StayRecord]:
        """Close the stays of tags unheard for ``stale_after_s`` (at their last fix)."""
        out = []
        oldest = math.inf
        for tag, s in list(self._open.items()):
            if now - s.last_seen > self.stale_after_s:
                out.append(self._record(tag, s, s.last_seen))
                del self._open[tag]
            else:
                oldest = min(oldest, s.last_seen)
        # stays opened later are seen later: none can be stale before the oldest one is
        self._stale_check_at = oldest + self.stale_after_s
        return out

    def resume(self, open_stays: Iterable[StayRecord], now: float) -> int:
        """Continue stays left open in the store (after a restart at ``now``) instead of
        opening a second stay for the same tag; returns how many were resumed.

        When the tag was last heard is not stored, so a resumed stay counts as seen at
        ``now``: a tag heard again continues it, one that stays silent has it closed at the
        restart (not at its entry, which would erase the stay's whole duration).
        """
        n = 0
        for s in open_stays:
            if s.t_exit is None:
                seen = max(s.t_enter, now)
                self._open[s.tag] = _Open(s.room, s.level, s.t_enter, seen, s.confidence, 1)
                self._stale_check_at = min(self._stale_check_at, seen + self.stale_after_s)
                n += 1
        return n

    def open_stays(self) -> list[StayRecord]:
        """The currently open stays (e.g. to persist at shutdown)."""
        return [self._record(tag, s, None) for tag, s in self._open.items()]
