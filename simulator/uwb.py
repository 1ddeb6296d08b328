"""UWB two-way-ranging model.

A range between a tag and an anchor at true distance ``d`` is

* dropped with probability ``dropout_los + walls · dropout_per_wall`` (capped at 0.95);
* otherwise ``d + N(0, σ_LOS)``, plus an exponential non-line-of-sight bias with mean
  ``walls · nlos_bias_mean`` when walls are in the way, plus an exponential body bias (mean
  ``body_bias_mean``) with probability 1/2 while the asset is being pushed (the porter's body);
* with probability ``outlier_rate`` a gross outlier: ``d + U(0, outlier_max)`` instead;
* never negative.

NLOS biases are positive because a blocked first path arrives late; that asymmetry is what makes
real UWB hard and is deliberately kept.
"""

from __future__ import annotations

import math

import numpy as np
import numpy.typing as npt
from numba import njit

from simulator.config import UwbConfig
from simulator.rng import uniform

__all__ = ["range_packets"]

_FM = {"nsz", "arcp", "contract", "afn", "reassoc"}
F32 = npt.NDArray[np.float32]
I32 = npt.NDArray[np.int32]


def range_packets(ev_tag: I32, ev_ctr: npt.NDArray[np.uint64], cand: I32, dist: F32,
                  walls: I32, moving: npt.NDArray[np.bool_], online: npt.NDArray[np.bool_],
                  cfg: UwbConfig, *, seed: int) -> tuple[I32, I32, npt.NDArray[np.float64]]:
    """Simulate the two-way ranges of ranging events.

    Args:
        ev_tag: Tag index of each event.
        ev_ctr: Unique counter of each event (random stream key).
        cand: (tags, anchors) candidate anchor indices, -1 padded.
        dist: True 3-D distances for ``cand``.
        walls: Walls crossed for ``cand``.
        moving: Per tag: being pushed (body in the way).
        online: Per anchor: online.
        cfg: UWB error parameters.
        seed: Random stream seed.

    Returns:
        Per range: event index, anchor index, measured range (m).

    Raises:
        ValueError: inconsistent shapes.
    """
    if cand.ndim != 2 or dist.shape != cand.shape or walls.shape != cand.shape:
        raise ValueError("cand, dist and walls must be (tags, anchors) arrays of one shape")
    if ev_tag.shape != ev_ctr.shape:
        raise ValueError("ev_tag and ev_ctr must have equal length")
    return _ranges(np.ascontiguousarray(ev_tag, dtype=np.int32),
                   np.ascontiguousarray(ev_ctr, dtype=np.uint64),
                   np.ascontiguousarray(cand, dtype=np.int32),
                   np.ascontiguousarray(dist, dtype=np.float32),
                   np.ascontiguousarray(walls, dtype=np.int32),
                   np.ascontiguousarray(moving, dtype=np.bool_),
                   np.ascontiguousarray(online, dtype=np.bool_),
                   cfg.los_sigma_m, cfg.nlos_bias_mean_m, cfg.body_bias_mean_m, cfg.outlier_rate,
                   cfg.outlier_max_m, cfg.dropout_los, cfg.dropout_per_wall, cfg.max_range_m,
                   np.uint64(seed))


@njit(cache=True, nogil=True, fastmath=_FM)
def _ranges(ev_tag: I32, ev_ctr: npt.NDArray[np.uint64], cand: I32, dist: F32, walls: I32,
            moving: npt.NDArray[np.bool_], online: npt.NDArray[np.bool_], sigma: float,
            nlos_mean: float, body_mean: float, outlier_rate: float, outlier_max: float,
            drop_los: float, drop_wall: float, max_range: float,
            seed: np.uint64) -> tuple[I32, I32, npt.NDArray[np.float64]]:  # pragma: no cover
    n_ev = ev_tag.shape[0]
    kmax = cand.shape[1]
    o_ev = np.empty(n_ev * kmax, dtype=np.int32)
    o_gw = np.empty(n_ev * kmax, dtype=np.int32)
    o_r = np.empty(n_ev * kmax, dtype=np.float64)
    n = 0
    for e in range(n_ev):
        t = ev_tag[e]
        base = ev_ctr[e] * np.uint64(4096) + np.uint64(2048)
        for k in range(kmax):
            g = cand[t, k]
            if g < 0:
                break
            d = float(dist[t, k])
            if not online[g] or d > max_range:
                continue
            c0 = base + np.uint64(k * 8)
            w = walls[t, k]
            p_drop = min(0.95, drop_los + w * drop_wall)
            if uniform(seed, c0) < p_drop:
                continue
            u1 = uniform(seed, c0 + np.uint64(1))
            u2 = uniform(seed, c0 + np.uint64(2))
            z = math.sqrt(-2.0 * math.log(1.0 - u1)) * math.cos(2.0 * math.pi * u2)
            r = d + sigma * z
            if w > 0:
                r += -nlos_mean * w * math.log(1.0 - uniform(seed, c0 + np.uint64(3)))
            if moving[t] and uniform(seed, c0 + np.uint64(4)) < 0.5:
                r += -body_mean * math.log(1.0 - uniform(seed, c0 + np.uint64(5)))
            if uniform(seed, c0 + np.uint64(6)) < outlier_rate:
                r = d + outlier_max * uniform(seed, c0 + np.uint64(7))
            o_ev[n] = e
            o_gw[n] = g
            o_r[n] = max(r, 0.0)
            n += 1
    return o_ev[:n], o_gw[:n], o_r[:n]
