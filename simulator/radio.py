"""BLE radio model: static link budget, correlated shadowing and per-packet reception.

The received power of one advertising packet of tag ``t`` at gateway ``g`` on channel ``c`` is

.. math::

    P = P_{1m}(t) - 10 n \\log_{10} d_{3D} - L_{walls} - L_{slabs} + S_g(x, y)
        + C_{t,g,c} + F - B + O_g

with the per-unit tag calibration :math:`P_{1m}`, path-loss exponent :math:`n` (≈ 2 with walls
modelled explicitly), the attenuation of the walls crossed (:meth:`SiteIndex.wall_loss_db`),
the slab loss :math:`L_{slabs}` (first slab + each further slab), a spatially correlated
Gaussian shadowing field :math:`S_g` per gateway (σ, correlation length ℓ: the correlation of
two points ``r`` apart is ``exp(-r²/ℓ²)``), a static per-channel offset :math:`C` (multipath
differs on channels 37/38/39), per-packet Rician fast fading :math:`F` (K-factor), body
shadowing :math:`B` while a porter pushes the asset, and the gateway's receiver offset
:math:`O_g`. The result is rounded to whole dBm and dropped below the receiver sensitivity;
each packet is further lost with a per-gateway probability growing with the number of tags it
hears (pure-ALOHA collisions of advertising packets).

Everything but :math:`F`, loss and channel choice is static while a tag is parked and is cached
by the engine (:func:`link_mean_dbm`); :func:`receive_packets` is the per-packet kernel.
"""

from __future__ import annotations

import math

import numpy as np
import numpy.typing as npt
from numba import njit

from simulator.rng import uniform

__all__ = [
    "CHANNELS",
    "ShadowingField",
    "collision_loss",
    "link_mean_dbm",
    "receive_packets",
    "rician_db",
    "slab_loss_db",
]

#: The BLE advertising channels.
CHANNELS = (37, 38, 39)
_FM = {"nsz", "arcp", "contract", "afn", "reassoc"}

F64 = npt.NDArray[np.float64]
F32 = npt.NDArray[np.float32]
I32 = npt.NDArray[np.int32]


class ShadowingField:
    """Per-gateway stationary Gaussian random fields by random Fourier features.

    ``S_g(p) = σ √(2/F) Σ_f cos(w_gf · p + φ_gf)`` with ``w ~ N(0, 2/ℓ²)`` per axis and
    ``φ ~ U(0, 2π)`` has variance σ² and covariance ``σ² exp(-r²/ℓ²)`` (a Gaussian kernel; exact
    in expectation over the draw, approximate for one finite draw). Levels get independent
    fields by offsetting the position per level.

    Args:
        n_gateways: Number of gateways.
        sigma_db: Standard deviation σ.
        corr_m: Correlation length ℓ (correlation 1/e at distance ℓ).
        n_features: Fourier features per gateway (F).
        rng: Random generator.
    """

    def __init__(self, n_gateways: int, sigma_db: float, corr_m: float, n_features: int,
                 rng: np.random.Generator) -> None:
        if n_gateways < 0 or n_features < 1 or corr_m <= 0 or sigma_db < 0:
            raise ValueError("ShadowingField needs n_gateways >= 0, n_features >= 1, "
                             "corr_m > 0, sigma_db >= 0")
        self.sigma_db = float(sigma_db)
        self.corr_m = float(corr_m)
        self.w = rng.normal(0.0, math.sqrt(2.0) / corr_m, size=(n_gateways, n_features, 2))
        self.phi = rng.uniform(0.0, 2.0 * math.pi, size=(n_gateways, n_features))
        self.amp = sigma_db * math.sqrt(2.0 / n_features)

    def values(self, gateway: npt.ArrayLike, x: npt.ArrayLike, y: npt.ArrayLike,
               level: npt.ArrayLike) -> F64:
        """Shadowing in dB of gateway ``gateway[i]`` at ``(x[i], y[i])`` on level ``level[i]``.

        Arrays broadcast against each other; gateway indices must be in range.

        Raises:
            ValueError: a gateway index out of range.
        """
        g, xx, yy, lv = np.broadcast_arrays(np.asarray(gateway), np.asarray(x), np.asarray(y),
                                            np.asarray(level))
        gi = np.ascontiguousarray(g, dtype=np.int64).ravel()
        if gi.size and (gi.min() < 0 or gi.max() >= self.w.shape[0]):
            raise ValueError(f"gateway index out of range [0, {self.w.shape[0]})")
        out = _rff(gi, np.ascontiguousarray(xx, dtype=np.float64).ravel(),
                   np.ascontiguousarray(yy, dtype=np.float64).ravel(),
                   np.ascontiguousarray(lv, dtype=np.float64).ravel(), self.w, self.phi,
                   self.amp)
        return out.reshape(g.shape)


