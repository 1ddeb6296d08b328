#!/usr/bin/env python3
"""Positioning accuracy on the shared real datasets, beside baselines (one deterministic run).

    python scripts/accuracy_datasets.py [--quick]

* Kolakowski BLE flat (calibration set, 4,104 robot positions, 6 gateways): 5-fold
  cross-validation over contiguous stretches of the robot path. Path loss is fitted per gateway
  on the training folds; on the test fold readings are combined in a causal window (the last
  2 s) and positioned; the "engine" row adds the causal Kalman filter.
* LIAS UWB static (42 recordings × 3 tags, 8 anchors): leave-one-position-out cross-validation
  of the UWB bias; single-epoch fixes on the held-out position.

Baselines in the same run: nearest gateway, weighted centroid, per-row SciPy least_squares.
Prints Markdown tables (used in docs/accuracy.md).
"""

from __future__ import annotations

import argparse
import sys
import time
from pathlib import Path

import numpy as np
import numpy.typing as npt
from scipy.optimize import least_squares

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from positioning import (
    Fixes,
    MotionModel,
    TagFilterBank,
    combine_rssi,
    combined_sigma_db,
    fit_accuracy_scale,
    fit_path_loss_per_gateway,
    fit_uwb_range_model,
    multilaterate,
    reference_tag_samples,
    rssi_to_range,
)
from positioning.datasets import (
    KOLAKOWSKI_TAG_Z_M,
    Kolakowski,
    load_kolakowski,
    load_lias_static,
)

F = npt.NDArray[np.float64]
FOLDS = 5


def stats(err: F) -> tuple[float, float, float, float]:
    e = err[np.isfinite(err)]
    return (float(np.median(e)), float(np.percentile(e, 75)), float(np.percentile(e, 90)),
            float(np.mean(e)))


def row(name: str, err: F, extra: str = "") -> str:
    med, p75, p90, mean = stats(err)
    return f"| {name} | {med:.2f} | {p75:.2f} | {p90:.2f} | {mean:.2f} | {extra} |"


def scipy_fix(anchors: F, ranges: F, z: float, p0: F, bounds: F | None = None) -> F:
    use = np.isfinite(ranges)
    A, r = anchors[use], ranges[use]
    if use.sum() < 3:
        return p0

    def res(p: F) -> F:
        out: F = np.sqrt(((A[:, :2] - p) ** 2).sum(1) + (z - A[:, 2]) ** 2) - r
        return out

    if bounds is None:
        return np.asarray(least_squares(res, p0).x)
    lo, hi = bounds[:2], bounds[2:]
    return np.asarray(least_squares(res, np.clip(p0, lo + 1e-6, hi - 1e-6), bounds=(lo, hi)).x)


def centroid(anchors: F, weights: F) -> F:
    w = np.where(np.isfinite(weights), weights, 0.0)
    s = w.sum(1, keepdims=True)
    out: F = (w[:, :, None] * anchors[None, :, :2]).sum(1) / np.where(s > 0, s, np.nan)
    return out


# ---- Kolakowski BLE --------------------------------------------------------------------------

def window_members(ts: F, idx: npt.NDArray[np.int64], window: float
                   ) -> tuple[npt.NDArray[np.int64], ...]:
    """(row, member) pairs: for row i of ``idx``, the rows of ``idx`` within the last window."""
    rows, mem = [], []
    t = ts[idx]
    lo = 0
    for i in range(len(idx)):
        while t[i] - t[lo] > window - 1e-6:
            lo += 1
        rows.extend([i] * (i - lo + 1))
        mem.extend(range(lo, i + 1))
    return np.array(rows, dtype=np.int64), idx[np.array(mem, dtype=np.int64)]


FLOORS_M = (0.0, 0.5, 1.0, 2.0, 3.0, 5.0)
WINDOWS_S = (1.0, 2.0, 3.0, 4.0)
MOTION_MODELS = {
    "parked-detection": MotionModel(),
    "plain CV": MotionModel(stationary_detection=False),
}


