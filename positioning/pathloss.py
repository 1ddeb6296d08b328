"""Range models: BLE log-distance path loss and UWB two-way ranging, plus RSSI combining.

BLE model (per gateway, with the tag's advertised power folded into ``rssi_1m``)::

    rssi = rssi_1m - 10 n log10(d) + X,   X ~ N(0, sigma_db²)  (shadowing + fading)

Inverting one (combined) RSSI gives ``d_hat = 10 ** ((rssi_1m - rssi) / (10 n)) = d · exp(-X ·
ln10 / (10 n))``: log-normal around the true distance. :func:`rssi_to_range` returns that
**median** estimate (unbiased in log-distance; its mean overestimates d by
``exp(sigma_ln² / 2)``, +38 % at sigma_db = 7 dB, n = 2) with the linearised standard deviation
``sigma_d = d_hat · sigma_ln``, ``sigma_ln = ln(10) / (10 n) · sigma_db``. Because the error
grows in proportion to the range, far gateways get little weight in the solver, which is what
keeps the median estimate workable.

Readings of one tag–gateway pair in a window are combined in dBm by :func:`combine_rssi`: a
median/MAD outlier cut, then a trimmed mean. Averaging m readings reduces the fast-fading part
of the spread but not the static shadowing of that link, so :func:`combined_sigma_db` returns
``sqrt(sigma_static² + sigma_fast² / m)``, never below ``sigma_static``.
"""

from __future__ import annotations

from dataclasses import dataclass
from math import log

import numpy as np
import numpy.typing as npt
from numba import njit, prange  # NUMBA_CACHE_DIR: set by positioning/__init__ -> _numba

from positioning._numba import FASTMATH

__all__ = [
    "DEFAULT_SIGMA_FAST_DB",
    "DEFAULT_SIGMA_STATIC_DB",
    "CombinedRssi",
    "PathLoss",
    "combine_rssi",
    "combined_sigma_db",
    "rssi_at",
    "rssi_to_range",
    "uwb_range_model",
]

FloatArray = npt.NDArray[np.float64]
IntArray = npt.NDArray[np.int64]

DEFAULT_SIGMA_STATIC_DB = 4.5
"""Static shadowing of one link (walls, furniture, body), which averaging cannot remove."""
DEFAULT_SIGMA_FAST_DB = 5.0
"""Reading-to-reading fading; together sqrt(4.5² + 5²) ≈ 6.7 dB for a single reading."""

_LN10_OVER_10 = log(10.0) / 10.0


@dataclass(frozen=True, slots=True)
class PathLoss:
    """Log-distance path-loss parameters of one gateway (or pooled).

    Attributes:
        rssi_1m: expected RSSI at 1 m (dBm).
        n: path-loss exponent (2 in free space, 1.6–4 indoors).
        sigma_db: standard deviation of one reading about the model (dB).
    """

    rssi_1m: float = -59.0
    n: float = 2.0
    sigma_db: float = 6.7


def rssi_at(
    distance_m: npt.ArrayLike, rssi_1m: npt.ArrayLike, n: npt.ArrayLike
) -> FloatArray:
    """Expected RSSI (dBm) at ``distance_m`` metres: ``rssi_1m - 10 n log10(d)``."""
    d = np.maximum(np.asarray(distance_m, dtype=np.float64), 1e-3)
    out: FloatArray = np.asarray(rssi_1m, dtype=np.float64) - 10.0 * np.asarray(
        n, dtype=np.float64
    ) * np.log10(d)
    return out


