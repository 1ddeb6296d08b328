"""Finding equipment for a porter: where an asset is, what state it is in, and the nearest
available asset of a type by walking distance.

Pure domain logic over the floor plan (:class:`~floorplans.model.Site`,
:class:`~floorplans.routing.WalkingGraph`), the asset registry (:class:`~tracker.assets.Asset`),
the latest fixes (:class:`~tracker.records.FixRecord`) and the room-category state map
(:class:`~tracker.availability.StateMap`); no I/O and no HTTP, so every rule here is unit-tested
without a server.

* :class:`Registry`: the asset registry indexed by id, tag and type.
* :class:`Locations`: the latest fix of every tag, indexed by tag, asset, level and room.
* :class:`Fleet`: a registry and its locations at one moment: where each asset is and its state
  (per-type lists computed once per snapshot).
* :class:`Wayfinder`: the walking graph of a site; ranks assets by walking distance.

*Available* means the :class:`~tracker.availability.StateMap` says so: the asset's last fix is in
a room whose category maps to ``available`` (by default ``clean_utility`` and
``equipment_storage``), it is not moving, the fix is not older than ``stale_after_s`` (1 h) and
its registry status is not an out-of-service one (``in_repair``, ``retired``, ``lost``).

Walking distance is the walking graph's *walking-equivalent metres*: metres walked through
doors, rooms and corridors; stairs count 2 m per metre of rise; each elevator ride counts a
fixed 30 s wait plus 4 s per level, converted to metres at the walking speed. Walking time is
that distance at :data:`WALKING_SPEED_M_S`.
"""

from __future__ import annotations

import heapq
import math
import unicodedata
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from functools import cached_property

from floorplans.model import Site
from floorplans.routing import RoutePoint, WalkingGraph
from floorplans.spatial import SiteIndex
from gateway.errors import PayloadError
from gateway.identity import eddystone_tag, ibeacon_tag, is_mac, normalize_mac
from tracker.assets import Asset
from tracker.availability import AssetState, StateMap
from tracker.records import FixRecord

__all__ = [
    "WALKING_SPEED_M_S",
    "Candidate",
    "Fleet",
    "Locations",
    "Nearest",
    "Placed",
    "Registry",
    "TypeCount",
    "Wayfinder",
    "canonical_tag",
    "diff_locations",
    "fold",
    "place",
    "type_key",
]

WALKING_SPEED_M_S = 1.0
"""Walking speed of a porter pushing equipment through a hospital (m/s); free walking is
1.2-1.4 m/s, but doors, corridors with beds and a trolley slow it down."""

MOVED_M = 0.5
"""A live update reports a tag again once it has moved at least this far (metres)."""

_SAME_POINT_M = 0.05
_UNPLANNED = ""
"""Category of a room the plan does not have (the state map's ``unknown`` state applies)."""


def fold(text: str) -> str:
    """Text folded for case-insensitive matching (Unicode NFKC, then case-folded: ``Å`` and
    ``å`` match, and so do composed and decomposed spellings)."""
    return unicodedata.normalize("NFKC", text).casefold()


def type_key(asset_type: str) -> str:
    """How equipment types are compared: folded, with ``-``, ``_`` and spaces alike
    (``Infusion pump``, ``infusion-pump`` and ``infusion_pump`` are one type)."""
    return "_".join(fold(asset_type).replace("-", " ").replace("_", " ").split())


def canonical_tag(text: str) -> str:
    """A tag id in its canonical form (see :mod:`gateway.identity`).

    Accepts a MAC address in any usual spelling (to 12 lowercase hex digits),
    ``ibeacon:<uuid>:<major>:<minor>`` and ``eddystone:<namespace>:<instance>``.

    Raises:
        ValueError: The text is none of these (the message says what was expected).
    """
    t = text.strip()
    low = t.lower()
    try:
        if is_mac(t):
            return normalize_mac(t, field="tag")
        if low.startswith("ibeacon:"):
            parts = t[len("ibeacon:"):].rsplit(":", 2)
            if len(parts) == 3:
                return ibeacon_tag(parts[0], parts[1], parts[2])
        elif low.startswith("eddystone:"):
            parts = t[len("eddystone:"):].split(":")
            if len(parts) == 2:
                return eddystone_tag(parts[0], parts[1])
    except PayloadError as exc:
        raise ValueError(str(exc)) from None
    shown = t if len(t) <= 60 else t[:60] + "..."
    raise ValueError(f"{shown!r} is not a tag id: expected a MAC address (AA:BB:CC:DD:EE:FF), "
                     "ibeacon:<uuid>:<major>:<minor> or eddystone:<namespace>:<instance>")


