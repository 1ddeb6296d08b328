"""From room stays to state intervals and uses: the definitions every report builds on.

An asset's time is a sequence of :class:`StateInterval` covering the report window without
gaps or overlaps:

* during a stay in room ``r``: ``state = state_map.of_category(category(r))`` (a room the
  plan lacks gets ``state_map.unknown``);
* in a *gap* between two stays (between rooms, or briefly unheard) of length ``g``:
  ``in_transit`` when ``g <= transit_limit_s``, otherwise ``not_seen`` for the whole gap (an
  asset unheard for hours was not being pushed down a corridor all that time);
* before its first known stay and after its last one: a gap as above, whose length counts
  from the previous stay's exit (or to the next stay's entry, or to ``now`` when there is
  none yet); with no stay at all the asset is ``not_seen``;
* time after ``now`` is not counted (an open stay lasts until ``now``).

A **use** is a maximal run of ``in_use`` intervals that touch (back-to-back stays in use rooms,
e.g. moved from one patient room straight into the next, are one use); its duration is
``end - start``.

Stays of an asset with two tags may overlap; they are taken in order of entry and time an
earlier stay already covers is not counted twice.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass, field

from floorplans.model import Site
from tracker.availability import AssetState, StateMap
from tracker.records import StayRecord

__all__ = [
    "DEFAULT_TRANSIT_LIMIT_S",
    "StateInterval",
    "StateRules",
    "Use",
    "seconds_by_state",
    "state_intervals",
    "uses",
]

#: Default longest gap between stays counted as in transit (15 minutes).
DEFAULT_TRANSIT_LIMIT_S = 900.0

#: Touching tolerance when merging in-use intervals into one use (stores keep microseconds).
_TOUCH_S = 1e-3


@dataclass(frozen=True, slots=True)
class StateRules:
    """How a site's stays become states (configurable per site).

    Attributes:
        state_map: Room category -> state (see :class:`tracker.availability.StateMap`).
        transit_limit_s: Longest gap between stays counted as ``in_transit``; a longer gap
            is ``not_seen``.
        room_categories: Room id -> category, usually from :meth:`for_site`.
    """

    state_map: StateMap = field(default_factory=StateMap)
    transit_limit_s: float = DEFAULT_TRANSIT_LIMIT_S
    room_categories: Mapping[str, str] = field(default_factory=dict)

    def __post_init__(self) -> None:
        if not self.transit_limit_s >= 0:
            raise ValueError(f"transit_limit_s must be >= 0, got {self.transit_limit_s!r}")

    @classmethod
    def for_site(
        cls,
        site: Site,
        state_map: StateMap | None = None,
        *,
        transit_limit_s: float = DEFAULT_TRANSIT_LIMIT_S,
    ) -> StateRules:
        """Rules with the room categories of ``site``."""
        return cls(state_map or StateMap(), transit_limit_s,
                   {r.id: r.category for r in site.rooms})

    def room_state(self, room: str) -> AssetState:
        """The state of an asset staying in ``room`` (an unknown room: ``state_map.unknown``)."""
        cat = self.room_categories.get(room)
        if cat is None:
            return self.state_map.unknown
        return self.state_map.of_category(cat)


@dataclass(frozen=True, slots=True)
class StateInterval:
    """An asset in one state over ``[start, end)`` (epoch seconds); ``room`` during a stay."""

    start: float
    end: float
    state: AssetState
    room: str | None = None

    @property
    def seconds(self) -> float:
        """``end - start``."""
        return self.end - self.start


@dataclass(frozen=True, slots=True)
class Use:
    """One use: a maximal run of touching ``in_use`` intervals, ``[start, end)``."""

    start: float
    end: float

    @property
    def seconds(self) -> float:
        """Duration of the use."""
        return self.end - self.start


def state_intervals(
    stays: Iterable[StayRecord],
    rules: StateRules,
    t0: float,
    t1: float,
    now: float,
) -> list[StateInterval]:
    """One asset's states over ``[t0, min(t1, now))``, in time order, without gaps.

    Args:
        stays: The asset's stays; to classify the gaps at the window's edges they must include
            every stay overlapping ``[t0 - transit_limit_s, t1 + transit_limit_s)``.
        rules: State mapping and transit limit.
        t0, t1: The window.
        now: The current time: open stays end here and nothing after it is counted.

    Returns:
        Intervals clipped to the window; a stay's interval keeps its room.
    """
    hi = min(t1, now)
    if hi <= t0:
        return []
    limit = rules.transit_limit_s
    out: list[StateInterval] = []

    def gap(a: float | None, b: float | None) -> None:
        # From a (previous exit; None: none known, i.e. long before t0) to b (next entry;
        # None: none yet, the gap runs until now).
        end = now if b is None else b
        lo_c, hi_c = t0 if a is None else max(a, t0), min(end, hi)
        if hi_c <= lo_c:
            return
        transit = a is not None and end - a <= limit
        out.append(StateInterval(lo_c, hi_c,
                                 AssetState.IN_TRANSIT if transit else AssetState.NOT_SEEN))

    cursor: float | None = None
    for s in sorted(stays, key=lambda s: (s.t_enter, s.t_exit is None, s.t_exit or 0.0)):
        start = s.t_enter if cursor is None else max(s.t_enter, cursor)
        end = min(now, s.t_exit) if s.t_exit is not None else now
        if end <= start:
            continue
        if cursor is None or start > cursor:
            gap(cursor, start)
        lo_c, hi_c = max(start, t0), min(end, hi)
        if hi_c > lo_c:
            out.append(StateInterval(lo_c, hi_c, rules.room_state(s.room), s.room))
        cursor = end
    gap(cursor, None)
    return out


def uses(intervals: Sequence[StateInterval]) -> list[Use]:
    """Merge touching ``in_use`` intervals into uses (see the module docstring)."""
    out: list[Use] = []
    for iv in intervals:
        if iv.state is not AssetState.IN_USE:
            continue
        if out and iv.start - out[-1].end <= _TOUCH_S:
            out[-1] = Use(out[-1].start, iv.end)
        else:
            out.append(Use(iv.start, iv.end))
    return out


def seconds_by_state(intervals: Iterable[StateInterval]) -> dict[AssetState, float]:
    """Total seconds per state (states never entered are absent)."""
    acc: dict[AssetState, float] = {}
    for iv in intervals:
        acc[iv.state] = acc.get(iv.state, 0.0) + iv.seconds
    return acc
