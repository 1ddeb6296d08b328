"""Robust weighted multilateration of many tags at once (BLE or UWB ranges, Numba).

:func:`multilaterate` turns per-row ranges to known gateways into 2-D fixes with an honest
accuracy radius. One row is one fix (one tag in one time window); gateways that were not heard
are NaN. See the function docstring for the algorithm.
"""

from __future__ import annotations

from dataclasses import dataclass
from math import log, sqrt

import numpy as np
import numpy.typing as npt
from numba import njit, prange  # NUMBA_CACHE_DIR: set by positioning/__init__ -> _numba

from positioning._numba import FASTMATH

__all__ = ["DEFAULT_LOSS_SCALE", "DEFAULT_TAG_Z_M", "Fixes", "multilaterate", "radius95"]

FloatArray = npt.NDArray[np.float64]
IntArray = npt.NDArray[np.int64]

DEFAULT_TAG_Z_M = 1.0
"""Tag height (m, same datum as the gateway z) assumed when ``z`` is not given."""

DEFAULT_LOSS_SCALE = 2.0
"""Soft-L1 scale in units of the range sigma: residuals beyond about 2 σ count linearly."""

_MAX_ITER = 15
_STEP_TOL_M = 1e-3
_COLLINEAR_RATIO = 0.05 * 0.05  # spread across / along the anchor line, squared
_POOR_FIT_CHI2 = 9.0  # chi²/dof above which a second start is tried
_AMBIGUOUS_DCOST = 2.0  # mirror solutions closer than this in cost (Δχ² < 4) are ambiguous
_REFINE_U2 = 9.0  # refine with Cauchy when max u² > 9 c²


@dataclass(frozen=True, slots=True)
class Fixes:
    """Result of :func:`multilaterate`, one entry per input row.

    Attributes:
        xy: (N, 2) estimated position in metres; NaN when no gateway was heard.
        accuracy_m: (N,) radius around ``xy`` that contains the true position with about
            95 % probability (from the fit covariance, inflated when the fit is poor).
        residual: (N,) normalised RMS of the range residuals, sqrt(mean(((d - r)/σ)²)); about
            1 for a fit consistent with the sigmas, NaN when fewer than 3 gateways were used.
        n_used: (N,) number of gateways used (finite range).
    """

    xy: FloatArray
    accuracy_m: FloatArray
    residual: FloatArray
    n_used: IntArray

    def __len__(self) -> int:
        return int(self.xy.shape[0])


def radius95(lam_max: float, lam_min: float) -> float:
    """Radius of the circle holding 95 % of a 2-D Gaussian with covariance eigenvalues given.

    Exact at both ends (1.960·σ for a line, 2.448·σ for a circle); in between a cubic fit of
    the exact factor in ρ = sqrt(lam_min/lam_max), within 0.005·σ.
    """
    return float(_radius95(lam_max, lam_min))


@njit(cache=True, nogil=True, fastmath=FASTMATH)
def _radius95(lam_max: float, lam_min: float) -> float:
    if lam_max <= 0.0:
        return 0.0
    rho = sqrt(max(lam_min, 0.0) / lam_max)
    k = 1.9607254531 + rho * (0.0078968284 + rho * (0.0998270726 + rho * 0.3840095951))
    return k * sqrt(lam_max)


@njit(cache=True, nogil=True, fastmath=FASTMATH)
def _clamp(v: float, lo: float, hi: float) -> float:
    return lo if v < lo else (hi if v > hi else v)


@njit(cache=True, nogil=True, fastmath=FASTMATH)
def _evaluate(A, R, W, i, zt, x, y, c2, cauchy):  # type: ignore[no-untyped-def]
    """Robust cost, IRLS normal equations (H, g) and max u² of row ``i`` at (x, y).

    W holds 1/sigma. Loss soft-L1 ``2c²(√(1+u²/c²) - 1)`` or, with ``cauchy``,
    ``c² ln(1 + u²/c²)``; the returned cost is half the summed loss.
    """
    f = 0.0
    h11 = 0.0
    h12 = 0.0
    h22 = 0.0
    g1 = 0.0
    g2 = 0.0
    umax = 0.0
    ic2 = 1.0 / c2
    for k in range(R.shape[1]):
        r = R[i, k]
        if r != r:
            continue
        dx = x - A[i, k, 0]
        dy = y - A[i, k, 1]
        dz = zt - A[i, k, 2]
        d = max(sqrt(dx * dx + dy * dy + dz * dz), 1e-9)
        inv_d = 1.0 / d
        sw = W[i, k]
        e = d - r
        u = e * sw
        uu = u * u
        umax = max(umax, uu)
        t = 1.0 + uu * ic2
        if cauchy:
            f += 0.5 * c2 * log(t)
            w = sw * sw / t
        else:
            q = sqrt(t)
            f += c2 * (q - 1.0)
            w = sw * sw * q / t
        jx = dx * inv_d
        jy = dy * inv_d
        wjx = w * jx
        wjy = w * jy
        h11 += wjx * jx
        h12 += wjx * jy
        h22 += wjy * jy
        g1 += wjx * e
        g2 += wjy * e
    return f, h11, h12, h22, g1, g2, umax


