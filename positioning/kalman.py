"""Per-tag constant-velocity Kalman filtering of fixes, batched over many tags (Numba).

Two layers, as in filterpy: pure functions :func:`predict` / :func:`update` (any dimension,
NumPy) and :class:`TagFilterBank`, which keeps the state of many tags in arrays and runs one
compiled kernel over a batch of fixes, with a speed/Mahalanobis gate and parked detection.
"""

from __future__ import annotations

from dataclasses import dataclass, field

import numpy as np
import numpy.typing as npt
from numba import njit  # NUMBA_CACHE_DIR: set by positioning/__init__ -> _numba

from positioning._numba import FASTMATH
from positioning.multilat import _radius95

__all__ = ["MotionModel", "TagFilterBank", "TrackOutput", "cv_model", "predict", "update"]

FloatArray = npt.NDArray[np.float64]
IntArray = npt.NDArray[np.int64]

PARKED = 0
MOVING = 1


def cv_model(dt: float, accel_psd: float) -> tuple[FloatArray, FloatArray]:
    """Constant-velocity transition F and white-noise-acceleration Q for state (x, y, vx, vy).

    ``Q = q [[dt³/3, dt²/2], [dt²/2, dt]] ⊗ I₂`` (per axis, position/velocity), q = accel_psd.
    """
    F = np.eye(4)
    F[0, 2] = F[1, 3] = dt
    Q = np.zeros((4, 4))
    for a in (0, 1):
        Q[a, a] = accel_psd * dt**3 / 3.0
        Q[a, a + 2] = Q[a + 2, a] = accel_psd * dt**2 / 2.0
        Q[a + 2, a + 2] = accel_psd * dt
    return F, Q


def predict(
    x: FloatArray, P: FloatArray, F: FloatArray, Q: FloatArray
) -> tuple[FloatArray, FloatArray]:
    """Kalman predict: ``x' = F x``, ``P' = F P Fᵀ + Q``."""
    return F @ x, F @ P @ F.T + Q


def update(
    x: FloatArray, P: FloatArray, z: FloatArray, R: FloatArray, H: FloatArray
) -> tuple[FloatArray, FloatArray]:
    """Kalman update (Joseph form).

    ``y = z - H x``, ``S = H P Hᵀ + R``, ``K = P Hᵀ S⁻¹``, ``x' = x + K y``,
    ``P' = (I - K H) P (I - K H)ᵀ + K R Kᵀ``.
    """
    y = z - H @ x
    S = H @ P @ H.T + R
    K = np.linalg.solve(S.T, (P @ H.T).T).T
    I_KH = np.eye(P.shape[0]) - K @ H
    return x + K @ y, I_KH @ P @ I_KH.T + K @ R @ K.T


@dataclass(frozen=True, slots=True)
class MotionModel:
    """Tuning of :class:`TagFilterBank`.

    Attributes:
        accel_psd: white-noise acceleration PSD q when moving (m²/s³).
        parked_psd: position random-walk PSD when parked (m²/s); small, so a parked tag's
            fixes are averaged over minutes.
        max_speed_mps: fastest plausible motion (hospital walking pace, 2 m/s); velocity is
            clipped to it and fixes implying faster motion are down-weighted.
        gate_chi2: Mahalanobis d² above which a fix is down-weighted (R scaled by d²/gate).
        reject_chi2: d² above which a fix is rejected outright.
        reacquire_after: consecutive rejected fixes after which the track restarts at the fix.
        motion_chi2: d² counted as evidence of motion while parked.
        motion_confirm: net evidence count that switches parked → moving.
        park_speed_mps: speed (plus one velocity σ) below which a moving tag counts as still.
        park_after_s: seconds of stillness that switch moving → parked.
        stationary_detection: False keeps every tag in the moving (plain CV) mode.
    """

    accel_psd: float = 0.5
    parked_psd: float = 1e-4
    max_speed_mps: float = 2.0
    gate_chi2: float = 9.21
    reject_chi2: float = 100.0
    reacquire_after: int = 5
    motion_chi2: float = 9.21
    motion_confirm: int = 3
    park_speed_mps: float = 0.15
    park_after_s: float = 15.0
    stationary_detection: bool = True

    def as_array(self) -> FloatArray:
        """Parameters as the float vector the kernel takes."""
        return np.array(
            [self.accel_psd, self.parked_psd, self.max_speed_mps, self.gate_chi2,
             self.reject_chi2, self.reacquire_after, self.motion_chi2, self.motion_confirm,
             self.park_speed_mps, self.park_after_s, float(self.stationary_detection)],
            dtype=np.float64,
        )