@njit(cache=True, nogil=True, fastmath=_FM)
def _rff(g: npt.NDArray[np.int64], x: F64, y: F64, lv: F64, w: F64, phi: F64,
         amp: float) -> F64:  # pragma: no cover - compiled
    n = g.shape[0]
    nf = w.shape[1]
    out = np.empty(n)
    for i in range(n):
        px = x[i] + 1000.0 * lv[i]
        py = y[i] - 700.0 * lv[i]
        s = 0.0
        gi = g[i]
        for f in range(nf):
            s += math.cos(w[gi, f, 0] * px + w[gi, f, 1] * py + phi[gi, f])
        out[i] = amp * s
    return out


def slab_loss_db(levels_apart: npt.ArrayLike, first_db: float, next_db: float) -> F64:
    """Loss through ``k`` floor slabs: 0 for k = 0, ``first + (k-1)·next`` otherwise."""
    k = np.abs(np.asarray(levels_apart, dtype=np.float64))
    out: F64 = np.where(k > 0, first_db + np.maximum(k - 1.0, 0.0) * next_db, 0.0)
    return out


def link_mean_dbm(rssi_1m: npt.ArrayLike, distance_m: npt.ArrayLike, wall_db: npt.ArrayLike,
                  levels_apart: npt.ArrayLike, shadowing_db: npt.ArrayLike,
                  rx_offset_db: npt.ArrayLike, *, exponent: float, min_distance_m: float,
                  floor_first_db: float, floor_next_db: float) -> F64:
    """The static (slowly varying) part of the received power, in dBm (not quantised).

    Args:
        rssi_1m: Tag calibration (dBm at 1 m).
        distance_m: 3-D tag–gateway distance.
        wall_db: Attenuation of the walls crossed.
        levels_apart: Number of slabs between tag and gateway.
        shadowing_db: Correlated shadowing at the tag's position.
        rx_offset_db: Gateway receiver offset.
        exponent: Path-loss exponent n.
        min_distance_m: Distances below this are clamped (near field).
        floor_first_db: Loss of the first slab.
        floor_next_db: Loss of each further slab.
    """
    d = np.maximum(np.asarray(distance_m, dtype=np.float64), min_distance_m)
    out: F64 = (np.asarray(rssi_1m, dtype=np.float64) - 10.0 * exponent * np.log10(d)
            - np.asarray(wall_db, dtype=np.float64)
            - slab_loss_db(levels_apart, floor_first_db, floor_next_db)
            + np.asarray(shadowing_db, dtype=np.float64) + np.asarray(rx_offset_db))
    return out


def collision_loss(tags_heard: npt.ArrayLike, base_loss: float, airtime_s: float,
                   mean_interval_s: float) -> F64:
    """Per-gateway packet-loss probability.

    ``1 - (1 - base) · exp(-2 N τ / T)``: pure-ALOHA collisions among the N tags a gateway hears,
    each sending a packet of airtime τ every T seconds on the channel the gateway scans, plus a
    base loss (scan-window gaps, Wi-Fi coexistence).
    """
    n = np.asarray(tags_heard, dtype=np.float64)
    return np.asarray(1.0 - (1.0 - base_loss) * np.exp(-2.0 * n * airtime_s / mean_interval_s))


@njit(cache=True, nogil=True, fastmath=_FM)
def rician_db(n1: float, n2: float, k_lin: float) -> float:  # pragma: no cover - compiled
    """Power in dB of a unit-mean-power Rician channel from two standard normals."""
    a = math.sqrt(k_lin / (k_lin + 1.0))
    s = math.sqrt(0.5 / (k_lin + 1.0))
    re = a + s * n1
    im = s * n2
    return 10.0 * math.log10(re * re + im * im + 1e-12)


