#!/usr/bin/env python3
"""Compare the simulator's BLE RSSI-vs-distance statistics with real datasets.

Real data (CC BY 4.0):
* Kolakowski, "Automated Calibration of RSS Fingerprinting Based Systems Using a Mobile Robot
  and Machine Learning", Sensors 21:6270 (2021) — furnished flat, 6 receiving anchors.
* Mendoza-Silva, Matey-Sanz, Torres-Sospedra, Huerta, "BLE RSS Measurements Dataset for
  Research on Accurate Indoor Positioning", Data 4(1):12 (2019) — UJI Geotec lab, −12 dBm.

For each dataset the simulator's radio model is run at the *same* geometry (anchor and tag
positions) with its default parameters (n = 2, σ_shadow = 5 dB, Rician K = 3 dB, channel
offsets 2 dB, receiver offsets 2 dB, 1 dB quantisation, −95 dBm cut-off) and the intercept
set to the dataset's fitted one; the walls are not modelled (both sites are single open
spaces). Prints the fitted exponent and σ of both and writes ``docs/img/sim_vs_real.png``.

Usage: python scripts/sim_vs_real.py [--shared ../shared] [--out docs/img/sim_vs_real.png]
"""

from __future__ import annotations

import argparse
import sys
from pathlib import Path

import numpy as np

from simulator.config import RadioConfig
from simulator.radio import ShadowingField, link_mean_dbm, receive_packets


def fit(d: np.ndarray, rssi: np.ndarray) -> tuple[float, float, float]:
    """Least-squares ``rssi = a - 10 n log10(d)``; returns (a, n, σ of residuals)."""
    slope, icpt = np.polyfit(np.log10(d), rssi, 1)
    resid = rssi - (icpt + slope * np.log10(d))
    return float(icpt), float(-slope / 10), float(resid.std())


def kolakowski(root: Path) -> tuple[np.ndarray, np.ndarray, np.ndarray, np.ndarray]:
    up = root / "datasets" / "kolakowski-ble-flat" / "upstream"
    anchors = np.genfromtxt(up / "anchors.csv", delimiter=",", names=True)
    path = up / "calibration" / "calibration_df.csv"
    header = path.read_text(encoding="utf-8").splitlines()[0].split(",")
    data = np.genfromtxt(path, delimiter=",", skip_header=1)
    cal = {name: data[:, i] for i, name in enumerate(header) if name}
    px, py, pz, gi, rs = [], [], [], [], []
    for k, a in enumerate(anchors):
        r = cal[f"rssi_{int(a['id'])}"]
        ok = ~np.isnan(r)
        px.append(cal["x"][ok])
        py.append(cal["y"][ok])
        pz.append(np.full(ok.sum(), 1.3))
        gi.append(np.full(ok.sum(), k))
        rs.append(r[ok])
    gxyz = np.stack([anchors["x"], anchors["y"], anchors["z"]], axis=1)
    pos = np.stack([np.concatenate(px), np.concatenate(py), np.concatenate(pz)], axis=1)
    g = np.concatenate(gi)
    d = np.linalg.norm(pos - gxyz[g], axis=1)
    return pos, g, d, np.concatenate(rs)


