"""Calibration of range models from readings at known distances.

* :func:`fit_path_loss`: robust (Huber IRLS) regression of RSSI on log10(distance), giving
  ``rssi_1m``, the exponent ``n``, the residual σ, R² and the sample count.
* :func:`fit_path_loss_per_gateway`: the same per gateway, falling back to the pooled fit for
  gateways with too few samples or an implausible exponent.
* Sample builders for the two calibration sources: reference tags at surveyed spots
  (:func:`reference_tag_samples`) and gateways hearing each other (:func:`gateway_pair_samples`).
* :func:`fit_uwb_range_model`: constant bias and σ of UWB ranges against true distances.
* :func:`fit_accuracy_scale`: factor that makes ``accuracy_m`` a calibrated 95 % radius.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

import numpy as np
import numpy.typing as npt

from positioning.pathloss import PathLoss

__all__ = [
    "PathLossFit",
    "UwbRangeFit",
    "fit_accuracy_scale",
    "fit_path_loss",
    "fit_path_loss_per_gateway",
    "fit_uwb_range_model",
    "gateway_pair_samples",
    "reference_tag_samples",
]

FloatArray = npt.NDArray[np.float64]
IntArray = npt.NDArray[np.int64]


@dataclass(frozen=True, slots=True)
class PathLossFit:
    """A fitted log-distance model ``rssi = rssi_1m - 10 n log10(d)``.

    Attributes:
        rssi_1m: intercept at 1 m (dBm).
        n: path-loss exponent.
        sigma_db: standard deviation of the residuals (dB; all samples, outliers included).
        sigma_robust_db: 1.4826 × median absolute residual (dB).
        r2: coefficient of determination of the fitted line.
        n_samples: samples used.
        pooled: True when this is a fallback to the pooled fit.
    """

    rssi_1m: float
    n: float
    sigma_db: float
    sigma_robust_db: float
    r2: float
    n_samples: int
    pooled: bool = False

    def model(self) -> PathLoss:
        """The fit as :class:`positioning.pathloss.PathLoss`."""
        return PathLoss(self.rssi_1m, self.n, self.sigma_db)


@dataclass(frozen=True, slots=True)
class UwbRangeFit:
    """UWB range error model: ``measured = true + bias + e``, e ~ (0, sigma²).

    Attributes:
        bias_m: median of measured − true range.
        sigma_m: 1.4826 × MAD of the error (robust σ).
        n_samples: samples used.
    """

    bias_m: float
    sigma_m: float
    n_samples: int


def _huber_line(
    xv: FloatArray, yv: FloatArray, k: float, max_iter: int = 50
) -> tuple[float, float, FloatArray]:
    """Huber IRLS fit of y = a + b x; returns (a, b, final weights)."""
    X = np.column_stack([np.ones_like(xv), xv])
    coef, *_ = np.linalg.lstsq(X, yv, rcond=None)
    w = np.ones_like(xv)
    for _ in range(max_iter):
        res = yv - X @ coef
        scale = 1.4826 * float(np.median(np.abs(res - np.median(res))))
        if scale <= 0.0:
            break
        u = np.abs(res) / (k * scale)
        w = np.where(u <= 1.0, 1.0, 1.0 / np.maximum(u, 1e-12))
        sw = np.sqrt(w)
        new, *_ = np.linalg.lstsq(X * sw[:, None], yv * sw, rcond=None)
        if np.allclose(new, coef, rtol=0.0, atol=1e-9):
            coef = new
            break
        coef = new
    return float(coef[0]), float(coef[1]), w


def fit_path_loss(
    distance_m: npt.ArrayLike,
    rssi_dbm: npt.ArrayLike,
    *,
    huber_k: float = 1.345,
    min_distance_m: float = 0.1,
) -> PathLossFit:
    """Robust fit of ``rssi = rssi_1m - 10 n log10(d)``.

    Args:
        distance_m: true distances (m); samples closer than ``min_distance_m`` or with a NaN
            distance or RSSI are dropped.
        rssi_dbm: RSSI in dBm, same shape.
        huber_k: Huber threshold in robust σ (1.345: 95 % efficiency on Gaussian data).
        min_distance_m: lower limit of usable distances.

    Returns:
        :class:`PathLossFit`.

    Raises:
        ValueError: on mismatched shapes, fewer than 3 usable samples, or all samples at the
            same distance.
    """
    d = np.asarray(distance_m, dtype=np.float64).ravel()
    r = np.asarray(rssi_dbm, dtype=np.float64).ravel()
    if d.shape != r.shape:
        raise ValueError(f"distance_m and rssi_dbm differ in size: {d.size} vs {r.size}")
    ok = np.isfinite(d) & np.isfinite(r) & (d >= min_distance_m)
    if ok.sum() < 3:
        raise ValueError(f"fit_path_loss: need >= 3 usable samples, got {int(ok.sum())}")
    x = np.log10(d[ok])
    y = r[ok]
    if np.ptp(x) < 1e-6:
        raise ValueError("fit_path_loss: all samples at the same distance; n is not identifiable")
    a, b, _ = _huber_line(x, y, huber_k)
    res = y - (a + b * x)
    ss_tot = float(np.sum((y - y.mean()) ** 2))
    r2 = 1.0 - float(np.sum(res**2)) / ss_tot if ss_tot > 0 else 0.0
    return PathLossFit(
        rssi_1m=a,
        n=-b / 10.0,
        sigma_db=float(np.std(res, ddof=2)) if res.size > 2 else float("nan"),
        sigma_robust_db=1.4826 * float(np.median(np.abs(res))),
        r2=r2,
        n_samples=int(ok.sum()),
    )


def fit_path_loss_per_gateway(
    gateway: npt.ArrayLike,
    distance_m: npt.ArrayLike,
    rssi_dbm: npt.ArrayLike,
    *,
    min_samples: int = 30,
    n_range: tuple[float, float] = (1.2, 5.0),
    min_log_span: float = 0.3,
) -> tuple[dict[int, PathLossFit], PathLossFit]:
    """Fit every gateway, with the pooled fit as fallback.

    A gateway gets the pooled fit (``pooled=True``) when it has fewer than ``min_samples``
    samples, its log10-distance span is below ``min_log_span`` (a factor 2 by default), or its
    exponent falls outside ``n_range``.

    Args:
        gateway: (M,) integer gateway ids of the samples.
        distance_m: (M,) true distances.
        rssi_dbm: (M,) RSSI.
        min_samples: samples needed for a gateway's own fit.
        n_range: plausible exponent range.
        min_log_span: minimum spread of log10 distance for an own fit.

    Returns:
        ``(per_gateway, pooled)``: dict from gateway id to fit, and the pooled fit.
    """
    g = np.asarray(gateway).ravel().astype(np.int64)
    d = np.asarray(distance_m, dtype=np.float64).ravel()
    r = np.asarray(rssi_dbm, dtype=np.float64).ravel()
    if not g.shape == d.shape == r.shape:
        raise ValueError(f"gateway, distance_m, rssi_dbm differ in size: {g.size}, {d.size}, "
                         f"{r.size}")
    pooled = fit_path_loss(d, r)
    fits: dict[int, PathLossFit] = {}
    for gid in np.unique(g):
        sel = g == gid
        ok = sel & np.isfinite(d) & np.isfinite(r) & (d > 0)
        fallback = PathLossFit(pooled.rssi_1m, pooled.n, pooled.sigma_db,
                               pooled.sigma_robust_db, pooled.r2, int(ok.sum()), pooled=True)
        if ok.sum() < max(min_samples, 3) or np.ptp(np.log10(d[ok])) < min_log_span:
            fits[int(gid)] = fallback
            continue
        f = fit_path_loss(d[sel], r[sel])
        fits[int(gid)] = f if n_range[0] <= f.n <= n_range[1] else fallback
    return fits, pooled


def reference_tag_samples(
    spots_xyz: npt.ArrayLike,
    gateways_xyz: npt.ArrayLike,
    rssi_dbm: npt.ArrayLike,
) -> tuple[IntArray, FloatArray, FloatArray]:
    """Flatten reference-tag readings into (gateway, 3-D distance, rssi) samples.

    Args:
        spots_xyz: (S, 3) positions of the reference tag for each reading row.
        gateways_xyz: (G, 3) gateway positions.
        rssi_dbm: (S, G) RSSI of row s at gateway g (NaN = not heard).

    Returns:
        ``(gateway_index, distance_m, rssi_dbm)`` for the heard readings.
    """
    p = np.asarray(spots_xyz, dtype=np.float64)
    gw = np.asarray(gateways_xyz, dtype=np.float64)
    rs = np.asarray(rssi_dbm, dtype=np.float64)
    if p.ndim != 2 or p.shape[1] != 3 or gw.ndim != 2 or gw.shape[1] != 3:
        raise ValueError(f"spots_xyz and gateways_xyz must be (., 3), got {p.shape}, {gw.shape}")
    if rs.shape != (p.shape[0], gw.shape[0]):
        raise ValueError(f"rssi_dbm: expected shape {(p.shape[0], gw.shape[0])}, got {rs.shape}")
    dist = np.linalg.norm(p[:, None, :] - gw[None, :, :], axis=2)
    heard = np.isfinite(rs)
    gi = np.broadcast_to(np.arange(gw.shape[0]), rs.shape)
    return gi[heard].astype(np.int64), dist[heard], rs[heard]


def gateway_pair_samples(
    gateways_xyz: npt.ArrayLike,
    pairs: npt.ArrayLike,
    rssi_dbm: npt.ArrayLike,
) -> tuple[IntArray, FloatArray, FloatArray]:
    """Samples from gateways hearing each other: receiver id, distance and RSSI.

    Args:
        gateways_xyz: (G, 3) gateway positions.
        pairs: (M, 2) integer (transmitter, receiver) indices into ``gateways_xyz``.
        rssi_dbm: (M,) RSSI measured by the receiver.

    Returns:
        ``(receiver_index, distance_m, rssi_dbm)``; the receiver is the gateway calibrated.
    """
    gw = np.asarray(gateways_xyz, dtype=np.float64)
    pr = np.asarray(pairs)
    rs = np.asarray(rssi_dbm, dtype=np.float64)
    if pr.ndim != 2 or pr.shape[1] != 2 or rs.shape != (pr.shape[0],):
        raise ValueError(f"pairs must be (M, 2) and rssi_dbm (M,), got {pr.shape}, {rs.shape}")
    pr = pr.astype(np.int64)
    if pr.size and (pr.min() < 0 or pr.max() >= gw.shape[0]):
        raise ValueError(f"pairs: gateway index out of range [0, {gw.shape[0]})")
    if (pr[:, 0] == pr[:, 1]).any():
        raise ValueError(f"pairs: row {int(np.argmax(pr[:, 0] == pr[:, 1]))} pairs a gateway "
                         "with itself")
    dist = np.linalg.norm(gw[pr[:, 0]] - gw[pr[:, 1]], axis=1)
    return pr[:, 1].copy(), dist, rs


def fit_uwb_range_model(
    measured_m: npt.ArrayLike | Sequence[float], true_m: npt.ArrayLike | Sequence[float]
) -> UwbRangeFit:
    """Robust bias and σ of UWB ranges: median and 1.4826·MAD of ``measured - true``.

    Raises:
        ValueError: on mismatched shapes or no finite pair.
    """
    m = np.asarray(measured_m, dtype=np.float64).ravel()
    t = np.asarray(true_m, dtype=np.float64).ravel()
    if m.shape != t.shape:
        raise ValueError(f"measured_m and true_m differ in size: {m.size} vs {t.size}")
    e = (m - t)[np.isfinite(m) & np.isfinite(t)]
    if e.size == 0:
        raise ValueError("fit_uwb_range_model: no finite (measured, true) pair")
    bias = float(np.median(e))
    return UwbRangeFit(bias, max(1.4826 * float(np.median(np.abs(e - bias))), 1e-3), int(e.size))


def fit_accuracy_scale(
    error_m: npt.ArrayLike, accuracy_m: npt.ArrayLike, *, coverage: float = 0.95
) -> float:
    """Factor s such that ``error <= s · accuracy_m`` for the given share of reference fixes.

    ``accuracy_m`` from :func:`positioning.multilaterate` follows the range sigmas; with real
    data (static shadowing, σ floors, per-link biases) it is conservative or optimistic. Fit
    s on fixes with known truth (reference tags, a survey walk) and multiply.

    Raises:
        ValueError: on mismatched shapes, no finite pair, or coverage outside (0, 1).
    """
    e = np.asarray(error_m, dtype=np.float64).ravel()
    a = np.asarray(accuracy_m, dtype=np.float64).ravel()
    if e.shape != a.shape:
        raise ValueError(f"error_m and accuracy_m differ in size: {e.size} vs {a.size}")
    if not 0.0 < coverage < 1.0:
        raise ValueError(f"coverage: must be in (0, 1), got {coverage}")
    ok = np.isfinite(e) & np.isfinite(a) & (a > 0)
    if not ok.any():
        raise ValueError("fit_accuracy_scale: no finite (error, accuracy > 0) pair")
    return float(np.quantile(e[ok] / a[ok], coverage))
