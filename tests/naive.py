"""Slow, obvious reference implementations of the positioning kernels (for tests only)."""

from __future__ import annotations

import numpy as np
import numpy.typing as npt
from scipy.optimize import least_squares

FloatArray = npt.NDArray[np.float64]


def robust_cost(p: FloatArray, anchors: FloatArray, ranges: FloatArray, sigmas: FloatArray,
                z: float, c: float) -> float:
    """0.5 · Σ soft-L1(u²) with u = (|p - a| - r) / σ, as SciPy defines it."""
    d = np.sqrt(((anchors[:, :2] - p) ** 2).sum(1) + (z - anchors[:, 2]) ** 2)
    u = (d - ranges) / sigmas
    return float(np.sum(c * c * (np.sqrt(1.0 + (u / c) ** 2) - 1.0)))


def multilaterate_row(
    anchors: FloatArray, ranges: FloatArray, sigmas: FloatArray, z: float = 1.0,
    c: float = 2.0, bounds: FloatArray | None = None,
) -> tuple[FloatArray, float]:
    """Global robust fix of one row by SciPy least_squares from many starts; (xy, cost)."""
    use = ~np.isnan(ranges)
    A, r, s = anchors[use], ranges[use], sigmas[use]

    def res(p: FloatArray) -> FloatArray:
        d = np.sqrt(((A[:, :2] - p) ** 2).sum(1) + (z - A[:, 2]) ** 2)
        out: FloatArray = (d - r) / s
        return out

    lo, hi = (np.full(2, -np.inf), np.full(2, np.inf)) if bounds is None else (
        bounds[:2], bounds[2:])
    span = max(float(np.ptp(A[:, :2], axis=0).max()), 1.0)
    centre = A[:, :2].mean(0)
    starts = [centre] + [a[:2] + 0.1 for a in A]
    starts += [centre + span * np.array([dx, dy]) for dx in (-1, 0, 1) for dy in (-1, 0, 1)]
    best: tuple[FloatArray, float] | None = None
    for p0 in starts:
        p0 = np.clip(p0, lo + 1e-9, hi - 1e-9) if bounds is not None else p0
        sol = least_squares(res, p0, loss="soft_l1", f_scale=c, bounds=(lo, hi),
                            xtol=1e-12, ftol=1e-12, gtol=1e-12)
        cost = robust_cost(sol.x, A, r, s, z, c)
        if best is None or cost < best[1]:
            best = (sol.x, cost)
    assert best is not None
    return best


def gauss_newton_row(anchors: FloatArray, ranges: FloatArray, sigmas: FloatArray,
                     z: float, p0: FloatArray, iters: int = 50) -> FloatArray:
    """Plain weighted Gauss–Newton (no robust loss), for noiseless checks."""
    use = ~np.isnan(ranges)
    A, r, s = anchors[use], ranges[use], sigmas[use]
    p = p0.astype(np.float64).copy()
    for _ in range(iters):
        diff = p - A[:, :2]
        d = np.sqrt((diff**2).sum(1) + (z - A[:, 2]) ** 2)
        J = diff / d[:, None] / s[:, None]
        e = (d - r) / s
        p = p - np.linalg.lstsq(J, e, rcond=None)[0]
    return p


def radius95(cov: FloatArray) -> float:
    """95 % radius of a 2-D Gaussian by bisection on the exact (generalised chi²) CDF."""
    lam = np.linalg.eigvalsh(cov)
    rng = np.random.default_rng(0)
    x = rng.standard_normal((200_000, 2)) * np.sqrt(np.maximum(lam, 0.0))
    return float(np.quantile(np.sqrt((x**2).sum(1)), 0.95))


def rssi_to_range(rssi: FloatArray, rssi_1m: float, n: float, sigma_db: float,
                  floor: float = 0.0) -> tuple[FloatArray, FloatArray]:
    """Median range and its linearised σ, element by element."""
    out_r = np.empty_like(rssi)
    out_s = np.empty_like(rssi)
    for i, v in enumerate(rssi):
        d = 10.0 ** ((rssi_1m - v) / (10.0 * n))
        d = max(d, 0.1)
        out_r[i] = d
        out_s[i] = np.sqrt((d * np.log(10.0) / (10.0 * n) * sigma_db) ** 2 + floor**2)
    return out_r, out_s


def combine_rssi(keys: npt.NDArray[np.int64], rssi: FloatArray, trim: float = 0.1,
                 outlier_k: float = 3.0, outlier_min_db: float = 6.0
                 ) -> dict[int, tuple[float, int]]:
    """Per key: (robust mean, kept count) by the documented recipe, with Python lists."""
    out: dict[int, tuple[float, int]] = {}
    for key in dict.fromkeys(keys.tolist()):
        vals = sorted(v for k, v in zip(keys.tolist(), rssi.tolist(), strict=True)
                      if k == key and not np.isnan(v))
        if not vals:
            out[key] = (float("nan"), 0)
            continue
        med = float(np.median(vals))
        mad = float(np.median([abs(v - med) for v in vals]))
        cut = max(outlier_k * 1.4826 * mad, outlier_min_db)
        kept = [v for v in vals if med - cut <= v <= med + cut]
        c = int(trim * len(kept))
        kept = kept[c:len(kept) - c]
        out[key] = (float(np.mean(kept)), len(kept))
    return out
