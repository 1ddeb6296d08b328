"""``sporing calibrate``: fit each gateway's path loss from reference tags at known spots.

Reference tags (fixed beacons at surveyed spots, ``{tag, x, y, level[, z]}``) are heard by the
gateways around them. For every reading of a reference tag by a gateway on the same level, the
3-D distance is known, and the plan's nominal wall loss between the two is added back to the
RSSI (the engine models walls explicitly, so the fitted exponent must not count them twice).
:func:`positioning.calibrate.fit_path_loss_per_gateway` then fits ``rssi_1m`` and the exponent
per gateway (Huber regression), falling back to the pooled fit where a gateway has too few or
too narrow samples. The fitted values can be written back into the floor plan.
"""

from __future__ import annotations

import argparse
import sys
from dataclasses import dataclass, replace
from pathlib import Path

import numpy as np
import numpy.typing as npt

from floorplans.geojson import dump_site, load_site
from floorplans.model import Site
from floorplans.spatial import SiteIndex
from gateway.canonical import Reading, open_readings
from positioning.calibrate import PathLossFit, fit_path_loss_per_gateway
from positioning.evaluate import load_jsonl

__all__ = ["Calibration", "calibrate_command", "calibrate_site"]


@dataclass(frozen=True, slots=True)
class Calibration:
    """Result of :func:`calibrate_site`: per-gateway fits (by gateway id) and the pooled fit."""

    fits: dict[str, PathLossFit]
    pooled: PathLossFit
    samples: int
    site: Site


def _samples(site: Site, index: SiteIndex, readings: list[Reading],
             spots: dict[str, tuple[float, float, str, float]], walls: bool
             ) -> tuple[npt.NDArray[np.int64], npt.NDArray[np.float64], npt.NDArray[np.float64]]:
    """(gateway index, 3-D distance, RSSI) of every reading of a reference tag by a gateway on
    its level; with ``walls`` the plan's wall loss between the two is added back to the RSSI."""
    gpos = {g.id: i for i, g in enumerate(site.gateways)}
    g_idx, dist, rssi, xs, ys = [], [], [], [], []
    for r in readings:
        spot = spots.get(r.tag)
        gi = gpos.get(r.gateway)
        if spot is None or gi is None or r.rssi is None:
            continue
        gw = site.gateways[gi]
        x, y, level, z = spot
        if gw.level != level:
            continue
        g_idx.append(gi)
        dist.append(float(np.sqrt((gw.x - x) ** 2 + (gw.y - y) ** 2 + (gw.height_m - z) ** 2)))
        rssi.append(r.rssi)
        xs.append(x)
        ys.append(y)
    g = np.asarray(g_idx, dtype=np.int64)
    v = np.asarray(rssi)
    if walls and g.size:
        x_arr, y_arr = np.asarray(xs), np.asarray(ys)
        gx = np.array([site.gateways[i].x for i in g])
        gy = np.array([site.gateways[i].y for i in g])
        gl = np.array([site.gateways[i].level for i in g])
        for lv in np.unique(gl):
            m = gl == lv
            v[m] += index.wall_loss_db(str(lv), x_arr[m], y_arr[m], gx[m], gy[m])
    return g, np.asarray(dist), v


def calibrate_site(site: Site, readings: list[Reading],
                   spots: dict[str, tuple[float, float, str, float]], *, min_samples: int = 20,
                   walls: bool = True) -> Calibration:
    """Fit per-gateway path loss from reference-tag readings and return a calibrated site.

    Args:
        site: The floor plan.
        readings: Canonical readings (others than reference tags are ignored).
        spots: Reference tag -> (x, y, level id, height above floor).
        min_samples: Samples a gateway needs for its own fit.
        walls: Add the plan's nominal wall loss back before fitting.

    Raises:
        ValueError: Fewer than 3 usable samples in all.
    """
    index = SiteIndex(site)
    g, d, v = _samples(site, index, readings, spots, walls)
    per, pooled = fit_path_loss_per_gateway(g, d, v, min_samples=min_samples)
    fits = {site.gateways[i].id: f for i, f in per.items()}
    gws = [replace(gw, rssi_1m=round(fits[gw.id].rssi_1m, 2),
                   path_loss_exponent=round(fits[gw.id].n, 3))
           if gw.id in fits and not fits[gw.id].pooled else gw for gw in site.gateways]
    return Calibration(fits, pooled, int(g.size), site.replace(gateways=gws))


def calibrate_command(args: argparse.Namespace) -> int:
    """Handler of ``sporing calibrate`` (see :mod:`positioning.cli`)."""
    try:
        site, _ = load_site(args.floorplan)
        refs = load_jsonl(args.references, ("tag", "x", "y", "level"))
        errors: list[str] = []
        readings = list(open_readings(args.readings, errors=errors))
    except (OSError, ValueError) as exc:
        print(f"sporing: {exc}", file=sys.stderr)
        return 1
    spots = {str(r["tag"]): (float(r["x"]), float(r["y"]), str(r["level"]),
                             float(r.get("z", 1.0))) for r in refs}
    unknown = sorted({s[2] for s in spots.values()} - {lv.id for lv in site.levels})
    if unknown:
        print(f"sporing: {args.references}: unknown level(s) {', '.join(unknown)}",
              file=sys.stderr)
        return 1
    try:
        cal = calibrate_site(site, readings, spots, min_samples=args.min_samples)
    except ValueError as exc:
        print(f"sporing: cannot calibrate: {exc}", file=sys.stderr)
        return 1
    print(f"{cal.samples} samples from {len(spots)} reference tags; pooled fit: "
          f"rssi_1m {cal.pooled.rssi_1m:.1f} dBm, n {cal.pooled.n:.2f}, "
          f"sigma {cal.pooled.sigma_db:.1f} dB, R² {cal.pooled.r2:.2f}")
    print(f"{'gateway':<16} {'samples':>7} {'rssi_1m':>8} {'n':>5} {'sigma':>6} {'R²':>5}  fit")
    for gid, f in sorted(cal.fits.items()):
        print(f"{gid:<16} {f.n_samples:>7} {f.rssi_1m:>8.1f} {f.n:>5.2f} {f.sigma_db:>6.1f} "
              f"{f.r2:>5.2f}  {'pooled (too few/narrow samples)' if f.pooled else 'own'}")
    for msg in errors[:10]:
        print(f"skipped: {msg}", file=sys.stderr)
    if args.output:
        dump_site(cal.site, Path(args.output))
        print(f"wrote {args.output}")
    return 0