def rssi_to_range(
    rssi: npt.ArrayLike,
    rssi_1m: npt.ArrayLike,
    n: npt.ArrayLike,
    sigma_db: npt.ArrayLike,
    *,
    min_range_m: float = 0.1,
    sigma_floor_m: float = 0.0,
) -> tuple[FloatArray, FloatArray]:
    """Invert the log-distance model: median range and its standard deviation.

    Args:
        rssi: RSSI in dBm (any shape; NaN = not heard, giving NaN outputs).
        rssi_1m: RSSI at 1 m, broadcastable to ``rssi`` (e.g. per gateway).
        n: path-loss exponent (> 0), broadcastable.
        sigma_db: standard deviation of ``rssi`` about the model (dB, >= 0), broadcastable.
        min_range_m: lower clip of the range (a tag on top of a gateway).
        sigma_floor_m: added in quadrature to the range σ. The log-normal σ makes short
            ranges look precise; near a gateway antenna pattern and height offsets dominate.
            On the Kolakowski flat a floor of 2–3 m (chosen by cross-validation) lowers the
            p75 error by about 8 %.

    Returns:
        ``(range_m, range_sigma_m)``: the median estimate ``10 ** ((rssi_1m - rssi) / (10 n))``
        and ``sqrt((range_m · ln(10) / (10 n) · sigma_db)² + sigma_floor_m²)`` (first-order
        log-normal spread).

    Raises:
        ValueError: if an ``n`` is not > 0 or a ``sigma_db`` is negative or non-finite.
    """
    r = np.asarray(rssi, dtype=np.float64)
    p0 = np.asarray(rssi_1m, dtype=np.float64)
    nn = np.asarray(n, dtype=np.float64)
    sd = np.asarray(sigma_db, dtype=np.float64)
    if not (np.isfinite(nn) & (nn > 0.0)).all():
        raise ValueError("n: path-loss exponent must be finite and > 0")
    if not (np.isfinite(sd) & (sd >= 0.0)).all():
        raise ValueError("sigma_db: must be finite and >= 0")
    if not (np.isfinite(sigma_floor_m) and sigma_floor_m >= 0.0):
        raise ValueError(f"sigma_floor_m: must be finite and >= 0, got {sigma_floor_m}")
    rng: FloatArray = np.maximum(10.0 ** ((p0 - r) / (10.0 * nn)), min_range_m)
    sig: FloatArray = np.hypot(rng * (_LN10_OVER_10 / nn) * sd, sigma_floor_m)
    return rng, np.broadcast_to(sig, rng.shape).copy()


def uwb_range_model(
    range_m: npt.ArrayLike, *, bias_m: float = 0.15, sigma_m: float = 0.08
) -> tuple[FloatArray, FloatArray]:
    """Correct UWB two-way-ranging distances for their constant positive bias.

    Args:
        range_m: measured ranges (m; NaN = no measurement).
        bias_m: mean of measured minus true range (fit it with
            :func:`positioning.calibrate.fit_uwb_range_model`; ~0.13–0.19 m on LIAS).
        sigma_m: line-of-sight range standard deviation (m). NLOS outliers are left to the
            solver's robust loss.

    Returns:
        ``(corrected_range_m, sigma_m)`` arrays of the input shape; corrected ranges are
        clipped at 0.
    """
    r = np.asarray(range_m, dtype=np.float64)
    if not (np.isfinite(bias_m) and np.isfinite(sigma_m) and sigma_m > 0.0):
        raise ValueError("uwb_range_model: bias_m must be finite and sigma_m finite and > 0")
    return np.maximum(r - bias_m, 0.0), np.full(r.shape, float(sigma_m))


def combined_sigma_db(
    count: npt.ArrayLike,
    sigma_static_db: float = DEFAULT_SIGMA_STATIC_DB,
    sigma_fast_db: float = DEFAULT_SIGMA_FAST_DB,
) -> FloatArray:
    """Standard deviation (dB) of the mean of ``count`` readings of one link.

    ``sqrt(sigma_static² + sigma_fast² / count)``: averaging removes fast fading but not the
    link's static shadowing, so the result never drops below ``sigma_static_db``. NaN where
    ``count`` is 0.
    """
    c = np.asarray(count, dtype=np.float64)
    with np.errstate(divide="ignore", invalid="ignore"):
        out: FloatArray = np.sqrt(sigma_static_db**2 + sigma_fast_db**2 / c)
    return np.where(c > 0, out, np.nan)


@dataclass(frozen=True, slots=True)
class CombinedRssi:
    """Per-group result of :func:`combine_rssi` (one entry per distinct key).

    Attributes:
        key: (G,) the distinct keys, in input order.
        start: (G,) index of each group's first reading in the input.
        rssi_dbm: (G,) robust mean RSSI.
        count: (G,) readings kept after the outlier cut and trimming.
        n_total: (G,) readings in the group.
        spread_db: (G,) standard deviation of the kept readings (0 for one reading).
    """

    key: IntArray
    start: IntArray
    rssi_dbm: FloatArray
    count: IntArray
    n_total: IntArray
    spread_db: FloatArray


