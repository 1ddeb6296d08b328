"""The walking graph of a site: shortest walking routes between rooms, across levels.

Nodes sit at each room's representative point, at each door (the midpoint of its
:class:`~floorplans.model.Opening`), at an *approach point* 0.6 m into each room the door
serves, at each connector shaft on every level it serves, and at waypoints just inside the
reflex corners of non-convex rooms. Inside a room, every pair of its nodes that can see each
other (the straight segment stays within the closed room polygon) is joined by an edge of that
length, so routes through large or L-shaped corridors are shortest paths that stay inside.

Vertical edges come from :class:`~floorplans.model.Connector` features:

* elevator: ``elevator_wait_s`` (30 s) once per ride plus ``elevator_s_per_level`` (4 s) per
  level travelled, converted to metres at the walking speed (the *walking-equivalent* metres);
* stairs, escalators and ramps: ``stairs_m_per_rise_m`` (2 m walked per metre of rise) between
  consecutive levels.

All costs are walking-equivalent metres; ``seconds = metres / walking_speed``. Dijkstra runs on
the graph with :mod:`heapq`; results of :meth:`WalkingGraph.distances_from` are cached.
"""

from __future__ import annotations

import heapq
import math
from dataclasses import dataclass

import numpy as np
import shapely
from shapely.geometry import LineString, Point, Polygon
from shapely.geometry.polygon import orient

from floorplans.model import Opening, Room, Site
from floorplans.spatial import SiteIndex

__all__ = ["DOOR_TOUCH_M", "Route", "RoutePoint", "WalkingGraph", "door_rooms",
           "room_adjacency"]

_APPROACH_M = 0.6
_CORNER_M = 0.3
DOOR_TOUCH_M = 0.05
"""A door joins the rooms whose outlines come this close to it (metres)."""
_CACHE = 256


@dataclass(frozen=True, slots=True)
class RoutePoint:
    """A point of a route: level id and local metres."""

    level: str
    x: float
    y: float


@dataclass(frozen=True, slots=True)
class Route:
    """A walking route between two rooms.

    Attributes:
        rooms: Rooms passed through, in order (consecutive repeats removed).
        points: Polyline to walk; consecutive points on one level are joined by a straight
            segment inside a room or through a door; a change of level is a ride or a climb.
        distance_m: Walking-equivalent metres (elevator time converted at the walking speed).
        seconds: ``distance_m`` divided by the walking speed.
    """

    rooms: tuple[str, ...]
    points: tuple[RoutePoint, ...]
    distance_m: float
    seconds: float