@njit(cache=True, nogil=True, fastmath=FASTMATH)
def _linear_start(A, R, W, i, zt, cx, cy, skip=-1):  # type: ignore[no-untyped-def]
    """Closed-form start: weighted linear least squares on differences of squared ranges.

    ``|p - a_k|² = rh_k²`` minus its weighted mean over k is linear in p. Falls back to the
    centroid (cx, cy) when the 2×2 system is ill-conditioned. Gateway ``skip`` is left out.
    """
    sw = 0.0
    mx = 0.0
    my = 0.0
    mq = 0.0
    K = R.shape[1]
    for k in range(K):
        r = R[i, k]
        if r != r or k == skip:
            continue
        dz = zt - A[i, k, 2]
        rh2 = max(r * r - dz * dz, 0.0)
        w = W[i, k] * W[i, k] / (rh2 + 1.0)
        ax = A[i, k, 0]
        ay = A[i, k, 1]
        sw += w
        mx += w * ax
        my += w * ay
        mq += w * (ax * ax + ay * ay - rh2)
    mx /= sw
    my /= sw
    mq /= sw
    h11 = 0.0
    h12 = 0.0
    h22 = 0.0
    g1 = 0.0
    g2 = 0.0
    for k in range(K):
        r = R[i, k]
        if r != r or k == skip:
            continue
        dz = zt - A[i, k, 2]
        rh2 = max(r * r - dz * dz, 0.0)
        w = W[i, k] * W[i, k] / (rh2 + 1.0)
        ax = A[i, k, 0]
        ay = A[i, k, 1]
        ux = 2.0 * (ax - mx)
        uy = 2.0 * (ay - my)
        b = ax * ax + ay * ay - rh2 - mq
        h11 += w * ux * ux
        h12 += w * ux * uy
        h22 += w * uy * uy
        g1 += w * ux * b
        g2 += w * uy * b
    det = h11 * h22 - h12 * h12
    tr = h11 + h22
    if not det > 1e-6 * tr * tr:
        return cx, cy
    return (h22 * g1 - h12 * g2) / det, (h11 * g2 - h12 * g1) / det


@njit(cache=True, nogil=True, fastmath=FASTMATH)
def _solve(A, R, W, i, zt, x, y, c2, bx0, by0, bx1, by1, cauchy=False):  # type: ignore[no-untyped-def]
    """Levenberg–Marquardt with IRLS weights, projected onto the box; (x, y, cost, max u²)."""
    x = _clamp(x, bx0, bx1)
    y = _clamp(y, by0, by1)
    f, h11, h12, h22, g1, g2, um = _evaluate(A, R, W, i, zt, x, y, c2, cauchy)
    lam = 1e-3
    for _ in range(_MAX_ITER):
        damp = lam * 0.5 * (h11 + h22) + 1e-12
        a11 = h11 + damp
        a22 = h22 + damp
        det = a11 * a22 - h12 * h12
        sx = -(a22 * g1 - h12 * g2) / det
        sy = -(a11 * g2 - h12 * g1) / det
        nx = _clamp(x + sx, bx0, bx1)
        ny = _clamp(y + sy, by0, by1)
        nf, n11, n12, n22, ng1, ng2, num = _evaluate(A, R, W, i, zt, nx, ny, c2, cauchy)
        if nf <= f:
            step = sqrt((nx - x) ** 2 + (ny - y) ** 2)
            x = nx
            y = ny
            small = f - nf <= 1e-12 * (1.0 + f)
            f, h11, h12, h22, g1, g2, um = nf, n11, n12, n22, ng1, ng2, num
            lam = max(lam * 0.2, 1e-9)
            if step < _STEP_TOL_M or small:
                break
        else:
            lam *= 10.0
            if lam > 1e8:
                break
    return x, y, f, um