def combine_rssi(
    keys: npt.ArrayLike,
    rssi: npt.ArrayLike,
    *,
    trim: float = 0.1,
    outlier_k: float = 3.0,
    outlier_min_db: float = 6.0,
) -> CombinedRssi:
    """Combine readings of many tag–gateway pairs, grouped by sorted key.

    Per group: readings further than ``max(outlier_k · 1.4826 · MAD, outlier_min_db)`` from
    the median are dropped; of the rest, ``floor(trim · m)`` are cut at each end and the
    remainder averaged. NaN readings are ignored (a group of only NaN gives NaN, count 0).

    Args:
        keys: (M,) integer pair keys (e.g. ``tag_index * n_gateways + gateway_index``), sorted
            so equal keys are contiguous.
        rssi: (M,) RSSI in dBm.
        trim: fraction cut at each end, in [0, 0.5).
        outlier_k: MAD multiplier of the outlier cut.
        outlier_min_db: the outlier cut is never tighter than this (dB).

    Returns:
        :class:`CombinedRssi`.

    Raises:
        ValueError: on mismatched lengths, unsorted keys or bad parameters.
    """
    k = np.ascontiguousarray(keys, dtype=np.int64)
    v = np.ascontiguousarray(rssi, dtype=np.float64)
    if k.ndim != 1 or v.shape != k.shape:
        raise ValueError(f"keys and rssi must be 1-D of equal length, got {k.shape}, {v.shape}")
    if k.size > 1 and (np.diff(k) < 0).any():
        i = int(np.argmax(np.diff(k) < 0))
        raise ValueError(f"keys: must be sorted; keys[{i}] > keys[{i + 1}]")
    if not 0.0 <= trim < 0.5:
        raise ValueError(f"trim: must be in [0, 0.5), got {trim}")
    if not (outlier_k > 0.0 and outlier_min_db >= 0.0):
        raise ValueError("outlier_k must be > 0 and outlier_min_db >= 0")
    if np.isinf(v).any():
        raise ValueError(f"rssi: infinite value at index {int(np.argmax(np.isinf(v)))}")
    starts = np.flatnonzero(np.r_[True, k[1:] != k[:-1]]) if k.size else np.empty(0, np.int64)
    starts = starts.astype(np.int64)
    mean, count, total, spread = _combine(v, starts, trim, outlier_k, outlier_min_db)
    return CombinedRssi(k[starts], starts, mean, count, total, spread)


@njit(cache=True, nogil=True, fastmath=FASTMATH)
def _combine_group(v, lo, hi, buf, dev, trim, outlier_k, outlier_min_db):  # type: ignore[no-untyped-def]
    # one pair's readings v[lo:hi]: (trimmed mean, readings kept, spread); NaN when none
    m = 0
    for j in range(lo, hi):
        if v[j] == v[j]:
            buf[m] = v[j]
            m += 1
    if m == 0:
        return np.nan, 0, np.nan
    b = buf[:m]
    b.sort()
    med = 0.5 * (b[(m - 1) // 2] + b[m // 2])
    for j in range(m):
        dev[j] = abs(b[j] - med)
    dv = dev[:m]
    dv.sort()
    mad = 0.5 * (dv[(m - 1) // 2] + dv[m // 2])
    cut = max(outlier_k * 1.4826 * mad, outlier_min_db)
    a = 0
    while b[a] < med - cut:
        a += 1
    z = m
    while b[z - 1] > med + cut:
        z -= 1
    ncut = int(trim * (z - a))
    a += ncut
    z -= ncut
    s = 0.0
    for j in range(a, z):
        s += b[j]
    mu = s / (z - a)
    ss = 0.0
    for j in range(a, z):
        ss += (b[j] - mu) ** 2
    return mu, z - a, np.sqrt(ss / (z - a - 1)) if z - a > 1 else 0.0


#: Groups per parallel chunk of :func:`_combine` (each chunk has its own sort buffers).
_COMBINE_CHUNK = 4096


@njit(cache=True, nogil=True, parallel=True, fastmath=FASTMATH)
def _combine(v, starts, trim, outlier_k, outlier_min_db):  # type: ignore[no-untyped-def]
    G = starts.shape[0]
    M = v.shape[0]
    mean = np.empty(G)
    count = np.zeros(G, dtype=np.int64)
    total = np.empty(G, dtype=np.int64)
    spread = np.empty(G)
    n_chunks = (G + _COMBINE_CHUNK - 1) // _COMBINE_CHUNK
    for ci in prange(n_chunks):
        g0 = ci * _COMBINE_CHUNK
        g1 = min(g0 + _COMBINE_CHUNK, G)
        longest = 0
        for g in range(g0, g1):
            end = starts[g + 1] if g + 1 < G else M
            longest = max(longest, end - starts[g])
        buf = np.empty(longest)
        dev = np.empty(longest)
        for g in range(g0, g1):
            lo = starts[g]
            hi = starts[g + 1] if g + 1 < G else M
            total[g] = hi - lo
            mu, kept, sd = _combine_group(v, lo, hi, buf, dev, trim, outlier_k, outlier_min_db)
            mean[g] = mu
            count[g] = kept
            spread[g] = sd
    return mean, count, total, spread