@dataclass(frozen=True, slots=True)
class TrackOutput:
    """Filtered result for each fix passed to :meth:`TagFilterBank.step`.

    Attributes:
        xy: (M, 2) filtered position after the fix.
        accuracy_m: (M,) 95 % radius from the position covariance.
        moving: (M,) True when the tag is in the moving mode.
        rejected: (M,) True when the fix was rejected by the gate.
    """

    xy: FloatArray
    accuracy_m: FloatArray
    moving: npt.NDArray[np.bool_]
    rejected: npt.NDArray[np.bool_]


@dataclass
class TagFilterBank:
    """Constant-velocity Kalman filters for ``n_tags`` tags, stepped together in Numba.

    State ``x = (x, y, vx, vy)``, measurement ``z = (x, y)`` with ``R = σ² I``, ``H = [I₂ 0]``.

    Moving mode (constant velocity, white-noise acceleration q)::

        F = [[I, dt I], [0, I]],   Q = q [[dt³/3 I, dt²/2 I], [dt²/2 I, dt I]]

    Parked mode (zero velocity, position random walk with small q_p)::

        F = [[I, 0], [0, 0]],      Q = q_p dt [[I, 0], [0, 0]]

    Update: ``y = z - H x``, ``S = H P Hᵀ + R``, ``d² = yᵀ S⁻¹ y``. Gate: if the fix implies a
    speed above ``max_speed`` (``(|y| - 2√(tr S / 2)) / dt``) R is scaled by the squared
    ratio; if ``d² > gate_chi2`` R is scaled by ``d² / gate_chi2`` (a Huber-like soft gate);
    if ``d² > reject_chi2`` the fix is dropped, and after ``reacquire_after`` drops in a row
    the track restarts at the fix. Then ``K = P Hᵀ S⁻¹``, ``x ← x + K y``,
    ``P ← (I - K H) P (I - K H)ᵀ + K R Kᵀ``; the speed is clipped to ``max_speed``.

    Mode switching: a parked tag accumulates motion evidence (+1 when ``d² > motion_chi2``,
    else −1, floor 0) and switches to moving at ``motion_confirm`` (velocity variance reset to
    (max_speed/2)², position variance widened by the innovation). A moving tag whose speed
    stays below ``park_speed`` plus one velocity standard deviation (``√(tr P_v / 2)``) for
    ``park_after_s`` seconds parks (velocity zeroed). New tags start parked
    at their first fix.

    Attributes:
        n_tags: number of tags (indices 0..n_tags-1).
        model: :class:`MotionModel` tuning.
    """

    n_tags: int
    model: MotionModel = field(default_factory=MotionModel)
    x: FloatArray = field(init=False)
    P: FloatArray = field(init=False)
    t: FloatArray = field(init=False)
    mode: IntArray = field(init=False)
    counters: IntArray = field(init=False)
    still_since: FloatArray = field(init=False)

    def __post_init__(self) -> None:
        if self.n_tags < 0:
            raise ValueError(f"n_tags: must be >= 0, got {self.n_tags}")
        self.x = np.zeros((self.n_tags, 4))
        self.P = np.zeros((self.n_tags, 4, 4))
        self.t = np.full(self.n_tags, np.nan)
        self.mode = np.zeros(self.n_tags, dtype=np.int64)
        self.counters = np.zeros((self.n_tags, 2), dtype=np.int64)
        self.still_since = np.full(self.n_tags, np.nan)

    def step(
        self,
        tag: npt.ArrayLike,
        t: npt.ArrayLike,
        xy: npt.ArrayLike,
        sigma_m: npt.ArrayLike,
    ) -> TrackOutput:
        """Fuse a batch of fixes, in the given order (sort by time per tag).

        Args:
            tag: (M,) tag indices in ``[0, n_tags)``.
            t: (M,) timestamps in seconds; a fix older than its track's time is fused as if
                at the track's time.
            xy: (M, 2) fixes (rows with NaN are skipped; the output repeats the state).
            sigma_m: (M,) or scalar standard deviation of each fix per axis (m), e.g.
                ``accuracy_m / 2.45`` from :func:`positioning.multilaterate`.

        Returns:
            :class:`TrackOutput` for each fix.
        """
        tg = np.ascontiguousarray(tag, dtype=np.int64)
        M = tg.shape[0] if tg.ndim == 1 else -1
        if M < 0:
            raise ValueError(f"tag: expected a 1-D array, got shape {tg.shape}")
        if M and (tg.min() < 0 or tg.max() >= self.n_tags):
            bad = int(np.argmax((tg < 0) | (tg >= self.n_tags)))
            raise ValueError(f"tag: index {int(tg[bad])} at row {bad} not in [0, {self.n_tags})")
        tt = np.ascontiguousarray(t, dtype=np.float64)
        if tt.shape != (M,) or not np.isfinite(tt).all():
            raise ValueError(f"t: expected {M} finite timestamps, got shape {tt.shape}")
        z = np.ascontiguousarray(xy, dtype=np.float64)
        if z.shape != (M, 2):
            raise ValueError(f"xy: expected shape ({M}, 2), got {z.shape}")
        s = np.ascontiguousarray(np.broadcast_to(np.asarray(sigma_m, np.float64), (M,)))
        ok = np.isnan(z).any(axis=1) | (np.isfinite(s) & (s > 0.0))
        if not ok.all():
            raise ValueError(f"sigma_m: must be finite and > 0; bad at row {int(np.argmin(ok))}")
        out_xy = np.empty((M, 2))
        acc = np.empty(M)
        flags = np.zeros((M, 2), dtype=np.bool_)
        _track(tg, tt, z, s, self.model.as_array(), self.x, self.P, self.t, self.mode,
               self.counters, self.still_since, out_xy, acc, flags)
        return TrackOutput(out_xy, acc, flags[:, 0].copy(), flags[:, 1].copy())


