"""Asset movement: porters and clinicians move equipment along walking routes.

Each asset cycles through its home storage → a patient room (dwell hours) → the nearest dirty
utility → the nearest clean utility → home storage. Departures follow the day/night rhythm: a
departure falling at night is kept only with probability ``night_factor``, otherwise postponed
to the next morning. Trips follow :meth:`WalkingGraph.route` polylines at a per-trip walking
speed in ``[speed_min, speed_max]``; level changes take the elevator wait plus a per-level time,
with the asset at the shaft position (the level switches half-way). A small fraction of assets
goes missing (leaves the building) at a random time and is never heard again.
"""

from __future__ import annotations

import itertools
import math
from dataclasses import dataclass
from datetime import datetime
from typing import TYPE_CHECKING

import numpy as np
import numpy.typing as npt
import shapely
from shapely.geometry import LineString, Polygon

from floorplans.model import Site
from simulator.assets import ASSET_TYPES, Fleet
from simulator.config import MovementConfig

if TYPE_CHECKING:
    from floorplans.routing import WalkingGraph
    from floorplans.spatial import SiteIndex

__all__ = ["Movement", "Trip", "sample_in_room"]

_STORAGE, _PATIENT, _DIRTY, _CLEAN = 0, 1, 2, 3
F64 = npt.NDArray[np.float64]


@dataclass(frozen=True, slots=True)
class Trip:
    """A timed polyline: at ``t[i]`` the asset is at ``(x[i], y[i])`` on level ``level[i]``."""

    t: F64
    x: F64
    y: F64
    level: npt.NDArray[np.int32]
    dest_room: int
    dest_stage: int

    def at(self, t: float) -> tuple[float, float, int, float]:
        """Position ``(x, y, level, heading)`` at time ``t`` (clamped to the trip)."""
        n = self.t.shape[0]
        i = int(np.searchsorted(self.t, t, side="right")) - 1
        if i >= n - 1:
            return float(self.x[-1]), float(self.y[-1]), int(self.level[-1]), 0.0
        i = max(i, 0)
        span = self.t[i + 1] - self.t[i]
        f = 0.0 if span <= 0 else min(max((t - self.t[i]) / span, 0.0), 1.0)
        dx = self.x[i + 1] - self.x[i]
        dy = self.y[i + 1] - self.y[i]
        lv = int(self.level[i] if f < 0.5 or self.level[i] == self.level[i + 1]
                 else self.level[i + 1])
        return (float(self.x[i] + f * dx), float(self.y[i] + f * dy), lv,
                math.atan2(dy, dx) if dx or dy else 0.0)


def sample_in_room(poly: Polygon, rng: np.random.Generator, *, margin_m: float = 0.4,
                   tries: int = 64) -> tuple[float, float]:
    """A random point inside a room, at least ``margin_m`` from its walls when possible."""
    inner = poly.buffer(-margin_m)
    target = inner if not inner.is_empty and inner.area > 0.05 else poly
    minx, miny, maxx, maxy = target.bounds
    xs = rng.uniform(minx, maxx, tries)
    ys = rng.uniform(miny, maxy, tries)
    ok = shapely.contains_xy(target, xs, ys)
    if ok.any():
        k = int(np.argmax(ok))
        return float(xs[k]), float(ys[k])
    p = target.representative_point()
    return float(p.x), float(p.y)