@njit(cache=True, nogil=True, fastmath=FASTMATH)
def _fix_row(A, R, W, Z, B, has_b, c2, i, XY, ACC, RES, NU):  # type: ignore[no-untyped-def]
    K = R.shape[1]
    zt = Z[i]
    inf = np.inf
    bx0, by0, bx1, by1 = -inf, -inf, inf, inf
    if has_b:
        bx0, by0, bx1, by1 = B[i, 0], B[i, 1], B[i, 2], B[i, 3]
    # Pass 1: count, weighted centroid, nearest-range anchor, anchor spread.
    m = 0
    sw = 0.0
    cx = 0.0
    cy = 0.0
    mx = 0.0
    my = 0.0
    k_near = -1
    r_near = inf
    for k in range(K):
        r = R[i, k]
        if r != r:
            continue
        m += 1
        dz = zt - A[i, k, 2]
        rh = sqrt(max(r * r - dz * dz, 0.0))
        w = 1.0 / max(rh, 0.5) ** 2
        sw += w
        cx += w * A[i, k, 0]
        cy += w * A[i, k, 1]
        mx += A[i, k, 0]
        my += A[i, k, 1]
        if rh < r_near:
            r_near = rh
            k_near = k
    NU[i] = m
    if m == 0:
        XY[i, 0] = np.nan
        XY[i, 1] = np.nan
        ACC[i] = np.nan
        RES[i] = np.nan
        return
    if m <= 2:
        _proximity(A, R, W, i, zt, m, k_near, bx0, by0, bx1, by1, XY, ACC)
        RES[i] = np.nan
        return
    cx /= sw
    cy /= sw
    mx /= m
    my /= m
    sxx = 0.0
    sxy = 0.0
    syy = 0.0
    for k in range(K):
        if R[i, k] != R[i, k]:
            continue
        ex = A[i, k, 0] - mx
        ey = A[i, k, 1] - my
        sxx += ex * ex
        sxy += ex * ey
        syy += ey * ey
    tr = sxx + syy
    disc = sqrt(max(0.25 * (sxx - syy) ** 2 + sxy * sxy, 0.0))
    l_big = 0.5 * tr + disc
    l_small = 0.5 * tr - disc
    amb = 0.0
    cauchy = False
    if l_small <= _COLLINEAR_RATIO * l_big:
        # Anchors (nearly) on a line: the two mirror images fit equally well.
        if abs(sxy) > 1e-12:
            ux = l_big - syy
            uy = sxy
        elif sxx >= syy:
            ux = 1.0
            uy = 0.0
        else:
            ux = 0.0
            uy = 1.0
        un = sqrt(ux * ux + uy * uy)
        nx = -uy / un
        ny = ux / un
        h0 = max(0.7 * r_near, 0.5)
        x1, y1, f1, _ = _solve(A, R, W, i, zt, cx + h0 * nx, cy + h0 * ny, c2, bx0, by0, bx1, by1)
        x2, y2, f2, _ = _solve(A, R, W, i, zt, cx - h0 * nx, cy - h0 * ny, c2, bx0, by0, bx1, by1)
        if abs(f1 - f2) < _AMBIGUOUS_DCOST:
            amb = 0.5 * sqrt((x1 - x2) ** 2 + (y1 - y2) ** 2)
            x = 0.5 * (x1 + x2)
            y = 0.5 * (y1 + y2)
        elif f1 <= f2:
            x, y = x1, y1
        else:
            x, y = x2, y2
    else:
        x, y = _linear_start(A, R, W, i, zt, cx, cy)
        x, y, f, um = _solve(A, R, W, i, zt, x, y, c2, bx0, by0, bx1, by1)
        if 2.0 * f > _POOR_FIT_CHI2 * (m - 2):
            # The linear start may sit in a wrong basin: try the weighted centroid.
            x2, y2, f2, _ = _solve(A, R, W, i, zt, cx, cy, c2, bx0, by0, bx1, by1)
            if f2 < f:
                x, y, f = x2, y2, f2
                um = np.inf
        if 2.0 * f > _POOR_FIT_CHI2 * (m - 2):
            # Poor fit: maybe a local minimum; restart near the closest gateway.
            sx0 = A[i, k_near, 0] + 0.3 * (cx - A[i, k_near, 0])
            sy0 = A[i, k_near, 1] + 0.3 * (cy - A[i, k_near, 1])
            x2, y2, f2, _ = _solve(A, R, W, i, zt, sx0, sy0, c2, bx0, by0, bx1, by1)
            if f2 < f:
                x, y = x2, y2
                um = np.inf
        if um > _REFINE_U2 * c2:
            # A residual beyond 3c: refine with the redescending Cauchy loss, which gives a
            # gross outlier (NLOS, reflection) almost no pull.
            x, y, f, _ = _solve(A, R, W, i, zt, x, y, c2, bx0, by0, bx1, by1, True)
            cauchy = True
            if m >= 4:
                # The soft-L1 optimum may sit in the outlier's basin: restart from linear
                # solutions that leave out one gateway at a time.
                for kk in range(K):
                    if R[i, kk] != R[i, kk]:
                        continue
                    sx0, sy0 = _linear_start(A, R, W, i, zt, x, y, kk)
                    x2, y2, f2, _ = _solve(A, R, W, i, zt, sx0, sy0, c2, bx0, by0, bx1, by1,
                                           True)
                    if f2 < f:
                        x, y, f = x2, y2, f2
    XY[i, 0] = x
    XY[i, 1] = y
    _accuracy(A, R, W, i, zt, x, y, c2, m, amb, cauchy, ACC, RES)