def uji_geotec(root: Path) -> tuple[np.ndarray, np.ndarray, np.ndarray, np.ndarray]:
    up = root / "datasets" / "uji-ble-rss" / "upstream" / "data"
    dep = np.genfromtxt(up / "dep" / "geo.csv", delimiter=",", names=True, dtype=None,
                        encoding="utf-8")
    rss = np.loadtxt(up / "rss" / "geo_rss.csv", delimiter=",")
    crd = np.loadtxt(up / "rss" / "geo_crd.csv", delimiter=",")
    ids = np.loadtxt(up / "rss" / "geo_ids.csv", dtype=np.int64)
    power = (ids // 1_000_000) % 10
    rows = power == 2  # −12 dBm
    rss, crd = rss[rows], crd[rows]
    gxy = np.stack([dep["x"], dep["y"]], axis=1).astype(float)
    r_i, g_i = np.nonzero(rss != 100)
    pos = np.concatenate([crd[r_i], np.zeros((r_i.size, 1))], axis=1)
    d = np.linalg.norm(crd[r_i] - gxy[g_i], axis=1)
    return pos, g_i, d, rss[r_i, g_i]


def simulate(pos: np.ndarray, g: np.ndarray, d: np.ndarray, rssi_1m: float,
             cfg: RadioConfig, seed: int = 1) -> tuple[np.ndarray, np.ndarray]:
    """One simulated packet per real sample, at the same geometry."""
    rng = np.random.default_rng(seed)
    n_gw = int(g.max()) + 1
    field = ShadowingField(n_gw, cfg.shadowing_sigma_db, cfg.shadowing_corr_m,
                           cfg.shadowing_features, rng)
    rx = rng.normal(0, cfg.rx_offset_sd_db, n_gw)
    unit = rng.normal(0, 1.5)  # one tag unit
    mean = link_mean_dbm(rssi_1m + unit, d, 0.0, 0, field.values(g, pos[:, 0], pos[:, 1], 0),
                         rx[g], exponent=cfg.path_loss_exponent,
                         min_distance_m=cfg.min_distance_m, floor_first_db=0, floor_next_db=0)
    n = d.size
    chan = rng.normal(0, cfg.channel_offset_sd_db, (n, 1, 3)).astype(np.float32)
    e, _, q, _ = receive_packets(np.arange(n, dtype=np.int32), np.arange(n, dtype=np.uint64),
                                 np.zeros((n, 1), np.int32), mean.astype(np.float32)[:, None],
                                 chan, np.zeros((n, 1), np.float32), np.ones(1, bool),
                                 np.zeros(1), sensitivity_dbm=cfg.sensitivity_dbm,
                                 rician_k_db=cfg.rician_k_db, seed=seed)
    return d[e], q


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--shared", type=Path, default=Path(__file__).resolve().parents[2] / "shared")
    repo = Path(__file__).resolve().parents[1]
    ap.add_argument("--out", type=Path, default=repo / "docs" / "img" / "sim_vs_real.png")
    args = ap.parse_args(argv)
    if not (args.shared / "datasets").is_dir():
        print(f"error: datasets not found under {args.shared}", file=sys.stderr)
        return 2
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    cfg = RadioConfig()
    sets = [("Kolakowski flat (CC BY 4.0)", kolakowski(args.shared)),
            ("UJI Geotec −12 dBm (CC BY 4.0)", uji_geotec(args.shared))]
    fig, axes = plt.subplots(1, 2, figsize=(12, 4.8), sharey=True)
    for ax, (name, (pos, g, d, rssi)) in zip(axes, sets, strict=True):
        a, n, s = fit(d, rssi)
        sd, sq = simulate(pos, g, d, a, cfg)
        a2, n2, s2 = fit(sd, sq)
        print(f"{name}: real  RSSI = {a:.1f} - {10 * n:.1f} log10(d), n = {n:.2f}, "
              f"sigma = {s:.1f} dB (N = {d.size})")
        print(f"{name}: sim   RSSI = {a2:.1f} - {10 * n2:.1f} log10(d), n = {n2:.2f}, "
              f"sigma = {s2:.1f} dB (N = {sd.size})")
        spread = [fit(*simulate(pos, g, d, a, cfg, seed=k)) for k in range(1, 9)]
        ns = [x[1] for x in spread]
        ss = [x[2] for x in spread]
        print(f"{name}: sim over 8 seeds: n in [{min(ns):.2f}, {max(ns):.2f}] "
              f"(mean {np.mean(ns):.2f}), sigma in [{min(ss):.1f}, {max(ss):.1f}] dB")
        ax.scatter(d, rssi, s=2, alpha=0.25, label=f"real: n={n:.2f}, σ={s:.1f} dB")
        ax.scatter(sd, sq + 0.3, s=2, alpha=0.25, label=f"simulated: n={n2:.2f}, σ={s2:.1f} dB")
        xs = np.linspace(max(d.min(), 0.3), d.max(), 50)
        ax.plot(xs, a - 10 * n * np.log10(xs), "k-", lw=1)
        ax.plot(xs, a2 - 10 * n2 * np.log10(xs), "r--", lw=1)
        ax.set_xscale("log")
        ax.set_xlabel("distance (m)")
        ax.set_title(name)
        ax.legend(markerscale=5, loc="lower left")
    axes[0].set_ylabel("RSSI (dBm)")
    fig.suptitle("Simulator radio model vs real BLE data (same geometry)")
    fig.tight_layout()
    args.out.parent.mkdir(parents=True, exist_ok=True)
    fig.savefig(args.out, dpi=110)
    print(f"wrote {args.out}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