class BleModel:
    """Path loss fitted on training rows, with the σ split into fast and static parts."""

    def __init__(self, k: Kolakowski, train: npt.NDArray[np.int64], window: float) -> None:
        self.window = window
        G = k.anchors.shape[0]
        spots = np.column_stack([k.xy, np.full(len(k.ts), KOLAKOWSKI_TAG_Z_M)])
        g, d, r = reference_tag_samples(spots[train], k.anchors, k.rssi[train])
        fits, self.pooled = fit_path_loss_per_gateway(g, d, r)
        self.p0 = np.array([fits[j].rssi_1m for j in range(G)])
        self.n = np.array([fits[j].n for j in range(G)])
        # Fast fading = spread of readings inside a window; static = the rest of the σ.
        rows, mem = window_members(k.ts, train, window)
        keys = (rows[:, None] * G + np.arange(G)).ravel()
        order = np.argsort(keys, kind="stable")
        cb = combine_rssi(keys[order], k.rssi[mem].ravel()[order], trim=0.0,
                          outlier_k=1e9, outlier_min_db=1e9)
        ok = cb.count > 1
        self.sig_fast = float(np.sqrt(np.mean(cb.spread_db[ok] ** 2)))
        self.sig_tot = float(np.sqrt(np.mean([fits[j].sigma_db ** 2 for j in range(G)])))
        self.sig_static = float(np.sqrt(max(self.sig_tot**2 - self.sig_fast**2, 1.0)))