@njit(cache=True, nogil=True, fastmath=FASTMATH)
def _predict4(x, P, j, dt, mode, q, qp, F, Q, T1):  # type: ignore[no-untyped-def]
    """In-place predict of tag j with the moving or parked model."""
    for a in range(4):
        for b in range(4):
            F[a, b] = 1.0 if a == b else 0.0
            Q[a, b] = 0.0
    if mode == MOVING:
        F[0, 2] = dt
        F[1, 3] = dt
        for a in range(2):
            Q[a, a] = q * dt * dt * dt / 3.0
            Q[a, a + 2] = q * dt * dt / 2.0
            Q[a + 2, a] = q * dt * dt / 2.0
            Q[a + 2, a + 2] = q * dt
    else:
        F[2, 2] = 0.0
        F[3, 3] = 0.0
        Q[0, 0] = qp * dt
        Q[1, 1] = qp * dt
    x0 = F[0, 0] * x[j, 0] + F[0, 2] * x[j, 2]
    x1 = F[1, 1] * x[j, 1] + F[1, 3] * x[j, 3]
    x[j, 2] *= F[2, 2]
    x[j, 3] *= F[3, 3]
    x[j, 0] = x0
    x[j, 1] = x1
    for a in range(4):  # T1 = F P
        for b in range(4):
            s = 0.0
            for c in range(4):
                s += F[a, c] * P[j, c, b]
            T1[a, b] = s
    for a in range(4):  # P = T1 Fᵀ + Q
        for b in range(4):
            s = 0.0
            for c in range(4):
                s += T1[a, c] * F[b, c]
            P[j, a, b] = s + Q[a, b]