@njit(cache=True, nogil=True, fastmath=FASTMATH)
def _accuracy(A, R, W, i, zt, x, y, c2, m, amb, cauchy, ACC, RES):  # type: ignore[no-untyped-def]
    """Covariance-based 95 % radius (inflated by chi²/dof > 1) and normalised RMS."""
    h11 = 0.0
    h12 = 0.0
    h22 = 0.0
    chi2 = 0.0
    ss = 0.0
    cap = np.inf
    for k in range(R.shape[1]):
        r = R[i, k]
        if r != r:
            continue
        dx = x - A[i, k, 0]
        dy = y - A[i, k, 1]
        dz = zt - A[i, k, 2]
        d = max(sqrt(dx * dx + dy * dy + dz * dz), 1e-9)
        s = 1.0 / W[i, k]
        u = (d - r) / s
        q = 1.0 / (1.0 + u * u / c2) if cauchy else 1.0 / sqrt(1.0 + u * u / c2)
        w = q / (s * s)
        h11 += w * dx * dx / (d * d)
        h12 += w * dx * dy / (d * d)
        h22 += w * dy * dy / (d * d)
        chi2 += q * u * u
        ss += u * u
        rh = sqrt(max(r * r - dz * dz, 0.0))
        cap = min(cap, sqrt(dx * dx + dy * dy) + rh + 2.0 * s)
    RES[i] = sqrt(ss / m)
    # Inflate (never deflate) by the a posteriori variance factor: on real data the errors
    # are largely systematic (shadowing, per-link bias) and do not show in the residuals.
    infl = max(1.0, chi2 / (m - 2))
    det = h11 * h22 - h12 * h12
    tr = h11 + h22
    if det <= 1e-12 * tr * tr:
        ACC[i] = cap
        return
    # Covariance = infl * H^-1; its eigenvalues are infl / (eigenvalues of H).
    disc = sqrt(max(0.25 * (h11 - h22) ** 2 + h12 * h12, 0.0))
    e_big = 0.5 * tr + disc
    e_small = max(0.5 * tr - disc, det / e_big)
    acc = _radius95(infl / e_small, infl / e_big) + amb
    ACC[i] = min(acc, cap + amb)


@njit(cache=True, nogil=True, fastmath=FASTMATH)
def _proximity(A, R, W, i, zt, m, k_near, bx0, by0, bx1, by1, XY, ACC):  # type: ignore[no-untyped-def]
    """One or two gateways: a point between them with an accuracy that covers the truth."""
    k1 = k_near
    k2 = -1
    for k in range(R.shape[1]):
        if R[i, k] == R[i, k] and k != k1:
            k2 = k
    dz1 = zt - A[i, k1, 2]
    r1 = sqrt(max(R[i, k1] ** 2 - dz1 * dz1, 0.0))
    s1 = 1.0 / W[i, k1]
    x = A[i, k1, 0]
    y = A[i, k1, 1]
    acc = r1 + 2.0 * s1
    if m == 2:
        dz2 = zt - A[i, k2, 2]
        r2 = sqrt(max(R[i, k2] ** 2 - dz2 * dz2, 0.0))
        s2 = 1.0 / W[i, k2]
        ex = A[i, k2, 0] - x
        ey = A[i, k2, 1] - y
        D = sqrt(ex * ex + ey * ey)
        if D > 1e-6:
            # Foot of the chord through the two circle intersections, on the baseline.
            a = _clamp((D * D + r1 * r1 - r2 * r2) / (2.0 * D), 0.0, D)
            h = sqrt(max(r1 * r1 - a * a, 0.0))
            x += a * ex / D
            y += a * ey / D
            acc = h + 2.0 * max(s1, s2) + abs(sqrt(a * a + h * h) - r1)
    XY[i, 0] = _clamp(x, bx0, bx1)
    XY[i, 1] = _clamp(y, by0, by1)
    ACC[i] = acc


