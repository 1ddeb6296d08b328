"""Vectorised spatial queries over a site: which room a point is in, which walls a ray crosses.

:class:`SiteIndex` is built once per :class:`~floorplans.model.Site` and answers queries on
arrays of points or segments with Numba kernels over per-level uniform grids:

* **room_at** — each grid cell lists the rooms whose polygon meets the (closed) cell; a cell
  covered by the interior of exactly one room answers without any polygon test, the others run
  a point-in-polygon test on their candidates in ascending room index.
* **wall_loss_db / walls_crossed** — each wall segment is bucketed into the cells its bounding
  box meets; a query segment visits the cells it passes through (column by column) and tests
  the segments found there, counting every wall at most once.

Tie-break on shared walls: a point is in the room with the **lowest index** (position in
``site.rooms``) among those whose *closed* polygon covers it, within :data:`BOUNDARY_EPS_M`. So a
point exactly on the wall between rooms 3 and 7 is in room 3, and a point on a level's outer wall
is still in the room behind that wall. A segment crosses a wall when the two closed segments
share at least one point (touching counts, as with shapely ``intersects``).

The geometric predicates run without fastmath: contracting products into FMAs would change the
sign of near-zero orientation tests and break the exact tie-break on axis-aligned walls.
"""

from __future__ import annotations

import itertools
import math
from collections.abc import Callable
from typing import Any, TypeVar, cast

import numpy as np
import shapely
from numba import njit
from numpy.typing import ArrayLike, NDArray
from shapely.geometry import LineString, Polygon

from floorplans.model import Site

__all__ = ["BOUNDARY_EPS_M", "SiteIndex"]

#: Distance within which a point counts as on a room's boundary (and so inside it).
BOUNDARY_EPS_M = 1e-9
_TARGET_ROOM_CELLS = 16384
_MAX_ROOM_CELLS = 262144
_WALL_CELL_M = 3.0
_MAX_WALL_CELLS = 65536
_PAD_M = 0.5

_F = TypeVar("_F", bound=Callable[..., Any])


def _kernel(fn: _F) -> _F:
    return cast(_F, njit(cache=True, nogil=True)(fn))


FloatArray = NDArray[np.float64]
IntArray = NDArray[np.int32]


class _Grid:
    """A uniform grid over one level with a CSR list of items per cell."""

    def __init__(self, minx: float, miny: float, cell: float, nx: int, ny: int) -> None:
        self.minx, self.miny, self.cell, self.nx, self.ny = minx, miny, cell, nx, ny

    @classmethod
    def over(cls, bounds: tuple[float, float, float, float], target: int, min_cell: float,
             max_cells: int) -> _Grid:
        x0, y0, x1, y1 = bounds
        x0, y0, x1, y1 = x0 - _PAD_M, y0 - _PAD_M, x1 + _PAD_M, y1 + _PAD_M
        w, h = x1 - x0, y1 - y0
        cell = max(min_cell, math.sqrt(w * h / target), math.sqrt(w * h / max_cells))
        return cls(x0, y0, cell, max(1, math.ceil(w / cell)), max(1, math.ceil(h / cell)))

    def boxes(self) -> NDArray[np.object_]:
        ix, iy = np.meshgrid(np.arange(self.nx), np.arange(self.ny))
        bx0 = self.minx + ix.ravel() * self.cell
        by0 = self.miny + iy.ravel() * self.cell
        e = 1e-6
        return cast(NDArray[np.object_], shapely.box(
            bx0 - e, by0 - e, bx0 + self.cell + e, by0 + self.cell + e))


def _csr(cells: NDArray[np.int64], items: NDArray[np.int64], ncells: int
         ) -> tuple[NDArray[np.int64], IntArray]:
    order = np.lexsort((items, cells))
    counts = np.bincount(cells, minlength=ncells)
    start = np.zeros(ncells + 1, dtype=np.int64)
    np.cumsum(counts, out=start[1:])
    return start, np.ascontiguousarray(items[order], dtype=np.int32)