# ----------------------------------------------------------------------------- registry
@dataclass(frozen=True, slots=True)
class TypeCount:
    """How many assets of a type there are, and how many of them are available."""

    type: str
    count: int
    available: int


@dataclass(frozen=True, slots=True, eq=False)
class Registry:
    """The asset registry at one moment, indexed.

    Build it with :meth:`of`.

    Attributes:
        assets: Every asset, ordered by id.
        by_id: Asset by id.
        by_tag: Asset id by currently paired tag.
        by_type: Assets by type (the registry's spelling), each ordered by id.
    """

    assets: tuple[Asset, ...]
    by_id: Mapping[str, Asset]
    by_tag: Mapping[str, str]
    by_type: Mapping[str, tuple[Asset, ...]]
    _type_keys: Mapping[str, str] = field(repr=False)

    @classmethod
    def of(cls, assets: Iterable[Asset]) -> Registry:
        """Index ``assets`` (a later duplicate id replaces an earlier one)."""
        by_id = {a.id: a for a in assets}
        ordered = tuple(sorted(by_id.values(), key=lambda a: a.id))
        by_tag: dict[str, str] = {}
        by_type: dict[str, list[Asset]] = {}
        keys: dict[str, str] = {}
        for a in ordered:
            for t in a.tags:
                by_tag[t] = a.id
            if a.type:
                by_type.setdefault(a.type, []).append(a)
                keys.setdefault(type_key(a.type), a.type)
        return cls(ordered, by_id, by_tag, {k: tuple(v) for k, v in by_type.items()}, keys)

    def resolve_type(self, asset_type: str) -> str | None:
        """The registry's spelling of ``asset_type`` (compared with :func:`type_key`), or None
        when no asset has that type."""
        if asset_type in self.by_type:
            return asset_type
        return self._type_keys.get(type_key(asset_type))

    @property
    def types(self) -> list[str]:
        """Every type in the registry, sorted."""
        return sorted(self.by_type)

    def asset_ids(self, fixes: Iterable[FixRecord]) -> set[str]:
        """The ids of the assets ``fixes`` may be fixes of: for each fix, the asset its tag is
        paired with now and the asset named on the fix (paired at the time of the fix).

        A superset: an id may be of no registered asset, or of an asset whose newest fix is
        another one; callers place each asset to check.
        """
        ids: set[str] = set()
        by_tag = self.by_tag
        for f in fixes:
            paired = by_tag.get(f.tag)
            if paired is not None:
                ids.add(paired)
            if f.asset is not None:
                ids.add(f.asset)
        return ids


