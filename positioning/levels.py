"""Level (floor) determination that does not flap between stacked floors.

Each tick, every active tag gets a per-level score from the gateways that heard it: the mean of
the three strongest window-combined RSSIs of the gateways on that level (levels with fewer
gateways heard are padded with the receiver's sensitivity floor). A slab costs ~15 dB, so the
tag's own level normally wins by a wide margin; near stairwells and atria it does not.

The scores drive a forward hidden Markov filter over the site's levels:

.. math::

    \\pi^-_t = (1-\\varepsilon)\\,\\pi_{t-1} + \\varepsilon / L, \\qquad
    e_\\ell = \\exp\\big(\\max(s_\\ell - \\max_k s_k, -C) / T\\big), \\qquad
    \\pi_t \\propto e \\odot \\pi^-_t

with switching probability :math:`\\varepsilon` per tick, temperature :math:`T` (dB) and a cap
:math:`C` on one tick's evidence. The cap is what makes the filter *hysteretic*: one tick can
move the odds by at most :math:`e^{C/T}`, while the prior odds against a change are
:math:`(1-\\varepsilon)/\\varepsilon`, so a change needs several consecutive ticks of consistent
evidence (about ``log((1-ε)/ε) / (C/T)``, i.e. 3 ticks with the defaults) and a single burst of
reflections never moves a parked tag to the floor above.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import numpy.typing as npt

from positioning._numba import FASTMATH

from numba import njit  # isort: skip  (after positioning._numba sets the cache dir)

__all__ = ["LevelFilter", "LevelParams", "level_scores"]


@dataclass(frozen=True, slots=True)
class LevelParams:
    """Tuning of the level filter.

    Attributes:
        switch_prob: Prior probability per tick that a tag changes level (ε).
        temperature_db: dB of score difference per e-fold of likelihood (T).
        cap_db: The largest score difference one tick may count (C).
        floor_dbm: Score of a missing top-3 slot (about the receiver sensitivity).
        top: How many of the strongest gateways per level make its score.
    """

    switch_prob: float = 1e-4
    temperature_db: float = 4.0
    cap_db: float = 12.0
    floor_dbm: float = -100.0
    top: int = 3


@njit(cache=True, nogil=True, fastmath=FASTMATH)
def _scores_kernel(
    pair_tag: npt.NDArray[np.int64],
    pair_level: npt.NDArray[np.int64],
    pair_rssi: npt.NDArray[np.float64],
    n_tags: int,
    n_levels: int,
    top: int,
    floor_dbm: float,
) -> npt.NDArray[np.float64]:
    # best[t, l, j]: j-th strongest RSSI of tag t on level l (descending), floor when absent
    best = np.full((n_tags, n_levels, top), floor_dbm)
    for p in range(pair_tag.shape[0]):
        r = pair_rssi[p]
        if r != r:  # NaN
            continue
        t = pair_tag[p]
        lv = pair_level[p]
        if r <= best[t, lv, top - 1]:
            continue
        j = top - 1
        while j > 0 and best[t, lv, j - 1] < r:
            best[t, lv, j] = best[t, lv, j - 1]
            j -= 1
        best[t, lv, j] = r
    out = np.empty((n_tags, n_levels))
    for t in range(n_tags):
        for lv in range(n_levels):
            s = 0.0
            for j in range(top):
                s += best[t, lv, j]
            out[t, lv] = s / top
    return out


def level_scores(
    pair_tag: npt.ArrayLike,
    pair_level: npt.ArrayLike,
    pair_rssi: npt.ArrayLike,
    n_tags: int,
    n_levels: int,
    *,
    top: int = 3,
    floor_dbm: float = -100.0,
) -> npt.NDArray[np.float64]:
    """Per-tag, per-level score: mean of the ``top`` strongest RSSIs heard on each level.

    Args:
        pair_tag: (P,) row index of the tag of each tag–gateway pair (0 <= t < n_tags).
        pair_level: (P,) level index of the pair's gateway (0 <= l < n_levels).
        pair_rssi: (P,) window-combined RSSI of the pair in dBm; NaN pairs are ignored.
        n_tags: Number of tag rows.
        n_levels: Number of levels.
        top: How many of the strongest gateways count.
        floor_dbm: Value of an empty slot; weaker readings count as this value.

    Returns:
        (n_tags, n_levels) scores in dBm.

    Raises:
        ValueError: Shapes differ or indexes are out of range.
    """
    tg = np.ascontiguousarray(pair_tag, dtype=np.int64)
    lv = np.ascontiguousarray(pair_level, dtype=np.int64)
    rs = np.ascontiguousarray(pair_rssi, dtype=np.float64)
    if not (tg.ndim == lv.ndim == rs.ndim == 1 and tg.shape == lv.shape == rs.shape):
        raise ValueError("pair_tag, pair_level and pair_rssi must be 1-D arrays of one length")
    if top < 1:
        raise ValueError(f"top must be >= 1, got {top}")
    if tg.size and (tg.min() < 0 or tg.max() >= n_tags):
        raise ValueError(f"pair_tag must lie in [0, {n_tags})")
    if lv.size and (lv.min() < 0 or lv.max() >= n_levels):
        raise ValueError(f"pair_level must lie in [0, {n_levels})")
    out: npt.NDArray[np.float64] = _scores_kernel(tg, lv, rs, int(n_tags), int(n_levels),
                                                  int(top), float(floor_dbm))
    return out


@njit(cache=True, nogil=True, fastmath=FASTMATH)
def _filter_kernel(
    post: npt.NDArray[np.float64],
    rows: npt.NDArray[np.int64],
    scores: npt.NDArray[np.float64],
    heard: npt.NDArray[np.bool_],
    eps: float,
    temperature: float,
    cap: float,
) -> None:
    n_levels = post.shape[1]
    for i in range(rows.shape[0]):
        t = rows[i]
        smax = -1e300
        for lv in range(n_levels):
            if heard[i, lv] and scores[i, lv] > smax:
                smax = scores[i, lv]
        total = 0.0
        for lv in range(n_levels):
            prior = (1.0 - eps) * post[t, lv] + eps / n_levels
            d = scores[i, lv] - smax if heard[i, lv] else -cap
            if d < -cap:
                d = -cap
            v = prior * np.exp(d / temperature)
            post[t, lv] = v
            total += v
        for lv in range(n_levels):
            post[t, lv] /= total


class LevelFilter:
    """Per-tag forward filter over the site's levels (see the module docstring for the maths).

    Args:
        n_levels: Number of levels in the site (level indexes 0..n_levels-1).
        params: Tuning.
    """

    def __init__(self, n_levels: int, params: LevelParams | None = None) -> None:
        if n_levels < 1:
            raise ValueError("a site needs at least one level")
        self.params = params or LevelParams()
        self.n_levels = n_levels
        self._post = np.zeros((0, n_levels))

    def _grow(self, n_tags: int) -> None:
        if n_tags > self._post.shape[0]:
            grown = np.full((max(n_tags, 2 * self._post.shape[0]), self.n_levels),
                            1.0 / self.n_levels)
            grown[: self._post.shape[0]] = self._post
            self._post = grown

    def update(
        self, rows: npt.ArrayLike, scores: npt.ArrayLike, heard: npt.ArrayLike
    ) -> tuple[npt.NDArray[np.int64], npt.NDArray[np.float64]]:
        """Advance the filter one tick for the given tags.

        Args:
            rows: (M,) tag row indexes updated this tick (unique).
            scores: (M, n_levels) level scores (see :func:`level_scores`).
            heard: (M, n_levels) whether any gateway of that level heard the tag this tick.

        Returns:
            The most probable level index and its posterior probability, both (M,).
        """
        r = np.ascontiguousarray(rows, dtype=np.int64)
        s = np.ascontiguousarray(scores, dtype=np.float64)
        h = np.ascontiguousarray(heard, dtype=np.bool_)
        if s.shape != (r.shape[0], self.n_levels) or h.shape != s.shape:
            raise ValueError(f"scores and heard must have shape ({r.shape[0]}, {self.n_levels})")
        if r.size == 0:
            return np.zeros(0, np.int64), np.zeros(0)
        self._grow(int(r.max()) + 1)
        p = self.params
        _filter_kernel(self._post, r, s, h, p.switch_prob, p.temperature_db, p.cap_db)
        post = self._post[r]
        best = post.argmax(axis=1)
        return best.astype(np.int64), post[np.arange(r.size), best]

    def posterior(self, row: int) -> npt.NDArray[np.float64]:
        """The level posterior of one tag row (uniform for a tag never seen)."""
        self._grow(row + 1)
        out: npt.NDArray[np.float64] = self._post[row].copy()
        return out