class Movement:
    """Positions of the fleet over time.

    Args:
        site: The site.
        index: Its spatial index (level and room indices).
        graph: Its walking graph (None: nothing ever moves).
        fleet: The assets.
        cfg: Movement parameters.
        rng: Random generator (the movement's own stream).
        start: Simulated start time (its UTC offset defines local time for the day rhythm).
        duration_s: Simulated duration (to schedule missing assets).
    """

    def __init__(self, site: Site, index: SiteIndex, graph: WalkingGraph | None, fleet: Fleet,
                 cfg: MovementConfig, rng: np.random.Generator, start: datetime,
                 duration_s: float) -> None:
        self.site, self.index, self.graph, self.fleet, self.cfg = site, index, graph, fleet, cfg
        self.rng = rng
        off = start.utcoffset()
        self._local0 = start.timestamp() + (off.total_seconds() if off else 0.0)
        n = len(fleet)
        self._lv_of_room = np.array([index.level_index(r.level) for r in site.rooms],
                                    dtype=np.int32)
        self._ordinal = np.array([site.level(lid).ordinal for lid in index.level_ids])
        self._elev = np.array([site.level(lid).elevation_m for lid in index.level_ids])
        self._outline = [site.level(lid).outline for lid in index.level_ids]
        self._by_cat: dict[tuple[str, str], list[int]] = {}
        self._all_cat: dict[str, list[int]] = {}
        for j, r in enumerate(site.rooms):
            self._by_cat.setdefault((r.department or r.level, r.category), []).append(j)
            self._all_cat.setdefault(r.category, []).append(j)
        self._dist_cache: dict[int, dict[str, float]] = {}
        self.x = np.empty(n)
        self.y = np.empty(n)
        self.level = np.empty(n, dtype=np.int32)
        self.room = np.empty(n, dtype=np.int32)
        self.heading = np.zeros(n)
        self.moving = np.zeros(n, dtype=np.bool_)
        self.missing = np.zeros(n, dtype=np.bool_)
        self.stage = np.zeros(n, dtype=np.int8)
        self.speed = np.zeros(n)
        self.next_departure = np.full(n, np.inf)
        self.trips: dict[int, Trip] = {}
        lost = rng.random(n) < cfg.missing_fraction
        lost &= ~fleet.reference
        self.missing_at = np.where(lost, rng.uniform(0.0, duration_s, n), np.inf)
        stages = rng.choice(4, size=n, p=[0.55, 0.30, 0.08, 0.07])
        for a in range(n):
            room = int(fleet.home[a])
            stage = _STORAGE
            if not fleet.reference[a] and graph is not None and stages[a] != _STORAGE:
                dest = self._destination(a, room, int(stages[a]))
                if dest is not None:
                    room, stage = dest, int(stages[a])
            self._park(a, room, stage)
            if not fleet.reference[a] and graph is not None:
                self.next_departure[a] = self._schedule(a, 0.0)

    # -- scheduling -----------------------------------------------------------------------
    def local_hour(self, t: float) -> float:
        """Local wall-clock hour of day at simulated time ``t``."""
        return ((self._local0 + t) % 86400.0) / 3600.0

    def _dwell_mean_s(self, a: int, stage: int) -> float:
        c = self.cfg
        if stage == _PATIENT:
            return c.patient_dwell_mean_h * 3600.0
        if stage in (_DIRTY, _CLEAN):
            return c.utility_dwell_mean_h * 3600.0
        tf = ASSET_TYPES[int(self.fleet.type_index[a])].trips_factor
        cycle_h = 24.0 / max(c.trips_per_asset_day * tf, 1e-6)
        return max(0.5, cycle_h - c.patient_dwell_mean_h - 2 * c.utility_dwell_mean_h) * 3600.0

    def _schedule(self, a: int, now: float) -> float:
        t = now + float(self.rng.exponential(self._dwell_mean_s(a, int(self.stage[a]))))
        c = self.cfg
        for _ in range(8):
            h = self.local_hour(t)
            night = not (c.day_start_h <= h < c.day_end_h)
            if not night or self.rng.random() < c.night_factor:
                return t
            wait_h = (c.day_start_h - h) % 24.0
            t += wait_h * 3600.0 + float(self.rng.uniform(0.0, 7200.0))
        return t

    def _nearest(self, room: int, cands: list[int]) -> int | None:
        assert self.graph is not None
        rid = self.site.rooms[room].id
        dist = self._dist_cache.get(room)
        if dist is None:
            dist = self._dist_cache[room] = self.graph.distances_from(rid)
        best = min(cands, key=lambda j: dist.get(self.site.rooms[j].id, math.inf))
        return best if math.isfinite(dist.get(self.site.rooms[best].id, math.inf)) else None

    def _destination(self, a: int, room: int, stage: int) -> int | None:
        dept = self.fleet.department[a]
        if stage == _PATIENT:
            cats = ASSET_TYPES[int(self.fleet.type_index[a])].use_categories
            cands = [j for c in cats for j in self._by_cat.get((dept, c), [])]
            if not cands:
                cands = [j for c in cats for j in self._all_cat.get(c, [])]
            if not cands:
                return None
            return int(cands[int(self.rng.integers(0, len(cands)))])
        if stage == _STORAGE:
            return int(self.fleet.home[a])
        cat = "dirty_utility" if stage == _DIRTY else "clean_utility"
        cands = self._by_cat.get((dept, cat)) or self._all_cat.get(cat, [])
        return self._nearest(room, cands) if cands else None

    def _park(self, a: int, room: int, stage: int) -> None:
        x, y = sample_in_room(self.site.rooms[room].polygon, self.rng)
        self.x[a], self.y[a] = x, y
        self.level[a] = self._lv_of_room[room]
        self.room[a] = room
        self.stage[a] = stage
        self.moving[a] = False

    def _start_trip(self, a: int, now: float) -> bool:
        assert self.graph is not None
        stage = int(self.stage[a])
        room = int(self.room[a])
        for _ in range(4):
            stage = (stage + 1) % 4
            dest = self._destination(a, room, stage)
            if dest is not None and dest != room:
                break
        else:
            return False
        try:
            route = self.graph.route(self.site.rooms[room].id, self.site.rooms[dest].id)
        except (KeyError, ValueError):
            return False
        speed = float(self.rng.uniform(self.cfg.speed_min_m_s, self.cfg.speed_max_m_s))
        dx, dy = sample_in_room(self.site.rooms[dest].polygon, self.rng)
        pts = [(float(self.x[a]), float(self.y[a]), int(self.level[a]))]
        pts += [(p.x, p.y, self.index.level_index(p.level)) for p in route.points]
        pts.append((dx, dy, int(self._lv_of_room[dest])))
        pts = self._split_level_crossings(pts)
        ts = [now]
        for (x0, y0, l0), (x1, y1, l1) in itertools.pairwise(pts):
            if l0 == l1 or self._elev[l0] == self._elev[l1]:
                step = math.hypot(x1 - x0, y1 - y0) / speed
            else:
                step = (self.cfg.elevator_wait_s + self.cfg.elevator_per_level_s
                        * abs(int(self._ordinal[l1]) - int(self._ordinal[l0])))
                step = max(step, math.hypot(x1 - x0, y1 - y0) / speed)
            ts.append(ts[-1] + step)
        self.trips[a] = Trip(np.array(ts), np.array([p[0] for p in pts]),
                             np.array([p[1] for p in pts]),
                             np.array([p[2] for p in pts], dtype=np.int32), dest, stage)
        self.moving[a] = True
        self.speed[a] = speed
        return True

    def _split_level_crossings(self, pts: list[tuple[float, float, int]]
                               ) -> list[tuple[float, float, int]]:
        """Walking from one building's level into another's at the same height (a bridge):
        insert the point where the walk leaves the first level's outline, on both levels."""
        out = [pts[0]]
        for (x0, y0, l0), (x1, y1, l1) in itertools.pairwise(pts):
            if l0 != l1 and self._elev[l0] == self._elev[l1] and (x0, y0) != (x1, y1):
                cross = LineString([(x0, y0), (x1, y1)]).intersection(self._outline[l0].boundary)
                if not cross.is_empty:
                    c = min(shapely.get_coordinates(cross).tolist(),
                            key=lambda q: math.hypot(q[0] - x0, q[1] - y0))
                    out.append((c[0], c[1], l0))
                    out.append((c[0], c[1], l1))
            out.append((x1, y1, l1))
        return out

    # -- time step -------------------------------------------------------------------------
    def advance(self, t: float) -> npt.NDArray[np.int64]:
        """Move everything to time ``t`` (non-decreasing); returns the assets whose position,
        level or moving/missing state changed."""
        changed: list[int] = []
        newly_lost = np.flatnonzero((self.missing_at <= t) & ~self.missing)
        for a in newly_lost:
            self.missing[a] = True
            self.trips.pop(int(a), None)
            self.moving[a] = False
            self.next_departure[a] = np.inf
            changed.append(int(a))
        for a in np.flatnonzero(self.next_departure <= t):
            ai = int(a)
            if self._start_trip(ai, float(self.next_departure[ai])):
                self.next_departure[ai] = np.inf
            else:
                self.next_departure[ai] = self._schedule(ai, t)
        for ai, trip in list(self.trips.items()):
            if t >= trip.t[-1]:
                del self.trips[ai]
                self.x[ai], self.y[ai] = trip.x[-1], trip.y[-1]
                self.level[ai] = trip.level[-1]
                self.room[ai] = trip.dest_room
                self.stage[ai] = trip.dest_stage
                self.moving[ai] = False
                self.next_departure[ai] = self._schedule(ai, float(trip.t[-1]))
            else:
                x, y, lv, hd = trip.at(t)
                self.x[ai], self.y[ai], self.level[ai], self.heading[ai] = x, y, lv, hd
                self.room[ai] = -2  # resolved lazily by truth_rooms()
            changed.append(ai)
        return np.unique(np.asarray(changed, dtype=np.int64))

    def truth_rooms(self) -> npt.NDArray[np.int32]:
        """Room index of every asset's current position (``SiteIndex.room_at``; -1 outside)."""
        need = self.room == -2
        if need.any():
            self.room[need] = self.index.room_at(self.x[need], self.y[need], self.level[need])
        return self.room.copy()