# ----------------------------------------------------------------------------- locations
class Locations:
    """The latest fix of every tag at one moment, indexed.

    The indexes by asset, level and room are built on first use (each at most once; by level
    and by room together).

    Args:
        by_tag: Latest fix per tag.
        taken_at: Epoch seconds when the fixes were read.
        source: Where they came from (``pipeline`` or ``database``).
        full_at: When the fixes were last read in full (see :meth:`merged`); default
            ``taken_at``.
    """

    def __init__(self, by_tag: Mapping[str, FixRecord], *, taken_at: float,
                 source: str = "database", full_at: float | None = None) -> None:
        self.by_tag = by_tag
        self.taken_at = taken_at
        self.source = source
        self.full_at = taken_at if full_at is None else full_at
        self.newest_ts = max((f.ts for f in by_tag.values()), default=-math.inf)

    @classmethod
    def of(cls, fixes: Iterable[FixRecord], *, taken_at: float,
           source: str = "database") -> Locations:
        """Index ``fixes`` (the newest fix of a tag wins)."""
        return cls(_newest({}, fixes), taken_at=taken_at, source=source)

    def merged(self, fixes: Iterable[FixRecord], *, taken_at: float) -> Locations:
        """These locations updated with newer ``fixes`` (an incremental read); tags are never
        removed, and ``full_at`` is kept."""
        return Locations(_newest(dict(self.by_tag), fixes), taken_at=taken_at,
                         source=self.source, full_at=self.full_at)

    @cached_property
    def by_asset(self) -> Mapping[str, FixRecord]:
        """Latest fix per asset named on the fixes (the asset the tag was paired with at the
        time of the fix)."""
        out: dict[str, FixRecord] = {}
        for f in self.by_tag.values():
            if f.asset is not None:
                old = out.get(f.asset)
                if old is None or (f.ts, f.tag) > (old.ts, old.tag):
                    out[f.asset] = f
        return out

    @cached_property
    def _place_index(self) -> tuple[dict[str, tuple[FixRecord, ...]],
                                    dict[str, tuple[FixRecord, ...]]]:
        """``(by_level, by_room)``, built together."""
        by_level: dict[str, list[FixRecord]] = {}
        by_room: dict[str, list[FixRecord]] = {}
        for tag in sorted(self.by_tag):
            f = self.by_tag[tag]
            if f.level is not None:
                by_level.setdefault(f.level, []).append(f)
            if f.room is not None:
                by_room.setdefault(f.room, []).append(f)
        return ({k: tuple(v) for k, v in by_level.items()},
                {k: tuple(v) for k, v in by_room.items()})

    @property
    def by_level(self) -> Mapping[str, tuple[FixRecord, ...]]:
        """Fixes per level, ordered by tag."""
        return self._place_index[0]

    @property
    def by_room(self) -> Mapping[str, tuple[FixRecord, ...]]:
        """Fixes per room, ordered by tag."""
        return self._place_index[1]

    def of_asset(self, asset: Asset) -> FixRecord | None:
        """Where ``asset`` is: the newest fix of its paired tags, else (no paired tag has a
        fix) the newest fix recorded with the asset's id, else None."""
        best: FixRecord | None = None
        for t in asset.tags:
            f = self.by_tag.get(t)
            if f is not None and (best is None or f.ts > best.ts):
                best = f
        return best if best is not None else self.by_asset.get(asset.id)


def _newest(into: dict[str, FixRecord], fixes: Iterable[FixRecord]) -> dict[str, FixRecord]:
    for f in fixes:
        old = into.get(f.tag)
        if old is None or f.ts >= old.ts:
            into[f.tag] = f
    return into


def diff_locations(
    before: Mapping[str, FixRecord], after: Mapping[str, FixRecord], *, moved_m: float = MOVED_M
) -> tuple[list[FixRecord], list[str]]:
    """What a live view must redraw between two snapshots (tag -> fix).

    Returns:
        ``(changed, removed)``: fixes of tags that are new, changed level, room or moving
        flag, or moved at least ``moved_m``, ordered by tag; and the tags no longer present,
        sorted. A newer fix at the same place is not a change.
    """
    changed = []
    for tag in sorted(after):
        f = after[tag]
        old = before.get(tag)
        if (old is None or old.level != f.level or old.room != f.room
                or old.moving != f.moving or math.hypot(f.x - old.x, f.y - old.y) >= moved_m):
            changed.append(f)
    removed = sorted(t for t in before if t not in after)
    return changed, removed


# ----------------------------------------------------------------------------- fleet
@dataclass(frozen=True, slots=True)
class Placed:
    """One asset with where it is and the state that follows.

    Attributes:
        asset: The asset.
        fix: Its latest fix (None: never seen).
        state: Its :class:`AssetState`.
        stale: The fix is older than the state map's ``stale_after_s``.
    """

    asset: Asset
    fix: FixRecord | None
    state: AssetState
    stale: bool


def place(asset: Asset, fix: FixRecord | None, site: Site, states: StateMap,
          now: float) -> Placed:
    """The state of ``asset`` given its latest fix (None: never seen) at time ``now``."""
    if fix is None:
        return Placed(asset, None, states.state(category=None, status=asset.status, age_s=None),
                      False)
    age = max(now - fix.ts, 0.0)
    if fix.room is None:
        category: str | None = None
    elif site.has_room(fix.room):
        category = site.room(fix.room).category
    else:
        category = _UNPLANNED
    state = states.state(category=category, status=asset.status, moving=fix.moving, age_s=age)
    return Placed(asset, fix, state, age > states.stale_after_s)