def receive_packets(ev_tag: I32, ev_ctr: npt.NDArray[np.uint64], cand: I32, mean: F32,
                    chan_off: F32, body: F32, online: npt.NDArray[np.bool_], p_loss: F64, *,
                    sensitivity_dbm: float, rician_k_db: float,
                    seed: int) -> tuple[I32, I32, F64, npt.NDArray[np.int8]]:
    """Decide reception of BLE advertising packets (the per-packet hot path).

    For event ``e`` (tag ``ev_tag[e]``) and each candidate slot ``k`` of that tag with gateway
    ``g = cand[t, k] >= 0`` online, the gateway scans a random advertising channel ``c``; the
    packet is received with power ``round(mean[t,k] + chan_off[t,k,c] + F - body[t,k])`` unless
    it is below the sensitivity or lost (probability ``p_loss[g]``). Random numbers derive from
    ``(seed, ev_ctr[e]·4096 + k·4 + j)``.

    Returns:
        Per received packet: event index, gateway index, RSSI (whole dBm), channel index (0-2).

    Raises:
        ValueError: inconsistent shapes.
    """
    ev_tag = np.ascontiguousarray(ev_tag, dtype=np.int32)
    ev_ctr = np.ascontiguousarray(ev_ctr, dtype=np.uint64)
    if ev_tag.shape != ev_ctr.shape or ev_tag.ndim != 1:
        raise ValueError("ev_tag and ev_ctr must be 1-D arrays of equal length")
    if cand.ndim != 2 or mean.shape != cand.shape or body.shape != cand.shape:
        raise ValueError("cand, mean and body must be (tags, candidates) arrays of one shape")
    if chan_off.shape != (*cand.shape, 3):
        raise ValueError("chan_off must have shape (tags, candidates, 3)")
    if cand.shape[1] > 1024:
        raise ValueError("at most 1024 candidate gateways per tag")
    if online.shape != p_loss.shape:
        raise ValueError("online and p_loss must have one entry per gateway")
    return _receive(ev_tag, ev_ctr, np.ascontiguousarray(cand, dtype=np.int32),
                    np.ascontiguousarray(mean, dtype=np.float32),
                    np.ascontiguousarray(chan_off, dtype=np.float32),
                    np.ascontiguousarray(body, dtype=np.float32),
                    np.ascontiguousarray(online, dtype=np.bool_),
                    np.ascontiguousarray(p_loss, dtype=np.float64), float(sensitivity_dbm),
                    10.0 ** (rician_k_db / 10.0), np.uint64(seed))


@njit(cache=True, nogil=True, fastmath=_FM)
def _receive(ev_tag: I32, ev_ctr: npt.NDArray[np.uint64], cand: I32, mean: F32, chan_off: F32,
             body: F32, online: npt.NDArray[np.bool_], p_loss: F64, sens: float, k_lin: float,
             seed: np.uint64) -> tuple[I32, I32, F64, npt.NDArray[np.int8]]:  # pragma: no cover
    n_ev = ev_tag.shape[0]
    kmax = cand.shape[1]
    cap = n_ev * kmax
    o_ev = np.empty(cap, dtype=np.int32)
    o_gw = np.empty(cap, dtype=np.int32)
    o_rssi = np.empty(cap, dtype=np.float64)
    o_ch = np.empty(cap, dtype=np.int8)
    n = 0
    two_pi = 2.0 * math.pi
    for e in range(n_ev):
        t = ev_tag[e]
        base = ev_ctr[e] * np.uint64(4096)
        for k in range(kmax):
            g = cand[t, k]
            if g < 0:
                break
            if not online[g]:
                continue
            m = mean[t, k]
            if m < sens - 25.0:
                continue
            c0 = base + np.uint64(k * 4)
            ch = int(uniform(seed, c0) * 3.0)
            if ch > 2:
                ch = 2
            u1 = uniform(seed, c0 + np.uint64(1))
            u2 = uniform(seed, c0 + np.uint64(2))
            r = math.sqrt(-2.0 * math.log(1.0 - u1))
            fade = rician_db(r * math.cos(two_pi * u2), r * math.sin(two_pi * u2), k_lin)
            p = m + chan_off[t, k, ch] + fade - body[t, k]
            q = math.floor(p + 0.5)
            if q < sens:
                continue
            if uniform(seed, c0 + np.uint64(3)) < p_loss[g]:
                continue
            o_ev[n] = e
            o_gw[n] = g
            o_rssi[n] = q
            o_ch[n] = ch
            n += 1
    return o_ev[:n], o_gw[:n], o_rssi[:n], o_ch[:n]