class SiteIndex:
    """Vectorised spatial queries over one :class:`Site` (built once, reused).

    Attributes:
        site: The indexed site.
        level_ids: Level index ``i`` <-> ``site.levels[i].id``.
        room_ids: Room index ``j`` <-> ``site.rooms[j].id``.
    """

    def __init__(self, site: Site) -> None:
        """Index ``site``: per-level grids of rooms and wall segments.

        Rooms and walls on a level id that the site does not define are not indexed.
        """
        self.site = site
        self.level_ids: tuple[str, ...] = tuple(lv.id for lv in site.levels)
        self.room_ids: tuple[str, ...] = tuple(r.id for r in site.rooms)
        self._level_pos = {lid: i for i, lid in reversed(list(enumerate(self.level_ids)))}
        self._room_pos = {rid: j for j, rid in reversed(list(enumerate(self.room_ids)))}
        self._build_rooms()
        self._build_walls()

    # ---------------------------------------------------------------- construction
    def _level_bounds(self, i: int, geoms: list[Any]) -> tuple[float, float, float, float]:
        b = np.array([self.site.levels[i].outline.bounds] + [g.bounds for g in geoms])
        return (float(b[:, 0].min()), float(b[:, 1].min()), float(b[:, 2].max()),
                float(b[:, 3].max()))

    def _build_rooms(self) -> None:
        site, nl = self.site, len(self.level_ids)
        ex0: list[float] = []
        ey0: list[float] = []
        ex1: list[float] = []
        ey1: list[float] = []
        estart = [0]
        for room in site.rooms:
            for ring in (room.polygon.exterior, *room.polygon.interiors):
                c = np.asarray(ring.coords, dtype=np.float64)
                ex0 += c[:-1, 0].tolist()
                ey0 += c[:-1, 1].tolist()
                ex1 += c[1:, 0].tolist()
                ey1 += c[1:, 1].tolist()
            estart.append(len(ex0))
        self._edges = tuple(np.ascontiguousarray(a, dtype=np.float64)
                            for a in (ex0, ey0, ex1, ey1))
        self._estart = np.asarray(estart, dtype=np.int64)
        bounds = np.array([r.polygon.bounds for r in site.rooms], dtype=np.float64).reshape(-1, 4)
        self._rbox = np.ascontiguousarray(bounds)
        meta = np.zeros((nl, 5), dtype=np.float64)  # minx, miny, cell, nx, ny
        cell0 = np.zeros(nl + 1, dtype=np.int64)
        starts: list[NDArray[np.int64]] = []
        items: list[IntArray] = []
        fulls: list[IntArray] = []
        for i, lid in enumerate(self.level_ids):
            idx = [j for j, r in enumerate(site.rooms) if r.level == lid]
            polys = [site.rooms[j].polygon for j in idx]
            grid = _Grid.over(self._level_bounds(i, polys), _TARGET_ROOM_CELLS, 0.25,
                              _MAX_ROOM_CELLS)
            meta[i] = (grid.minx, grid.miny, grid.cell, grid.nx, grid.ny)
            ncells = grid.nx * grid.ny
            cell0[i + 1] = cell0[i] + ncells
            full = np.full(ncells, -1, dtype=np.int32)
            if polys:
                boxes = grid.boxes()
                tree = shapely.STRtree(polys)
                cells, local = tree.query(boxes, predicate="intersects")
                rooms = np.asarray(idx, dtype=np.int64)[local]
                start, its = _csr(cells.astype(np.int64), rooms, ncells)
                counts = np.diff(start)
                single = np.flatnonzero(counts == 1)
                if single.size:
                    only = its[start[single]]
                    geoms = np.array([site.rooms[j].polygon for j in only], dtype=object)
                    inside = shapely.contains_properly(geoms, boxes[single])
                    full[single[inside]] = only[inside]
            else:
                start, its = np.zeros(ncells + 1, dtype=np.int64), np.zeros(0, dtype=np.int32)
            starts.append(start[:-1] + sum(len(x) for x in items))
            items.append(its)
            fulls.append(full)
        total = sum(len(x) for x in items)
        self._rmeta = meta
        self._rcell0 = cell0
        self._rstart = np.concatenate([*starts, np.array([total], dtype=np.int64)])
        self._ritems = (np.concatenate(items) if items else np.zeros(0, np.int32)).astype(np.int32)
        self._rfull = (np.concatenate(fulls) if fulls else np.zeros(0, np.int32)).astype(np.int32)

    def _build_walls(self) -> None:
        site, nl = self.site, len(self.level_ids)
        self._wall_att = np.array([w.attenuation_db for w in site.walls], dtype=np.float64)
        self._wmeta = np.zeros((nl, 5), dtype=np.float64)
        self._wgrid: list[tuple[FloatArray, FloatArray, FloatArray, FloatArray, IntArray,
                                NDArray[np.int64], IntArray]] = []
        for i, lid in enumerate(self.level_ids):
            walls = [(k, w.line) for k, w in enumerate(site.walls) if w.level == lid]
            segs: list[tuple[float, float, float, float, int]] = []
            for k, line in walls:
                c = np.asarray(line.coords, dtype=np.float64)
                for a, b in itertools.pairwise(c):
                    if a[0] != b[0] or a[1] != b[1]:
                        segs.append((float(a[0]), float(a[1]), float(b[0]), float(b[1]), k))
            grid = _Grid.over(self._level_bounds(i, [ln for _, ln in walls]),
                              1, _WALL_CELL_M, _MAX_WALL_CELLS)
            self._wmeta[i] = (grid.minx, grid.miny, grid.cell, grid.nx, grid.ny)
            s = np.array(segs, dtype=np.float64).reshape(-1, 5)
            cells: list[int] = []
            owner: list[int] = []
            e = 1e-6
            for n, (x0, y0, x1, y1, _) in enumerate(s):
                ix0 = int((min(x0, x1) - e - grid.minx) // grid.cell)
                ix1 = int((max(x0, x1) + e - grid.minx) // grid.cell)
                iy0 = int((min(y0, y1) - e - grid.miny) // grid.cell)
                iy1 = int((max(y0, y1) + e - grid.miny) // grid.cell)
                for iy in range(max(iy0, 0), min(iy1, grid.ny - 1) + 1):
                    for ix in range(max(ix0, 0), min(ix1, grid.nx - 1) + 1):
                        cells.append(iy * grid.nx + ix)
                        owner.append(n)
            start, its = _csr(np.asarray(cells, dtype=np.int64), np.asarray(owner, np.int64),
                              grid.nx * grid.ny)
            self._wgrid.append((
                np.ascontiguousarray(s[:, 0]), np.ascontiguousarray(s[:, 1]),
                np.ascontiguousarray(s[:, 2]), np.ascontiguousarray(s[:, 3]),
                np.ascontiguousarray(s[:, 4], dtype=np.int32), start, its,
            ))

    # ---------------------------------------------------------------- lookups
    def level_index(self, level_id: str) -> int:
        """Index of a level id in :attr:`level_ids`.

        Raises:
            KeyError: No such level.
        """
        try:
            return self._level_pos[level_id]
        except KeyError:
            raise KeyError(f"unknown level {level_id!r} in site {self.site.id!r}") from None

    def room_index(self, room_id: str) -> int:
        """Index of a room id in :attr:`room_ids`.

        Raises:
            KeyError: No such room.
        """
        try:
            return self._room_pos[room_id]
        except KeyError:
            raise KeyError(f"unknown room {room_id!r} in site {self.site.id!r}") from None

    def _one_level(self, level: int | str | np.integer[Any]) -> int:
        if isinstance(level, str):
            return self.level_index(level)
        if isinstance(level, bool) or not isinstance(level, int | np.integer):
            raise TypeError(f"level must be a level index or id, got {type(level).__name__}")
        if not 0 <= int(level) < len(self.level_ids):
            raise ValueError(f"level index {int(level)} out of range [0, {len(self.level_ids)})")
        return int(level)

    def _levels(self, level: ArrayLike, shape: tuple[int, ...]) -> NDArray[np.int64]:
        if isinstance(level, str):
            return np.full(math.prod(shape), self.level_index(level), dtype=np.int64)
        arr = np.asarray(level)
        if arr.dtype.kind in "UO":
            ids = {v: self.level_index(str(v)) for v in np.unique(arr.astype(str))}
            arr = np.vectorize(lambda v: ids[str(v)], otypes=[np.int64])(arr)
        elif arr.dtype.kind == "b" or arr.dtype.kind not in "iuf":
            raise TypeError(f"level must be integer level indices or level ids, got {arr.dtype}")
        elif arr.dtype.kind == "f":
            bad = ~np.isfinite(arr) | (arr != np.round(arr))
            if bad.any():
                raise ValueError(f"level must hold integers; element {np.argmax(bad.ravel())} is "
                                 f"{arr.ravel()[np.argmax(bad.ravel())]!r}")
        lv = np.broadcast_to(arr.astype(np.int64), shape)
        bad = (lv < -1) | (lv >= len(self.level_ids))
        if bad.any():
            k = int(np.argmax(bad.ravel()))
            raise ValueError(f"level index {int(lv.ravel()[k])} at position {k} is out of range "
                             f"[-1, {len(self.level_ids)})")
        return np.ascontiguousarray(lv.ravel())

    # ---------------------------------------------------------------- queries
    def room_at(self, x: ArrayLike, y: ArrayLike, level: ArrayLike) -> IntArray:
        """Room index (into :attr:`room_ids`) containing each point; -1 where none.

        Args:
            x: East coordinates, local metres (any shape; broadcast with ``y`` and ``level``).
            y: North coordinates.
            level: Level indices (ints, -1 meaning "unknown level"), or level ids, or a single
                index or id for all points.

        Returns:
            int32 array of the broadcast shape. Points on a shared wall go to the room with the
            lowest index among those whose closed polygon covers them; NaN coordinates or level
            -1 give -1.

        Raises:
            ValueError: A level index is out of range or not an integer, or shapes mismatch.
            KeyError: An unknown level id.
        """
        xa, ya = np.asarray(x, dtype=np.float64), np.asarray(y, dtype=np.float64)
        lv_in = level if isinstance(level, str) else np.asarray(level)
        try:
            shape = np.broadcast_shapes(xa.shape, ya.shape,
                                        () if isinstance(lv_in, str) else lv_in.shape)
        except ValueError:
            raise ValueError(f"x {xa.shape}, y {ya.shape} and level shapes do not broadcast"
                             ) from None
        lv = self._levels(lv_in, shape)
        xs = np.ascontiguousarray(np.broadcast_to(xa, shape).ravel())
        ys = np.ascontiguousarray(np.broadcast_to(ya, shape).ravel())
        out = np.empty(xs.size, dtype=np.int32)
        ex0, ey0, ex1, ey1 = self._edges
        _room_at_kernel(xs, ys, lv, self._rmeta, self._rcell0, self._rstart, self._ritems,
                        self._rfull, self._estart, ex0, ey0, ex1, ey1, self._rbox,
                        BOUNDARY_EPS_M, out)
        return out.reshape(shape)

    def _segments(self, level: int | str, x0: ArrayLike, y0: ArrayLike, x1: ArrayLike,
                  y1: ArrayLike) -> tuple[int, tuple[int, ...], list[FloatArray]]:
        li = self._one_level(level)
        arrs = [np.asarray(v, dtype=np.float64) for v in (x0, y0, x1, y1)]
        try:
            shape = np.broadcast_shapes(*(a.shape for a in arrs))
        except ValueError:
            raise ValueError("x0, y0, x1, y1 shapes do not broadcast: "
                             + ", ".join(str(a.shape) for a in arrs)) from None
        flat = [np.ascontiguousarray(np.broadcast_to(a, shape).ravel()) for a in arrs]
        return li, shape, flat

    def _cross(self, level: int | str, x0: ArrayLike, y0: ArrayLike, x1: ArrayLike,
               y1: ArrayLike) -> tuple[FloatArray, IntArray]:
        li, shape, (a, b, c, d) = self._segments(level, x0, y0, x1, y1)
        sx0, sy0, sx1, sy1, sw, start, items = self._wgrid[li]
        loss = np.empty(a.size, dtype=np.float64)
        count = np.empty(a.size, dtype=np.int32)
        seen_seg = np.full(sx0.size, -1, dtype=np.int64)
        seen_wall = np.full(max(self._wall_att.size, 1), -1, dtype=np.int64)
        _walls_kernel(a, b, c, d, self._wmeta[li], sx0, sy0, sx1, sy1, sw, start, items,
                      self._wall_att, seen_seg, seen_wall, loss, count)
        return loss.reshape(shape), count.reshape(shape)

    def wall_loss_db(self, level: int | str, x0: ArrayLike, y0: ArrayLike, x1: ArrayLike,
                     y1: ArrayLike) -> FloatArray:
        """Sum of ``attenuation_db`` of the walls of ``level`` crossed by each segment.

        Args:
            level: Level index or id.
            x0: Segment start x (broadcast with the other coordinates).
            y0: Segment start y.
            x1: Segment end x.
            y1: Segment end y.

        Returns:
            float64 array of the broadcast shape; NaN where a coordinate is NaN. Each wall counts
            once per segment, however many of its pieces the segment touches.

        Raises:
            ValueError: Level index out of range or shapes mismatch.
            KeyError: Unknown level id.
        """
        return self._cross(level, x0, y0, x1, y1)[0]

    def walls_crossed(self, level: int | str, x0: ArrayLike, y0: ArrayLike, x1: ArrayLike,
                      y1: ArrayLike) -> IntArray:
        """Number of walls of ``level`` crossed by each segment (-1 where a coordinate is NaN).

        See :meth:`wall_loss_db` for the arguments.
        """
        return self._cross(level, x0, y0, x1, y1)[1]

    def nearest_point_inside(self, level: int | str, x: ArrayLike, y: ArrayLike
                             ) -> tuple[FloatArray, FloatArray]:
        """Project points outside the level outline to its nearest point (unchanged if inside).

        The projection lands on the outline's boundary, which the closed outline (and the room
        behind that wall, see :meth:`room_at`) covers. NaN stays NaN.

        Args:
            level: Level index or id.
            x: East coordinates (broadcast with ``y``).
            y: North coordinates.

        Returns:
            The projected x and y arrays.
        """
        li = self._one_level(level)
        outline: Polygon = self.site.levels[li].outline
        xa, ya = np.broadcast_arrays(np.asarray(x, dtype=np.float64),
                                     np.asarray(y, dtype=np.float64))
        ox, oy = xa.astype(np.float64, copy=True), ya.astype(np.float64, copy=True)
        ok = np.isfinite(ox) & np.isfinite(oy)
        outside = ok & ~shapely.intersects_xy(outline, np.where(ok, ox, 0.0),
                                              np.where(ok, oy, 0.0))
        if outside.any():
            pts = shapely.points(ox[outside], oy[outside])
            lines = shapely.shortest_line(outline, pts)
            first = shapely.get_coordinates(shapely.get_point(lines, 0))
            ox[outside], oy[outside] = first[:, 0], first[:, 1]
        return ox, oy

    def level_at_elevation(self, building: str, z_m: float) -> str | None:
        """Id of the level of ``building`` whose storey ``[elevation, elevation + height)``
        holds ``z_m`` (None if none)."""
        for lv in self.site.levels_of(building):
            if lv.elevation_m <= z_m < lv.elevation_m + lv.height_m:
                return lv.id
        return None

    def wall_lines(self, level: int | str) -> list[LineString]:
        """The wall lines of a level (for plotting and references)."""
        li = self._one_level(level)
        return [w.line for w in self.site.walls_on(self.level_ids[li])]


# -------------------------------------------------------------------- kernels
@_kernel
def _covers(r: int, px: float, py: float, estart: NDArray[np.int64], ex0: FloatArray,
            ey0: FloatArray, ex1: FloatArray, ey1: FloatArray, eps: float) -> bool:
    inside = False
    eps2 = eps * eps
    for e in range(estart[r], estart[r + 1]):
        x0, y0, x1, y1 = ex0[e], ey0[e], ex1[e], ey1[e]
        if (min(x0, x1) - eps <= px <= max(x0, x1) + eps
                and min(y0, y1) - eps <= py <= max(y0, y1) + eps):
            dx, dy = x1 - x0, y1 - y0
            ll = dx * dx + dy * dy
            t = 0.0 if ll == 0.0 else ((px - x0) * dx + (py - y0) * dy) / ll
            t = min(1.0, max(0.0, t))
            qx, qy = x0 + t * dx - px, y0 + t * dy - py
            if qx * qx + qy * qy <= eps2:
                return True
        if (y0 > py) != (y1 > py):
            xi = x0 + (py - y0) * (x1 - x0) / (y1 - y0)
            if px < xi:
                inside = not inside
    return inside


@_kernel
def _room_at_kernel(x: FloatArray, y: FloatArray, lev: NDArray[np.int64], meta: FloatArray,
                    cell0: NDArray[np.int64], start: NDArray[np.int64], items: IntArray,
                    full: IntArray, estart: NDArray[np.int64], ex0: FloatArray,
                    ey0: FloatArray, ex1: FloatArray, ey1: FloatArray, rbox: FloatArray,
                    eps: float, out: IntArray) -> None:
    for i in range(x.size):
        out[i] = -1
        li = lev[i]
        px, py = x[i], y[i]
        if li < 0 or not (np.isfinite(px) and np.isfinite(py)):
            continue
        cs = meta[li, 2]
        fx = (px - meta[li, 0]) / cs
        fy = (py - meta[li, 1]) / cs
        nx, ny = int(meta[li, 3]), int(meta[li, 4])
        if not (0.0 <= fx < nx and 0.0 <= fy < ny):
            continue
        c = cell0[li] + int(fy) * nx + int(fx)
        if full[c] >= 0:
            out[i] = full[c]
            continue
        for k in range(start[c], start[c + 1]):
            r = items[k]
            if (rbox[r, 0] - eps <= px <= rbox[r, 2] + eps
                    and rbox[r, 1] - eps <= py <= rbox[r, 3] + eps
                    and _covers(r, px, py, estart, ex0, ey0, ex1, ey1, eps)):
                out[i] = r
                break


@_kernel
def _orient(ax: float, ay: float, bx: float, by: float, cx: float, cy: float) -> float:
    return (bx - ax) * (cy - ay) - (by - ay) * (cx - ax)


@_kernel
def _on_box(ax: float, ay: float, bx: float, by: float, px: float, py: float) -> bool:
    return min(ax, bx) <= px <= max(ax, bx) and min(ay, by) <= py <= max(ay, by)


@_kernel
def _seg_hit(ax: float, ay: float, bx: float, by: float, cx: float, cy: float, dx: float,
             dy: float) -> bool:
    d1 = _orient(cx, cy, dx, dy, ax, ay)
    d2 = _orient(cx, cy, dx, dy, bx, by)
    d3 = _orient(ax, ay, bx, by, cx, cy)
    d4 = _orient(ax, ay, bx, by, dx, dy)
    if ((d1 > 0 and d2 < 0) or (d1 < 0 and d2 > 0)) and (
            (d3 > 0 and d4 < 0) or (d3 < 0 and d4 > 0)):
        return True
    return ((d1 == 0 and _on_box(cx, cy, dx, dy, ax, ay))
            or (d2 == 0 and _on_box(cx, cy, dx, dy, bx, by))
            or (d3 == 0 and _on_box(ax, ay, bx, by, cx, cy))
            or (d4 == 0 and _on_box(ax, ay, bx, by, dx, dy)))


@_kernel
def _walls_kernel(qx0: FloatArray, qy0: FloatArray, qx1: FloatArray, qy1: FloatArray,
                  meta: FloatArray, sx0: FloatArray, sy0: FloatArray, sx1: FloatArray,
                  sy1: FloatArray, sw: IntArray, start: NDArray[np.int64], items: IntArray,
                  att: FloatArray, seen_seg: NDArray[np.int64], seen_wall: NDArray[np.int64],
                  loss: FloatArray, count: IntArray) -> None:
    minx, miny, cs = meta[0], meta[1], meta[2]
    nx, ny = int(meta[3]), int(meta[4])
    e = 1e-6
    for q in range(qx0.size):
        ax, ay, bx, by = qx0[q], qy0[q], qx1[q], qy1[q]
        if not (np.isfinite(ax) and np.isfinite(ay) and np.isfinite(bx) and np.isfinite(by)):
            loss[q] = np.nan
            count[q] = -1
            continue
        total = 0.0
        n = 0
        lox, hix = min(ax, bx), max(ax, bx)
        loy, hiy = min(ay, by), max(ay, by)
        ix0 = max(math.floor((lox - e - minx) / cs), 0)
        ix1 = min(math.floor((hix + e - minx) / cs), nx - 1)
        for ix in range(ix0, ix1 + 1):
            cx0 = max(minx + ix * cs, lox)
            cx1 = min(minx + (ix + 1) * cs, hix)
            if hix - lox > 0.0:
                t0 = (cx0 - ax) / (bx - ax)
                t1 = (cx1 - ax) / (bx - ax)
                ya_, yb_ = ay + t0 * (by - ay), ay + t1 * (by - ay)
                ylo, yhi = min(ya_, yb_), max(ya_, yb_)
            else:
                ylo, yhi = min(ay, by), max(ay, by)
            iy0 = max(math.floor((ylo - e - miny) / cs), 0)
            iy1 = min(math.floor((yhi + e - miny) / cs), ny - 1)
            for iy in range(iy0, iy1 + 1):
                c = iy * nx + ix
                for k in range(start[c], start[c + 1]):
                    s = items[k]
                    if seen_seg[s] == q:
                        continue
                    seen_seg[s] = q
                    w = sw[s]
                    if seen_wall[w] == q:
                        continue
                    if (max(sx0[s], sx1[s]) < lox or min(sx0[s], sx1[s]) > hix
                            or max(sy0[s], sy1[s]) < loy or min(sy0[s], sy1[s]) > hiy):
                        continue
                    if _seg_hit(ax, ay, bx, by, sx0[s], sy0[s], sx1[s], sy1[s]):
                        seen_wall[w] = q
                        total += att[w]
                        n += 1
        loss[q] = total
        count[q] = n