class WalkingGraph:
    """Walking graph of a site: nodes at room centres, doors and connector shafts; edges
    through doors, across rooms and corridors, and up and down elevators and stairs.

    Build it with :meth:`from_site`.
    """

    def __init__(self, site: Site, walking_speed_m_s: float) -> None:
        """Empty graph; use :meth:`from_site`."""
        if not (math.isfinite(walking_speed_m_s) and walking_speed_m_s > 0):
            raise ValueError(f"walking_speed_m_s must be positive, got {walking_speed_m_s!r}")
        self.site = site
        self.walking_speed_m_s = walking_speed_m_s
        self._level: list[str] = []
        self._x: list[float] = []
        self._y: list[float] = []
        self._room: list[str | None] = []
        self._adj: list[list[tuple[int, float]]] = []
        self._room_node: dict[str, int] = {}
        self._cache: dict[str, tuple[list[float], list[int]]] = {}

    # ------------------------------------------------------------------ construction
    @classmethod
    def from_site(
        cls,
        site: Site,
        *,
        walking_speed_m_s: float = 1.2,
        elevator_wait_s: float = 30.0,
        elevator_s_per_level: float = 4.0,
        stairs_m_per_rise_m: float = 2.0,
        index: SiteIndex | None = None,
    ) -> WalkingGraph:
        """Build the walking graph of ``site``.

        Args:
            site: The site.
            walking_speed_m_s: Walking speed that converts elevator time to metres and metres
                to seconds.
            elevator_wait_s: Fixed time per elevator ride.
            elevator_s_per_level: Ride time per level travelled.
            stairs_m_per_rise_m: Metres walked on stairs per metre of height climbed.
            index: A :class:`SiteIndex` of ``site`` to reuse (built if omitted).

        Returns:
            The graph.
        """
        g = cls(site, walking_speed_m_s)
        idx = index if index is not None else SiteIndex(site)
        inside: dict[str, list[int]] = {r.id: [] for r in site.rooms}
        for room in site.rooms:
            if not site.has_level(room.level) or room.id in g._room_node:
                continue
            p = room.polygon.centroid
            if not room.polygon.contains(p):
                p = room.polygon.representative_point()
            g._room_node[room.id] = g._node(room.level, p.x, p.y, room.id)
            inside[room.id].append(g._room_node[room.id])
        for opening in site.openings:
            g._add_door(opening, g._door_rooms(opening, idx), inside)
        g._add_connectors(idx, inside, elevator_wait_s, elevator_s_per_level,
                          stairs_m_per_rise_m)
        for rid, nodes in inside.items():
            if rid in g._room_node:
                g._connect_room(site.room(rid).polygon, rid, nodes)
        return g

    def _node(self, level: str, x: float, y: float, room: str | None) -> int:
        self._level.append(level)
        self._x.append(float(x))
        self._y.append(float(y))
        self._room.append(room)
        self._adj.append([])
        return len(self._x) - 1

    def _edge(self, a: int, b: int, cost: float) -> None:
        self._adj[a].append((b, cost))
        self._adj[b].append((a, cost))

    def _dist(self, a: int, b: int) -> float:
        return math.hypot(self._x[a] - self._x[b], self._y[a] - self._y[b])

    def _door_rooms(self, opening: Opening, idx: SiteIndex) -> list[Room]:
        return [r for r in door_rooms(self.site, opening) if r.id in self._room_node]

    def _add_door(self, opening: Opening, rooms: list[Room],
                  inside: dict[str, list[int]]) -> None:
        if len(rooms) < 2:
            return
        geom = opening.geometry
        mid = geom.interpolate(0.5, normalized=True) if isinstance(geom, LineString) else geom
        door = self._node(opening.level, mid.x, mid.y, None)
        for room in rooms:
            p = _approach(geom, mid, room)
            if p is None:
                self._edge(door, self._room_node[room.id], 0.0)
                continue
            a = self._node(room.level, p.x, p.y, room.id)
            self._edge(door, a, self._dist(door, a))
            inside[room.id].append(a)

    def _add_connectors(self, idx: SiteIndex, inside: dict[str, list[int]], wait_s: float,
                        per_level_s: float, stairs_ratio: float) -> None:
        site, speed = self.site, self.walking_speed_m_s
        for conn in site.connectors:
            stops: list[tuple[float, int]] = []
            for lid in dict.fromkeys(conn.levels):
                if not site.has_level(lid):
                    continue
                rid = next((r for r in conn.rooms if site.has_room(r)
                            and site.room(r).level == lid), None)
                if rid is None:
                    j = int(idx.room_at(conn.x, conn.y, lid))
                    rid = idx.room_ids[j] if j >= 0 else None
                if rid is None or rid not in self._room_node:
                    continue
                n = self._node(lid, conn.x, conn.y, rid)
                inside[rid].append(n)
                stops.append((site.level(lid).elevation_m, n))
            stops.sort()
            for i in range(len(stops)):
                for j in range(i + 1, len(stops)):
                    if conn.kind == "elevator":
                        cost = (wait_s + per_level_s * (j - i)) * speed
                    elif j == i + 1:
                        cost = max(stairs_ratio * abs(stops[j][0] - stops[i][0]), 0.1)
                    else:
                        break
                    self._edge(stops[i][1], stops[j][1], cost)

    def _connect_room(self, polygon: Polygon, rid: str, nodes: list[int]) -> None:
        convex = polygon.convex_hull.area - polygon.area <= 1e-9 * max(polygon.area, 1.0)
        if not convex:
            for p in _corner_waypoints(polygon):
                nodes.append(self._node(self.site.room(rid).level, p[0], p[1], rid))
        if len(nodes) < 2:
            return
        ia, ib = np.triu_indices(len(nodes), k=1)
        na, nb = np.asarray(nodes)[ia], np.asarray(nodes)[ib]
        if convex:
            visible = np.ones(ia.size, dtype=bool)
        else:
            xs, ys = np.asarray(self._x), np.asarray(self._y)
            coords = np.stack([np.stack([xs[na], ys[na]], 1), np.stack([xs[nb], ys[nb]], 1)], 1)
            segs = shapely.linestrings(coords)
            visible = shapely.covers(polygon.buffer(1e-6), segs)
        for a, b, vis in zip(na.tolist(), nb.tolist(), visible.tolist(), strict=True):
            if vis:
                self._edge(a, b, self._dist(a, b))
        # A node that sees nothing (a badly drawn room) still joins the room's centre.
        centre = self._room_node[rid]
        for n in nodes:
            if n != centre and not any(m in nodes for m, _ in self._adj[n] if m != n):
                self._edge(n, centre, self._dist(n, centre))

    # ------------------------------------------------------------------ queries
    @property
    def room_ids(self) -> tuple[str, ...]:
        """The rooms of the graph."""
        return tuple(self._room_node)

    def _source(self, room: str) -> int:
        try:
            return self._room_node[room]
        except KeyError:
            raise KeyError(f"unknown room {room!r} in site {self.site.id!r}") from None

    def _dijkstra(self, src: int, target: int = -1) -> tuple[list[float], list[int]]:
        dist = [math.inf] * len(self._x)
        prev = [-1] * len(self._x)
        dist[src] = 0.0
        heap = [(0.0, src)]
        adj = self._adj
        while heap:
            d, u = heapq.heappop(heap)
            if d > dist[u]:
                continue
            if u == target:
                break
            for v, w in adj[u]:
                nd = d + w
                if nd < dist[v]:
                    dist[v] = nd
                    prev[v] = u
                    heapq.heappush(heap, (nd, v))
        return dist, prev

    def distances_from(self, room: str) -> dict[str, float]:
        """Walking-equivalent metres from ``room`` to every reachable room (itself included).

        Raises:
            KeyError: Unknown room.
        """
        dist = self._tree(room)[0]
        return {r: dist[n] for r, n in self._room_node.items() if dist[n] < math.inf}

    def _tree(self, room: str) -> tuple[list[float], list[int]]:
        """The full shortest-path tree from ``room`` (distances, predecessors), cached."""
        tree = self._cache.get(room)
        if tree is None:
            tree = self._dijkstra(self._source(room))
            if len(self._cache) >= _CACHE:
                self._cache.pop(next(iter(self._cache)))
            self._cache[room] = tree
        return tree

    def distance(self, room_a: str, room_b: str) -> float:
        """Walking-equivalent metres from ``room_a`` to ``room_b`` (``math.inf`` if unreachable).

        Raises:
            KeyError: Unknown room.
        """
        src, dst = self._source(room_a), self._source(room_b)
        cached = self._cache.get(room_a)
        if cached is not None:
            return cached[0][dst]
        return self._dijkstra(src, dst)[0][dst]

    def route(self, room_a: str, room_b: str) -> Route:
        """The shortest walking route from the centre of ``room_a`` to that of ``room_b``.

        Raises:
            KeyError: Unknown room.
            ValueError: ``room_b`` cannot be reached from ``room_a``.
        """
        src, dst = self._source(room_a), self._source(room_b)
        # The cached tree of a start room (the porter's) answers every route from it; an
        # uncached start runs a search that stops at the destination.
        dist, prev = self._cache.get(room_a) or self._dijkstra(src, dst)
        if dist[dst] == math.inf:
            raise ValueError(f"room {room_b!r} cannot be reached from {room_a!r}")
        path = [dst]
        while path[-1] != src:
            path.append(prev[path[-1]])
        path.reverse()
        points: list[RoutePoint] = []
        rooms: list[str] = []
        for n in path:
            p = RoutePoint(self._level[n], self._x[n], self._y[n])
            if not points or points[-1] != p:
                points.append(p)
            r = self._room[n]
            if r is not None and (not rooms or rooms[-1] != r):
                rooms.append(r)
        d = dist[dst]
        return Route(tuple(rooms), tuple(points), d, d / self.walking_speed_m_s)