class Fleet:
    """A registry and the latest locations at one moment: where every asset is and its state.

    Lists and counts are computed on first use and kept for the life of the object (build a
    new one for newer locations). The available assets are found through the rooms whose
    category means available, not by placing every asset: an available asset's fix is in one
    of those rooms.

    Args:
        site: The floor plan (room categories).
        registry: The asset registry.
        locations: The latest fixes.
        states: Room category -> state, and the staleness limit.
        now: The moment ages are measured at (default: ``locations.taken_at``).
    """

    def __init__(self, site: Site, registry: Registry, locations: Locations, states: StateMap,
                 *, now: float | None = None) -> None:
        self.site = site
        self.registry = registry
        self.locations = locations
        self.states = states
        self.now = locations.taken_at if now is None else now
        self._of_type: dict[str, tuple[Placed, ...]] = {}
        self._everyone: tuple[Placed, ...] | None = None
        self._available: dict[str, list[Placed]] | None = None

    def placed(self, asset: Asset) -> Placed:
        """Where ``asset`` is and its state."""
        return place(asset, self.locations.of_asset(asset), self.site, self.states, self.now)

    def everyone(self) -> tuple[Placed, ...]:
        """Every asset of the registry, ordered by id."""
        if self._everyone is None:
            self._everyone = tuple(self.placed(a) for a in self.registry.assets)
        return self._everyone

    def of_type(self, asset_type: str) -> tuple[Placed, ...]:
        """Every asset of a type (the registry's spelling), ordered by id."""
        hit = self._of_type.get(asset_type)
        if hit is None:
            hit = tuple(self.placed(a) for a in self.registry.by_type.get(asset_type, ()))
            self._of_type[asset_type] = hit
        return hit

    def _available_by_type(self) -> dict[str, list[Placed]]:
        if self._available is not None:
            return self._available
        out: dict[str, list[Placed]] = {}
        if self.states.unknown is AssetState.AVAILABLE:  # rooms outside the plan count too
            pool: Iterable[Placed] = self.everyone()
        else:
            rooms = {r.id for r in self.site.rooms
                     if self.states.of_category(r.category) is AssetState.AVAILABLE}
            ids = self.registry.asset_ids(
                f for f in self.locations.by_tag.values() if f.room in rooms)
            by_id = self.registry.by_id
            pool = (self.placed(by_id[a]) for a in sorted(ids) if a in by_id)
        for p in pool:
            if p.state is AssetState.AVAILABLE:
                out.setdefault(p.asset.type or "", []).append(p)
        self._available = out
        return out

    def available(self, asset_type: str | None = None) -> list[Placed]:
        """The available assets of a type (None: of every type), ordered by id."""
        index = self._available_by_type()
        if asset_type is not None:
            return list(index.get(asset_type, ()))
        return sorted((p for ps in index.values() for p in ps), key=lambda p: p.asset.id)

    def in_state(self, state: AssetState, asset_type: str | None = None) -> list[Placed]:
        """The assets in ``state`` (of a type, when given), ordered by id."""
        if state is AssetState.AVAILABLE:
            return self.available(asset_type)
        pool = self.everyone() if asset_type is None else self.of_type(asset_type)
        return [p for p in pool if p.state is state]

    def type_counts(self) -> list[TypeCount]:
        """Assets and available assets per type, ordered by type."""
        index = self._available_by_type()
        return [TypeCount(t, len(self.registry.by_type[t]), len(index.get(t, ())))
                for t in self.registry.types]

    def in_room(self, room_id: str) -> list[Placed]:
        """The registered assets whose current location is ``room_id``, ordered by id."""
        ids = self.registry.asset_ids(self.locations.by_room.get(room_id, ()))
        out = []
        for aid in sorted(ids):
            asset = self.registry.by_id.get(aid)
            if asset is None:
                continue
            p = self.placed(asset)
            if p.fix is not None and p.fix.room == room_id:
                out.append(p)
        return out