@njit(cache=True, nogil=True, fastmath=FASTMATH)
def _update4(x, P, j, z0, z1, r, Kg, A, T1):  # type: ignore[no-untyped-def]
    """In-place Joseph-form update of tag j with z = (z0, z1), R = r I."""
    s00 = P[j, 0, 0] + r
    s01 = P[j, 0, 1]
    s11 = P[j, 1, 1] + r
    det = s00 * s11 - s01 * s01
    i00 = s11 / det
    i01 = -s01 / det
    i11 = s00 / det
    y0 = z0 - x[j, 0]
    y1 = z1 - x[j, 1]
    for a in range(4):
        Kg[a, 0] = P[j, a, 0] * i00 + P[j, a, 1] * i01
        Kg[a, 1] = P[j, a, 0] * i01 + P[j, a, 1] * i11
    for a in range(4):
        x[j, a] += Kg[a, 0] * y0 + Kg[a, 1] * y1
    for a in range(4):  # A = I - K H
        for b in range(4):
            A[a, b] = (1.0 if a == b else 0.0) - (Kg[a, b] if b < 2 else 0.0)
    for a in range(4):  # T1 = A P
        for b in range(4):
            s = 0.0
            for c in range(4):
                s += A[a, c] * P[j, c, b]
            T1[a, b] = s
    for a in range(4):  # P = T1 Aᵀ + r K Kᵀ
        for b in range(4):
            s = 0.0
            for c in range(4):
                s += T1[a, c] * A[b, c]
            P[j, a, b] = s + r * (Kg[a, 0] * Kg[b, 0] + Kg[a, 1] * Kg[b, 1])


@njit(cache=True, nogil=True, fastmath=FASTMATH)
def _mahalanobis(x, P, j, z0, z1, r):  # type: ignore[no-untyped-def]
    s00 = P[j, 0, 0] + r
    s01 = P[j, 0, 1]
    s11 = P[j, 1, 1] + r
    det = s00 * s11 - s01 * s01
    y0 = z0 - x[j, 0]
    y1 = z1 - x[j, 1]
    return (s11 * y0 * y0 - 2.0 * s01 * y0 * y1 + s00 * y1 * y1) / det, s00 + s11


@njit(cache=True, nogil=True, fastmath=FASTMATH)
def _restart(x, P, j, z0, z1, r, vel_var):  # type: ignore[no-untyped-def]
    # (Re)start track j at the fix, at rest; velocity variance vel_var (0: parked).
    x[j, 0] = z0
    x[j, 1] = z1
    x[j, 2] = 0.0
    x[j, 3] = 0.0
    for a in range(4):
        for b in range(4):
            P[j, a, b] = 0.0
    P[j, 0, 0] = r
    P[j, 1, 1] = r
    P[j, 2, 2] = vel_var
    P[j, 3, 3] = vel_var