@njit(cache=True, nogil=True, parallel=True)
def _multilaterate(A, R, W, Z, B, has_b, c2):  # type: ignore[no-untyped-def]
    N = R.shape[0]
    XY = np.empty((N, 2))
    ACC = np.empty(N)
    RES = np.empty(N)
    NU = np.empty(N, dtype=np.int64)
    for i in prange(N):
        _fix_row(A, R, W, Z, B, has_b, c2, i, XY, ACC, RES, NU)
    return XY, ACC, RES, NU


@njit(cache=True, nogil=True)
def _prepare(A, R, S):  # type: ignore[no-untyped-def]
    """Validate heard entries in one pass and return 1/sigma; (W, code, row, col)."""
    N, K = R.shape
    W = np.empty((N, K))
    for i in range(N):
        for k in range(K):
            r = R[i, k]
            if r != r:
                W[i, k] = np.nan
                continue
            if not np.isfinite(r):
                return W, 1, i, k
            s = S[i, k]
            if not (np.isfinite(s) and s > 0.0):
                return W, 2, i, k
            if not (np.isfinite(A[i, k, 0]) and np.isfinite(A[i, k, 1])
                    and np.isfinite(A[i, k, 2])):
                return W, 3, i, k
            W[i, k] = 1.0 / s
    return W, 0, -1, -1


def _first_bad(mask: npt.NDArray[np.bool_]) -> tuple[int, ...]:
    return tuple(int(v) for v in np.argwhere(mask)[0])


def _as_float(name: str, value: object) -> FloatArray:
    try:
        return np.asarray(value, dtype=np.float64)
    except (TypeError, ValueError) as exc:
        raise ValueError(f"{name}: cannot convert to float64 ({exc})") from None