def windowed_rssi(k: Kolakowski, idx: npt.NDArray[np.int64], window: float) -> tuple[F, F]:
    """Causal window combination for rows ``idx``: (rssi (n, G), count (n, G))."""
    G = k.anchors.shape[0]
    rows, mem = window_members(k.ts, idx, window)
    keys = (rows[:, None] * G + np.arange(G)).ravel()
    order = np.argsort(keys, kind="stable")
    cb = combine_rssi(keys[order], k.rssi[mem].ravel()[order])
    rssi_w = np.full((len(idx), G), np.nan)
    cnt = np.zeros((len(idx), G))
    rssi_w[cb.key // G, cb.key % G] = cb.rssi_dbm
    cnt[cb.key // G, cb.key % G] = cb.count
    return rssi_w, cnt


def ble_fixes(k: Kolakowski, m: BleModel, rssi_w: F, cnt: F, floor: float,
              pooled: bool = False) -> tuple[Fixes, F]:
    box = np.r_[k.layout.min(0), k.layout.max(0)]
    sdb = np.where(cnt > 0, combined_sigma_db(cnt, m.sig_static, m.sig_fast), 1.0)
    p0, nn = (m.pooled.rssi_1m, m.pooled.n) if pooled else (m.p0, m.n)
    rng, sig = rssi_to_range(rssi_w, p0, nn, sdb, sigma_floor_m=floor)
    fx = multilaterate(k.anchors, rng, np.where(np.isfinite(rng), sig, 1.0),
                       z=KOLAKOWSKI_TAG_Z_M, bounds=box)
    return fx, rng


def track(ts: F, fx: Fixes, model: MotionModel, acc_scale: float = 1.0) -> F:
    good = np.isfinite(fx.xy).all(1)
    out = np.full_like(fx.xy, np.nan)
    tr = TagFilterBank(1, model).step(np.zeros(good.sum(), np.int64), ts[good], fx.xy[good],
                                      fx.accuracy_m[good] * acc_scale / 2.45)
    out[good] = tr.xy
    return out


def select_on_training(k: Kolakowski, train_folds: list[npt.NDArray[np.int64]]
                       ) -> tuple[BleModel, float, float, str]:
    """Choose window, σ floor, accuracy scale and motion model on the training folds only.

    Returns (model, floor, accuracy scale, motion model name). The accuracy scale is the
    95th percentile of error / accuracy_m on the training folds (so accuracy_m × scale is a
    calibrated 95 % radius).
    """
    train = np.concatenate(train_folds)
    best: tuple[float, BleModel, float] | None = None
    for window in WINDOWS_S:
        m = BleModel(k, train, window)
        data = [(f, *windowed_rssi(k, f, window)) for f in train_folds]
        for floor in FLOORS_M:
            e = np.concatenate([np.hypot(*(ble_fixes(k, m, r, c, floor)[0].xy - k.xy[f]).T)
                                for f, r, c in data])
            p75 = float(np.percentile(e, 75))
            if best is None or p75 < best[0] - 1e-9:
                best = (p75, m, floor)
    assert best is not None
    _, m, floor = best
    data = [(f, *windowed_rssi(k, f, m.window)) for f in train_folds]
    fixes = [(f, ble_fixes(k, m, r, c, floor)[0]) for f, r, c in data]
    scale = fit_accuracy_scale(np.concatenate([np.hypot(*(fx.xy - k.xy[f]).T) for f, fx in fixes]),
                               np.concatenate([fx.accuracy_m for _, fx in fixes]))
    best_mm, best_p75 = "", np.inf
    for name, mm in MOTION_MODELS.items():
        e = np.concatenate([np.hypot(*(track(k.ts[f], fx, mm, scale) - k.xy[f]).T)
                            for f, fx in fixes])
        if np.percentile(e, 75) < best_p75 - 1e-9:
            best_mm, best_p75 = name, float(np.percentile(e, 75))
    return m, floor, scale, best_mm


def kolakowski(out: list[str], scipy_every: int) -> None:
    k = load_kolakowski()
    T = len(k.ts)
    z = KOLAKOWSKI_TAG_Z_M
    box = np.r_[k.layout.min(0), k.layout.max(0)]
    folds = np.array_split(np.arange(T), FOLDS)
    names = ("nearest", "centroid", "scipy", "scipy_box", "single", "nofloor", "pooled",
             "window", "engine")
    errs: dict[str, list[F]] = {n: [] for n in names}
    cover: list[F] = []
    accs: list[F] = []
    cover_cal: list[F] = []
    accs_cal: list[F] = []
    fitinfo = []
    for f, test in enumerate(folds):
        train_folds = [g for j, g in enumerate(folds) if j != f]
        m, floor, scale, mname = select_on_training(k, train_folds)
        fitinfo.append((f, m, floor, scale, mname))
        truth = k.xy[test]
        rssi_w, cnt = windowed_rssi(k, test, m.window)
        fx, rng_w = ble_fixes(k, m, rssi_w, cnt, floor)
        e = np.hypot(*(fx.xy - truth).T)
        errs["window"].append(e)
        cover.append(e <= fx.accuracy_m)
        accs.append(fx.accuracy_m)
        cover_cal.append(e <= fx.accuracy_m * scale)
        accs_cal.append(fx.accuracy_m * scale)
        errs["nofloor"].append(np.hypot(*(ble_fixes(k, m, rssi_w, cnt, 0.0)[0].xy - truth).T))
        errs["pooled"].append(
            np.hypot(*(ble_fixes(k, m, rssi_w, cnt, floor, pooled=True)[0].xy - truth).T))
        r1, s1 = rssi_to_range(k.rssi[test], m.p0, m.n, m.sig_tot, sigma_floor_m=floor)
        f1 = multilaterate(k.anchors, r1, np.where(np.isfinite(r1), s1, 1.0), z=z, bounds=box)
        errs["single"].append(np.hypot(*(f1.xy - truth).T))
        errs["engine"].append(np.hypot(*(track(k.ts[test], fx, MOTION_MODELS[mname], scale)
                                         - truth).T))
        # Baselines on the same windows and ranges.
        n = len(test)
        best = np.nanargmax(np.where(np.isfinite(rssi_w), rssi_w, -np.inf), axis=1)
        errs["nearest"].append(np.hypot(*(k.anchors[best, :2] - truth).T))
        wc = centroid(k.anchors, 1.0 / rng_w**2)
        errs["centroid"].append(np.hypot(*(wc - truth).T))
        sel = np.arange(0, n, scipy_every)
        sp = np.array([scipy_fix(k.anchors, rng_w[i], z, wc[i]) for i in sel])
        errs["scipy"].append(np.hypot(*(sp - truth[sel]).T))
        spb = np.array([scipy_fix(k.anchors, rng_w[i], z, wc[i], box) for i in sel])
        errs["scipy_box"].append(np.hypot(*(spb - truth[sel]).T))
    E = {n: np.concatenate(v) for n, v in errs.items()}
    out.append("### Kolakowski BLE flat: 5-fold contiguous cross-validation, "
               f"{T} positions, causal windows\n")
    out.append("| method | median m | p75 m | p90 m | mean m | note |")
    out.append("|---|---|---|---|---|---|")
    out.append(row("nearest gateway (strongest windowed RSSI)", E["nearest"]))
    out.append(row("weighted centroid (1/range²)", E["centroid"]))
    out.append(row("SciPy least_squares per row (linear loss)", E["scipy"],
                   f"every {scipy_every}th row" if scipy_every > 1 else ""))
    out.append(row("SciPy least_squares per row + box bounds", E["scipy_box"],
                   f"every {scipy_every}th row" if scipy_every > 1 else ""))
    out.append(row("multilaterate, single reading (no window)", E["single"]))
    out.append(row("multilaterate, window, no σ floor", E["nofloor"]))
    out.append(row("multilaterate, window, pooled path loss", E["pooled"]))
    out.append(row("**multilaterate** (per-gateway fit, window, σ floor)", E["window"],
                   f"accuracy_m covers {np.mean(np.concatenate(cover)):.0%} (median "
                   f"{np.median(np.concatenate(accs)):.2f} m); × training-fold scale: "
                   f"{np.mean(np.concatenate(cover_cal)):.0%} (median "
                   f"{np.median(np.concatenate(accs_cal)):.2f} m)"))
    out.append(row("**engine** (multilaterate + causal Kalman)", E["engine"]))
    best_p75 = min(stats(E[n])[1] for n in ("nearest", "centroid", "scipy", "scipy_box"))
    out.append("")
    for name in ("window", "engine"):
        gain = 1.0 - stats(E[name])[1] / best_p75
        out.append(f"p75 gain of {name} over the best baseline: {gain:.0%}  ")
    out.append("\nPer fold, chosen on the training folds only: pooled fit (rssi_1m, n), σ "
               "total / fast / static (dB), window, σ floor, accuracy scale, motion model:\n")
    for f, m, floor, scale, mname in fitinfo:
        out.append(f"* fold {f}: {m.pooled.rssi_1m:.1f} dBm, n {m.pooled.n:.2f}; σ "
                   f"{m.sig_tot:.1f} / {m.sig_fast:.1f} / {m.sig_static:.1f}; window "
                   f"{m.window:g} s; floor {floor:g} m; scale {scale:.2f}; {mname}")
    out.append("")


# ---- LIAS UWB static -------------------------------------------------------------------------

def lias(out: list[str], step: int, scipy_every: int) -> None:
    recs = load_lias_static()
    groups = sorted({(r.session, r.pos) for r in recs})
    errs: dict[str, list[F]] = {n: [] for n in (
        "nearest", "centroid", "scipy", "raw", "fix", "static")}
    cover: list[F] = []
    cover_cal: list[F] = []
    acc_cal: list[F] = []
    biases = []
    for held in groups:
        train = [r for r in recs if (r.session, r.pos) != held]
        meas, true = [], []
        for r in train:
            d = np.linalg.norm(r.anchors[:, None, :2] - r.tag_xy[None], axis=2)
            meas.append(r.ranges[::step].reshape(-1, 8 * 3))
            true.append(np.broadcast_to(d.ravel(), meas[-1].shape))
        fit = fit_uwb_range_model(np.concatenate(meas).ravel(), np.concatenate(true).ravel())
        # Accuracy scale: 95th percentile of error / accuracy_m on the training positions.
        ratio = []
        for r in train:
            zt = float(r.anchors[:, 2].mean())
            for tag in range(3):
                ft = multilaterate(r.anchors, np.maximum(r.ranges[::step * 5, :, tag]
                                                         - fit.bias_m, 0.0), fit.sigma_m, z=zt)
                ratio.append(np.hypot(*(ft.xy - r.tag_xy[tag]).T) / ft.accuracy_m)
        scale = float(np.percentile(np.concatenate(ratio), 95))
        biases.append((held, fit.bias_m, fit.sigma_m))
        for r in (r for r in recs if (r.session, r.pos) == held):
            zt = float(r.anchors[:, 2].mean())  # planar: bias is fitted on 2-D distances
            for tag in range(3):
                raw = r.ranges[::step, :, tag]
                corr = np.maximum(raw - fit.bias_m, 0.0)
                truth = r.tag_xy[tag]
                fx = multilaterate(r.anchors, corr, fit.sigma_m, z=zt)
                e = np.hypot(*(fx.xy - truth).T)
                errs["fix"].append(e)
                cover.append(e <= fx.accuracy_m)
                cover_cal.append(e <= fx.accuracy_m * scale)
                acc_cal.append(fx.accuracy_m * scale)
                fr = multilaterate(r.anchors, raw, fit.sigma_m, z=zt)
                errs["raw"].append(np.hypot(*(fr.xy - truth).T))
                n = len(corr)
                bank = TagFilterBank(1)
                tr = bank.step(np.zeros(n, np.int64), np.arange(n) * 0.01 * step, fx.xy,
                               fx.accuracy_m * scale / 2.45)
                errs["static"].append(np.hypot(*(tr.xy[-1:] - truth).T))
                best = np.argmin(corr, axis=1)
                errs["nearest"].append(np.hypot(*(r.anchors[best, :2] - truth).T))
                wc = centroid(r.anchors, 1.0 / np.maximum(corr, 0.1) ** 2)
                errs["centroid"].append(np.hypot(*(wc - truth).T))
                sel = np.arange(0, n, scipy_every)
                sp = np.array([scipy_fix(r.anchors, corr[i], zt, wc[i]) for i in sel])
                errs["scipy"].append(np.hypot(*(sp - truth).T))
    E = {n: np.concatenate(v) for n, v in errs.items()}
    out.append(f"### LIAS UWB static: leave-one-position-out ({len(groups)} positions, "
               f"{len(recs)} files × 3 tags), every {step}th epoch, single-epoch fixes\n")
    out.append("| method | median m | p75 m | p90 m | mean m | note |")
    out.append("|---|---|---|---|---|---|")
    out.append(row("nearest anchor", E["nearest"]))
    out.append(row("weighted centroid (1/range²)", E["centroid"]))
    out.append(row("SciPy least_squares per row (bias-corrected)", E["scipy"],
                   f"every {scipy_every}th epoch"))
    out.append(row("multilaterate, raw ranges (no bias correction)", E["raw"]))
    out.append(row("**multilaterate** (CV bias correction)", E["fix"],
                   f"accuracy_m covers {np.mean(np.concatenate(cover)):.0%}; × training "
                   f"scale: {np.mean(np.concatenate(cover_cal)):.0%} (median "
                   f"{np.median(np.concatenate(acc_cal)):.2f} m)"))
    out.append(row("**engine** (Kalman, parked; final estimate per file and tag)", E["static"],
                   f"{len(E['static'])} estimates"))
    out.append("\nCross-validated bias (held-out position: bias, σ):")
    out.append(", ".join(f"{s[5:]}/p{p}: {b:+.3f}, {sg:.3f}" for (s, p), b, sg in biases))
    out.append("")


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0] if __doc__ else None)
    ap.add_argument("--quick", action="store_true", help="subsample more (for a smoke run)")
    args = ap.parse_args(argv)
    out: list[str] = []
    t0 = time.perf_counter()
    kolakowski(out, scipy_every=8 if args.quick else 1)
    lias(out, step=50 if args.quick else 10, scipy_every=20 if args.quick else 5)
    print("\n".join(out))
    print(f"(run time {time.perf_counter() - t0:.0f} s)")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