def _approach(geom: LineString | Point, mid: Point, room: Room) -> Point | None:
    """A point ``_APPROACH_M`` into ``room`` from the door midpoint, or None."""
    poly = room.polygon
    dirs: list[tuple[float, float]] = []
    if isinstance(geom, LineString) and geom.length > 0:
        (x0, y0), (x1, y1) = geom.coords[0], geom.coords[-1]
        ln = math.hypot(x1 - x0, y1 - y0)
        if ln > 0:
            nx, ny = -(y1 - y0) / ln, (x1 - x0) / ln
            dirs += [(nx, ny), (-nx, -ny)]
    c = poly.representative_point()
    dx, dy = c.x - mid.x, c.y - mid.y
    dl = math.hypot(dx, dy)
    if dl > 0:
        dirs.append((dx / dl, dy / dl))
    for ux, uy in dirs:
        for step in (_APPROACH_M, _APPROACH_M / 4):
            p = Point(mid.x + ux * step, mid.y + uy * step)
            if poly.contains(p):
                return p
    return None


def _corner_waypoints(polygon: Polygon) -> list[tuple[float, float]]:
    """Points just inside the reflex corners of a polygon (where shortest paths bend)."""
    poly = orient(polygon, 1.0)
    out: list[tuple[float, float]] = []
    for ring in (poly.exterior, *poly.interiors):
        pts = np.asarray(ring.coords)[:-1]
        n = len(pts)
        for i in range(n):
            p, a, b = pts[i], pts[i - 1], pts[(i + 1) % n]
            u, v = p - a, b - p
            if u[0] * v[1] - u[1] * v[0] >= 0:  # convex (left turn) or straight
                continue
            nu, nv = np.hypot(*u), np.hypot(*v)
            if nu == 0 or nv == 0:
                continue
            bis = -u / nu + v / nv  # points out of the polygon at a reflex corner
            bl = float(np.hypot(*bis))
            if bl == 0:
                continue
            q = p - bis / bl * _CORNER_M
            if polygon.contains(Point(q[0], q[1])):
                out.append((float(q[0]), float(q[1])))
    return out


