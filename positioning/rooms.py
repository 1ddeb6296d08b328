"""Room inference a porter can trust: a hidden Markov filter over the rooms of a tag's level.

**States** are the rooms of the tag's current level. **Transitions** respect the plan: from room
*i* a tag stays with probability :math:`s = e^{-\\lambda\\,\\Delta t}` and otherwise moves to a
room connected to *i* by a door (:func:`floorplans.routing.room_adjacency`; on plans
without doors, a room it touches); a tiny ``teleport`` probability to any room of the level
recovers from a wrong start. The leave rate
:math:`\\lambda` is low for a parked tag and high for a moving one, so a parked pump does not
flicker across a wall while a pushed bed follows the corridor.

**Emissions** are the share of the fix's uncertainty disc that lies in each room: the fix is
spread over ``samples`` fixed points of a 2-D Gaussian with the fix's standard deviation
(``accuracy_m / 2.45``: the 95 % radius of a circular Gaussian), each point is located with
:meth:`floorplans.spatial.SiteIndex.room_at`, and room *r* gets
:math:`(n_r + \\alpha) / (M + \\alpha R)`.

The posterior is :math:`\\pi_t \\propto e \\odot (A^\\top \\pi_{t-1})`; the reported room is its
argmax and the reported *room confidence* is that room's posterior probability.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import numpy.typing as npt

from floorplans.routing import room_adjacency
from floorplans.spatial import SiteIndex
from positioning._numba import FASTMATH

from numba import njit  # isort: skip  (after positioning._numba sets the cache dir)

__all__ = ["RoomFilter", "RoomParams"]

#: z-score of a circular 2-D Gaussian's 95 % radius: sqrt(chi2_2(0.95)) = sqrt(5.991).
R95_PER_SIGMA = 2.4477


@dataclass(frozen=True, slots=True)
class RoomParams:
    """Tuning of the room filter.

    Attributes:
        leave_rate_parked: Rate (1/s) at which a parked tag is believed to leave its room.
        leave_rate_moving: Rate (1/s) for a tag the tracker sees moving.
        teleport: Probability per tick of jumping to a non-adjacent room of the level.
        samples: Points used to spread a fix over rooms.
        alpha: Pseudo-count added to every room's emission.
        emission_power: Exponent applied to external room likelihoods (e.g. the radio map's)
            before they enter the filter: consecutive ticks share the same static shadowing, so
            each tick's evidence is worth less than an independent observation.
    """

    leave_rate_parked: float = 1.0 / 3600.0
    leave_rate_moving: float = 0.3
    teleport: float = 1e-6
    samples: int = 48
    alpha: float = 0.25
    emission_power: float = 0.3


@njit(cache=True, nogil=True, fastmath=FASTMATH)
def _room_step(
    post: npt.NDArray[np.float64],
    rows: npt.NDArray[np.int64],
    counts: npt.NDArray[np.float64],
    n_local: npt.NDArray[np.int64],
    stay: npt.NDArray[np.float64],
    evidence: npt.NDArray[np.float64],
    nbr_ptr: npt.NDArray[np.int64],
    nbr_idx: npt.NDArray[np.int64],
    local_base: npt.NDArray[np.int64],
    teleport: float,
    alpha: float,
    samples: int,
) -> None:
    width = post.shape[1]
    prior = np.empty(width)
    for i in range(rows.shape[0]):
        t = rows[i]
        n = n_local[i]
        base = local_base[i]
        s = stay[i]
        for j in range(n):
            prior[j] = 0.0
        for j in range(n):
            p = post[t, j]
            if p == 0.0:
                continue
            g = base + j
            deg = nbr_ptr[g + 1] - nbr_ptr[g]
            if deg == 0:
                prior[j] += p
                continue
            prior[j] += p * s
            share = p * (1.0 - s) / deg
            for k in range(nbr_ptr[g], nbr_ptr[g + 1]):
                prior[nbr_idx[k] - base] += share
        total = 0.0
        for j in range(n):
            e = (counts[i, j] + alpha) / (samples + alpha * n)
            if evidence[i] != 1.0:
                e = e ** evidence[i]
            v = e * ((1.0 - teleport) * prior[j] + teleport / n)
            post[t, j] = v
            total += v
        for j in range(n):
            post[t, j] /= total
        for j in range(n, width):
            post[t, j] = 0.0


class RoomFilter:
    """Per-tag room posterior over the rooms of the tag's current level.

    Args:
        index: Spatial index of the site.
        params: Tuning.
        seed: Seed of the fixed Gaussian sample pattern (kept for reproducibility).
    """

    def __init__(self, index: SiteIndex, params: RoomParams | None = None, seed: int = 7) -> None:
        self.index = index
        self.params = params or RoomParams()
        site = index.site
        n_levels = len(index.level_ids)
        level_of_room = np.array([index.level_index(r.level) for r in site.rooms], dtype=np.int64)
        # Rooms renumbered level by level so each level's rooms are contiguous.
        order = np.argsort(level_of_room, kind="stable")
        self._room_of_slot = order.astype(np.int64)
        self._slot_of_room = np.empty_like(self._room_of_slot)
        self._slot_of_room[order] = np.arange(order.size)
        counts = np.bincount(level_of_room, minlength=n_levels)
        self._level_base = np.concatenate([[0], np.cumsum(counts)[:-1]]).astype(np.int64)
        self._level_n = counts.astype(np.int64)
        self._width = int(max(1, counts.max(initial=1)))
        adj = room_adjacency(site)
        ptr = [0]
        idx: list[int] = []
        for slot in range(order.size):
            nbrs = sorted(int(self._slot_of_room[b]) for b in adj[int(order[slot])])
            idx.extend(nbrs)
            ptr.append(len(idx))
        self._nbr_ptr = np.asarray(ptr, dtype=np.int64)
        self._nbr_idx = np.asarray(idx, dtype=np.int64)
        rng = np.random.default_rng(seed)
        m = self.params.samples
        self._pattern = rng.standard_normal((m, 2))
        self._pattern[0] = 0.0  # the fix itself always counts
        self._post = np.zeros((0, self._width))
        self._level = np.zeros(0, dtype=np.int64)

    @property
    def width(self) -> int:
        """Room slots per level (the most rooms any level has)."""
        return self._width

    def local_slots(self) -> npt.NDArray[np.int64]:
        """(R,) each room's slot among the rooms of its own level."""
        level_of = np.array([self.index.level_index(r.level) for r in self.index.site.rooms],
                            dtype=np.int64)
        return (self._slot_of_room - self._level_base[level_of]).astype(np.int64)

    def _disc_counts(self, lv: npt.NDArray[np.int64], xs: npt.NDArray[np.float64],
                     ys: npt.NDArray[np.float64], acc: npt.NDArray[np.float64],
                     base: npt.NDArray[np.int64], n_local: npt.NDArray[np.int64]
                     ) -> npt.NDArray[np.float64]:
        """How many of the fixed Gaussian sample points around each fix fall in each room."""
        p = self.params
        m = lv.shape[0]
        sigma = np.clip(acc, 0.5, 50.0) / R95_PER_SIGMA
        px = xs[:, None] + sigma[:, None] * self._pattern[None, :, 0]
        py = ys[:, None] + sigma[:, None] * self._pattern[None, :, 1]
        rooms = self.index.room_at(px.ravel(), py.ravel(), np.repeat(lv, p.samples))
        rooms = rooms.reshape(m, p.samples)
        slot = np.where(rooms >= 0, self._slot_of_room[np.maximum(rooms, 0)], -1)
        local = slot - base[:, None]
        counts = np.zeros((m, self._width))
        ok = (slot >= 0) & (local >= 0) & (local < n_local[:, None])
        ii = np.broadcast_to(np.arange(m)[:, None], local.shape)[ok]
        np.add.at(counts, (ii, local[ok]), 1.0)
        return counts

    def _grow(self, n_tags: int) -> None:
        if n_tags > self._post.shape[0]:
            new = max(n_tags, 2 * self._post.shape[0])
            post = np.zeros((new, self._width))
            post[: self._post.shape[0]] = self._post
            lvl = np.full(new, -1, dtype=np.int64)
            lvl[: self._level.shape[0]] = self._level
            self._post, self._level = post, lvl

    def update(
        self,
        rows: npt.ArrayLike,
        level: npt.ArrayLike,
        x: npt.ArrayLike,
        y: npt.ArrayLike,
        accuracy_m: npt.ArrayLike,
        moving: npt.ArrayLike,
        dt: float | npt.ArrayLike,
        emission: npt.NDArray[np.float64] | None = None,
        evidence: npt.ArrayLike | None = None,
    ) -> tuple[npt.NDArray[np.int64], npt.NDArray[np.float64]]:
        """Advance the filter one tick for the given tags.

        Args:
            rows: (M,) unique tag row indexes.
            level: (M,) level index of each tag this tick (a change resets its posterior).
            x: (M,) fix x in local metres.
            y: (M,) fix y.
            accuracy_m: (M,) 95 % radius of each fix.
            moving: (M,) whether the tracker sees the tag moving.
            dt: Seconds since each tag's previous update (one value for all, or (M,)).
            emission: Optional (M, width) room likelihoods in local room slots (see
                :meth:`local_slots`), e.g. from the radio map; rows whose sum is 0 fall back to
                spreading the fix over rooms.
            evidence: Optional (M,) ticks of evidence each update stands for (default 1): the
                emission is raised to this power, so a parked tag located every five ticks
                (:mod:`positioning.cadence`) weighs its fix as five ticks would.

        Returns:
            Room index into ``site.rooms`` (-1 on a level without rooms) and its posterior.
        """
        r = np.ascontiguousarray(rows, dtype=np.int64)
        lv = np.ascontiguousarray(level, dtype=np.int64)
        xs = np.ascontiguousarray(x, dtype=np.float64)
        ys = np.ascontiguousarray(y, dtype=np.float64)
        acc = np.ascontiguousarray(accuracy_m, dtype=np.float64)
        mv = np.ascontiguousarray(moving, dtype=np.bool_)
        m = r.shape[0]
        if not (lv.shape == xs.shape == ys.shape == acc.shape == mv.shape == (m,)):
            raise ValueError("rows, level, x, y, accuracy_m and moving must have one length")
        if m == 0:
            return np.zeros(0, np.int64), np.zeros(0)
        if not np.all(np.isfinite(xs) & np.isfinite(ys)):
            raise ValueError("x and y must be finite (drop rows without a fix first)")
        self._grow(int(r.max()) + 1)
        p = self.params
        # Reset the posterior of tags that changed level (uniform prior on the new level).
        changed = self._level[r] != lv
        if changed.any():
            rc = r[changed]
            self._post[rc] = 0.0
            n_new = self._level_n[lv[changed]]
            for k, row in enumerate(rc):
                if n_new[k]:
                    self._post[row, : n_new[k]] = 1.0 / n_new[k]
            self._level[rc] = lv[changed]
        base = self._level_base[lv]
        n_local = self._level_n[lv]
        counts = np.zeros((m, self._width))
        given = np.zeros(m, dtype=np.bool_)
        if emission is not None:
            em = np.asarray(emission, dtype=np.float64)
            if em.shape != (m, self._width):
                raise ValueError(f"emission must have shape ({m}, {self._width})")
            given = em.sum(axis=1) > 0
            eg = em[given] ** p.emission_power
            counts[given] = p.samples * eg / eg.sum(axis=1, keepdims=True)
        spread = np.flatnonzero(~given)
        if spread.size:
            counts[spread] = self._disc_counts(lv[spread], xs[spread], ys[spread], acc[spread],
                                               base[spread], n_local[spread])
        rate = np.where(mv, p.leave_rate_moving, p.leave_rate_parked)
        stay = np.exp(-rate * np.maximum(np.asarray(dt, dtype=np.float64), 0.0))
        ev = (np.ones(m) if evidence is None
              else np.broadcast_to(np.asarray(evidence, dtype=np.float64), (m,)).copy())
        if not np.all(np.isfinite(ev) & (ev >= 0)):
            raise ValueError("evidence must be finite and >= 0")
        _room_step(self._post, r, counts, n_local, stay, ev, self._nbr_ptr, self._nbr_idx, base,
                   p.teleport, p.alpha, p.samples)
        post = self._post[r]
        best_local = post.argmax(axis=1)
        conf = post[np.arange(m), best_local]
        room = np.where(n_local > 0, self._room_of_slot[np.minimum(base + best_local,
                                                                    self._room_of_slot.size - 1)],
                        -1)
        return room.astype(np.int64), np.where(n_local > 0, conf, 0.0)