@njit(cache=True, nogil=True, fastmath=FASTMATH)
def _track(tag, t, z, sig, prm, X, P, T, MODE, CNT, STILL, OXY, OACC, FLAGS):  # type: ignore[no-untyped-def]
    q, qp, vmax, gate, reject = prm[0], prm[1], prm[2], prm[3], prm[4]
    reacq, mchi2, mconf, vpark, tpark = prm[5], prm[6], prm[7], prm[8], prm[9]
    detect = prm[10] > 0.5
    F = np.empty((4, 4))
    Q = np.empty((4, 4))
    T1 = np.empty((4, 4))
    A = np.empty((4, 4))
    Kg = np.empty((4, 2))
    for m in range(tag.shape[0]):
        j = tag[m]
        z0 = z[m, 0]
        z1 = z[m, 1]
        r = sig[m] * sig[m]
        valid = z0 == z0 and z1 == z1
        if valid and T[j] != T[j]:
            # New track: parked at the fix (moving if stationary detection is off).
            _restart(X, P, j, z0, z1, r, 0.0 if detect else (0.5 * vmax) ** 2)
            MODE[j] = PARKED if detect else MOVING
            T[j] = t[m]
            CNT[j, 0] = 0
            CNT[j, 1] = 0
            STILL[j] = np.nan
        elif valid:
            dt = max(t[m] - T[j], 0.0)
            _predict4(X, P, j, dt, MODE[j], q, qp, F, Q, T1)
            T[j] = max(T[j], t[m])
            d2, trs = _mahalanobis(X, P, j, z0, z1, r)
            if detect and MODE[j] == PARKED:
                if d2 > mchi2:
                    CNT[j, 0] += 1
                elif CNT[j, 0] > 0:
                    CNT[j, 0] -= 1
                if CNT[j, 0] >= mconf:
                    MODE[j] = MOVING
                    CNT[j, 0] = 0
                    STILL[j] = np.nan
                    yy = (z0 - X[j, 0]) ** 2 + (z1 - X[j, 1]) ** 2
                    P[j, 0, 0] += 0.5 * yy
                    P[j, 1, 1] += 0.5 * yy
                    P[j, 2, 2] = (0.5 * vmax) ** 2
                    P[j, 3, 3] = (0.5 * vmax) ** 2
                    d2, trs = _mahalanobis(X, P, j, z0, z1, r)
            if d2 > reject and not (detect and MODE[j] == PARKED):
                CNT[j, 1] += 1
                if CNT[j, 1] >= reacq:
                    # Lost: restart at the fix.
                    _restart(X, P, j, z0, z1, r, (0.5 * vmax) ** 2)
                    CNT[j, 1] = 0
                else:
                    FLAGS[m, 1] = True
            else:
                CNT[j, 1] = 0
                scale = 1.0
                if d2 > gate:
                    scale = d2 / gate
                if dt > 0.0:
                    yn = np.sqrt((z0 - X[j, 0]) ** 2 + (z1 - X[j, 1]) ** 2)
                    v_imp = max(yn - 2.0 * np.sqrt(0.5 * trs), 0.0) / dt
                    if v_imp > vmax:
                        scale = max(scale, (v_imp / vmax) ** 2)
                _update4(X, P, j, z0, z1, r * scale, Kg, A, T1)
                if MODE[j] == MOVING:
                    sp = np.sqrt(X[j, 2] ** 2 + X[j, 3] ** 2)
                    if sp > vmax:
                        X[j, 2] *= vmax / sp
                        X[j, 3] *= vmax / sp
                    if detect:
                        if sp < vpark + np.sqrt(0.5 * (P[j, 2, 2] + P[j, 3, 3])):
                            if STILL[j] != STILL[j]:
                                STILL[j] = T[j]
                            elif T[j] - STILL[j] >= tpark:
                                MODE[j] = PARKED
                                X[j, 2] = 0.0
                                X[j, 3] = 0.0
                                for a in range(4):
                                    P[j, 2, a] = 0.0
                                    P[j, a, 2] = 0.0
                                    P[j, 3, a] = 0.0
                                    P[j, a, 3] = 0.0
                                CNT[j, 0] = 0
                        else:
                            STILL[j] = np.nan
        if T[j] != T[j]:
            OXY[m, 0] = np.nan
            OXY[m, 1] = np.nan
            OACC[m] = np.nan
        else:
            OXY[m, 0] = X[j, 0]
            OXY[m, 1] = X[j, 1]
            a00 = P[j, 0, 0]
            a01 = P[j, 0, 1]
            a11 = P[j, 1, 1]
            disc = np.sqrt(max(0.25 * (a00 - a11) ** 2 + a01 * a01, 0.0))
            OACC[m] = _radius95(0.5 * (a00 + a11) + disc, 0.5 * (a00 + a11) - disc)
        FLAGS[m, 0] = MODE[j] == MOVING