def door_rooms(site: Site, opening: Opening, candidates: list[Room] | None = None, *,
               tolerance_m: float = DOOR_TOUCH_M) -> list[Room]:
    """The rooms an opening joins: those it names, or else the rooms of its level whose
    outline lies within ``tolerance_m`` of it.

    Args:
        site: The site.
        opening: The door or opening.
        candidates: The rooms of the opening's level, when the caller has them at hand.
        tolerance_m: How close a room must come to the opening.
    """
    if opening.rooms:
        return [site.room(r) for r in dict.fromkeys(opening.rooms) if site.has_room(r)]
    if not site.has_level(opening.level):
        return []
    cands = site.rooms_on(opening.level) if candidates is None else candidates
    if not cands:
        return []
    near = shapely.dwithin(np.array([r.polygon for r in cands], dtype=object),
                           opening.geometry, tolerance_m)
    return [r for r, hit in zip(cands, near, strict=True) if hit]


def room_adjacency(site: Site) -> list[set[int]]:
    """Rooms one can walk between directly, as sets of room indexes (``site.rooms`` order).

    Two rooms are adjacent when a door joins them (:func:`door_rooms`). On a level without any
    door (an imported plan that has none), rooms that touch are taken as adjacent instead.
    """
    index = {r.id: i for i, r in enumerate(site.rooms)}
    adj: list[set[int]] = [set() for _ in site.rooms]
    by_level: dict[str, list[Room]] = {}
    for r in site.rooms:
        by_level.setdefault(r.level, []).append(r)
    doors: dict[str, list[Opening]] = {}
    for o in site.openings:
        doors.setdefault(o.level, []).append(o)
    for level, rooms in by_level.items():
        if doors.get(level):
            for o in doors[level]:
                joined = [index[r.id] for r in door_rooms(site, o, rooms)]
                for a in joined:
                    adj[a].update(b for b in joined if b != a)
        else:
            polys = np.array([r.polygon for r in rooms], dtype=object)
            for r in rooms:
                touching = shapely.dwithin(polys, r.polygon, DOOR_TOUCH_M)
                adj[index[r.id]].update(index[o.id] for o, hit in zip(rooms, touching, strict=True)
                                        if hit and o.id != r.id)
    return adj