# ----------------------------------------------------------------------------- wayfinding
@dataclass(frozen=True, slots=True)
class Candidate:
    """An asset ranked by walking distance from the start room.

    Attributes:
        placed: The asset, its fix and state.
        room: The room walked to (the fix's room, else the room at its x/y).
        distance_m: Walking-equivalent metres from the start room's centre to that room's.
        walk_s: ``distance_m`` at the wayfinder's walking speed.
    """

    placed: Placed
    room: str
    distance_m: float
    walk_s: float


@dataclass(frozen=True, slots=True)
class Nearest:
    """The answer to "which is nearest".

    Attributes:
        items: The nearest candidates, nearest first (ties by asset id).
        total: How many candidates were ranked (reachable or not).
        unreachable: Candidates with no walking route from the start room (or not in any room
            of the plan).
    """

    items: tuple[Candidate, ...]
    total: int
    unreachable: int


class Wayfinder:
    """The walking graph of a site, for ranking assets by walking distance.

    Building it costs a fraction of a second on a hospital plan; build one per site and keep
    it. One query runs one Dijkstra search from the start room (cached by the graph) however
    many assets are ranked.

    Args:
        site: The site.
        walking_speed_m_s: Converts elevator time to metres and metres to seconds.
    """

    def __init__(self, site: Site, *, walking_speed_m_s: float = WALKING_SPEED_M_S) -> None:
        self.site = site
        self.index = SiteIndex(site)
        self.graph = WalkingGraph.from_site(site, walking_speed_m_s=walking_speed_m_s,
                                            index=self.index)
        self.walking_speed_m_s = walking_speed_m_s
        self._rooms = frozenset(self.graph.room_ids)

    def has_room(self, room_id: str) -> bool:
        """Whether ``room_id`` is a room of the walking graph."""
        return room_id in self._rooms

    def room_of(self, fix: FixRecord) -> str | None:
        """The graph room a fix is in: its room, else the room at its x/y, else None."""
        if fix.room is not None and fix.room in self._rooms:
            return fix.room
        if fix.level is None or not self.site.has_level(fix.level):
            return None
        j = int(self.index.room_at(fix.x, fix.y, fix.level))
        rid = self.index.room_ids[j] if j >= 0 else None
        return rid if rid is not None and rid in self._rooms else None

    def nearest(self, from_room: str, placed: Sequence[Placed], *, limit: int) -> Nearest:
        """Rank ``placed`` (assets with a fix) by walking distance from ``from_room``.

        Raises:
            KeyError: ``from_room`` is not a room of the walking graph.
            ValueError: ``limit`` is not positive.
        """
        if limit < 1:
            raise ValueError(f"limit must be at least 1, got {limit}")
        dist = self.graph.distances_from(from_room)
        speed = self.walking_speed_m_s
        ranked: list[tuple[float, str, str, Placed]] = []
        for p in placed:
            room = None if p.fix is None else self.room_of(p.fix)
            d = None if room is None else dist.get(room)
            if room is not None and d is not None:
                ranked.append((d, p.asset.id, room, p))
        top = heapq.nsmallest(limit, ranked, key=lambda r: (r[0], r[1]))
        # only the few answered become candidates
        items = tuple(Candidate(p, room, round(d, 1), round(d / speed, 1))
                      for d, _, room, p in top)
        return Nearest(items, len(placed), len(placed) - len(ranked))

    def route(self, from_room: str, candidate: Candidate) -> tuple[RoutePoint, ...]:
        """The walking route to a candidate: room centre to room centre through doors,
        corridors, elevators and stairs, ending at the asset's own x/y.

        Raises:
            KeyError: ``from_room`` is not a room of the walking graph.
        """
        try:
            points = list(self.graph.route(from_room, candidate.room).points)
        except ValueError:  # unreachable: a candidate never is, but stay total
            return ()
        f = candidate.placed.fix
        if f is not None and f.level is not None:
            last = points[-1] if points else None
            if (last is None or last.level != f.level
                    or math.hypot(last.x - f.x, last.y - f.y) > _SAME_POINT_M):
                points.append(RoutePoint(f.level, f.x, f.y))
        return tuple(points)