def multilaterate(
    anchors: npt.ArrayLike,
    ranges: npt.ArrayLike,
    sigmas: npt.ArrayLike,
    *,
    z: npt.ArrayLike | None = None,
    bounds: npt.ArrayLike | None = None,
    loss_scale: float = DEFAULT_LOSS_SCALE,
) -> Fixes:
    """Estimate 2-D tag positions from ranges to gateways, one fix per row.

    Each row is solved as robust weighted nonlinear least squares in (x, y) with the tag
    height fixed: minimise ``sum_k rho(((|p - a_k| - r_k) / sigma_k)**2)`` where ``|p - a_k|``
    is the 3-D distance from ``p = (x, y, z)`` to gateway ``a_k`` and ``rho`` is the soft-L1
    loss ``2 c² (sqrt(1 + u²/c²) - 1)`` (scale ``c = loss_scale``; same as SciPy's
    ``least_squares(loss="soft_l1", f_scale=c)`` on residuals ``u``), so a gross outlier
    (NLOS, a reflection) pulls with bounded force; when a residual still exceeds 3c the fix
    is refined with the redescending Cauchy loss ``c² ln(1 + u²/c²)``, which all but ignores
    it (restarted from leave-one-gateway-out linear solutions, keeping the lowest Cauchy
    cost). Levenberg–Marquardt with IRLS weights and
    2×2 normal equations solved in closed form, started from the centroid of the gateways
    weighted by 1/range². If the used gateways are (nearly) collinear, both mirror images are
    solved; when they fit equally well the midpoint (on the gateway line) is returned and the
    accuracy covers both. A poor fit (chi²/dof > 9) is retried from near the closest gateway.
    With ``bounds`` every iterate is projected onto the row's box.

    With one gateway heard the fix is that gateway (accuracy = horizontal range + 2σ); with
    two, the point on their baseline under the intersections of the two range circles
    (accuracy = half the chord + 2σ). With none, the row is NaN and ``n_used`` is 0.

    Args:
        anchors: (N, K, 3) gateway positions in metres, or (K, 3) shared by all rows.
            May be NaN where the range is NaN.
        ranges: (N, K) measured ranges in metres; NaN = gateway not heard.
        sigmas: range standard deviations in metres, (N, K) or broadcastable to it (e.g.
            (K,) or a scalar); must be finite and > 0 wherever the range is finite.
        z: tag height in metres, (N,) or a scalar, in the same vertical datum as the gateway
            z. Default :data:`DEFAULT_TAG_Z_M` (1.0 m, a device on a trolley or bed).
        bounds: (N, 4) or (4,) box ``xmin, ymin, xmax, ymax`` the fix must lie in.
        loss_scale: soft-L1 scale ``c`` in sigmas (default 2.0).

    Returns:
        :class:`Fixes` with ``xy`` (N, 2), ``accuracy_m`` (N,) (95 % radius), ``residual``
        (N,) (normalised RMS) and ``n_used`` (N,).

    Raises:
        ValueError: on shapes that do not fit, infinite ranges, or a bad sigma, gateway
            position or box for a range in use (the message names the row and column).
    """
    R = _as_float("ranges", ranges)
    if R.ndim != 2:
        raise ValueError(f"ranges: expected shape (N, K), got {R.shape}")
    N, K = R.shape
    A = _as_float("anchors", anchors)
    if A.ndim == 2 and A.shape == (K, 3):
        A = np.broadcast_to(A, (N, K, 3))
    if A.shape != (N, K, 3):
        raise ValueError(f"anchors: expected shape ({N}, {K}, 3) or ({K}, 3), got {A.shape}")
    S = _as_float("sigmas", sigmas)
    try:
        S = np.broadcast_to(S, (N, K))
    except ValueError:
        raise ValueError(f"sigmas: shape {S.shape} does not broadcast to ({N}, {K})") from None
    R = np.ascontiguousarray(R)
    W, code, row, col = _prepare(np.ascontiguousarray(A), R, np.ascontiguousarray(S))
    if code == 1:
        raise ValueError(f"ranges: infinite value at (row, col) ({row}, {col})")
    if code == 2:
        raise ValueError(
            f"sigmas: must be finite and > 0 where the range is finite; bad at (row, col) "
            f"({row}, {col})"
        )
    if code == 3:
        raise ValueError(
            f"anchors: non-finite position for a heard gateway at (row, col) ({row}, {col})"
        )
    if z is None:
        Z = np.full(N, DEFAULT_TAG_Z_M)
    else:
        Zin = _as_float("z", z)
        if Zin.ndim == 0:
            Z = np.full(N, float(Zin))
        elif Zin.shape == (N,):
            Z = np.ascontiguousarray(Zin)
        else:
            raise ValueError(f"z: expected a scalar or shape ({N},), got {Zin.shape}")
        if not np.isfinite(Z).all():
            raise ValueError(f"z: non-finite tag height at row {_first_bad(~np.isfinite(Z))[0]}")
    has_b = bounds is not None
    if bounds is None:
        Bx = np.zeros((1, 4))
    else:
        Bin = _as_float("bounds", bounds)
        if Bin.shape == (4,):
            Bin = np.broadcast_to(Bin, (N, 4))
        if Bin.shape != (N, 4):
            raise ValueError(f"bounds: expected shape ({N}, 4) or (4,), got {Bin.shape}")
        badb = ~np.isfinite(Bin).all(axis=1) | (Bin[:, 0] > Bin[:, 2]) | (Bin[:, 1] > Bin[:, 3])
        if badb.any():
            raise ValueError(f"bounds: row {int(np.argmax(badb))} is not a finite box with "
                             "xmin <= xmax and ymin <= ymax")
        Bx = np.ascontiguousarray(Bin)
    if not (np.isfinite(loss_scale) and loss_scale > 0.0):
        raise ValueError(f"loss_scale: must be finite and > 0, got {loss_scale}")
    if N == 0:
        return Fixes(np.empty((0, 2)), np.empty(0), np.empty(0), np.empty(0, dtype=np.int64))
    xy, acc, res, nu = _multilaterate(
        np.ascontiguousarray(A), R, W, Z, Bx, has_b,
        float(loss_scale) ** 2,
    )
    return Fixes(xy, acc, res, nu)
