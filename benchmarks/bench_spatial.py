"""SiteIndex speed on the sample hospital against the shapely loop a user would write.

Run: ``python -m pytest benchmarks/bench_spatial.py --benchmark-only -q``. The baselines are
timed on a subsample in the same run and scaled to the full size; ``extra_info`` records the
throughput and the speed-up ratio.
"""

from __future__ import annotations

import time
from collections.abc import Callable
from typing import Any

import numpy as np
import pytest
import shapely

from floorplans.sample import load_sample_site
from floorplans.spatial import SiteIndex

N = 1_000_000
SUBSAMPLE = 20_000


@pytest.fixture(scope="module")
def index() -> SiteIndex:
    return SiteIndex(load_sample_site())


def _points(index: SiteIndex, n: int, seed: int) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Uniform points within the bounding box of a random level of the site."""
    rng = np.random.default_rng(seed)
    lv = rng.integers(0, len(index.level_ids), n)
    b = np.array([index.site.levels[i].outline.bounds for i in range(len(index.level_ids))])
    x = rng.uniform(b[lv, 0], b[lv, 2])
    y = rng.uniform(b[lv, 1], b[lv, 3])
    return x, y, lv


def _best_of(fn: Callable[[], Any], repeat: int = 3) -> float:
    best = float("inf")
    for _ in range(repeat):
        t = time.perf_counter()
        fn()
        best = min(best, time.perf_counter() - t)
    return best


def test_room_at_1m_points(benchmark: Any, index: SiteIndex) -> None:
    x, y, lv = _points(index, N, 1)
    index.room_at(x[:10], y[:10], lv[:10])  # compile / load the cached kernel
    out = benchmark.pedantic(index.room_at, args=(x, y, lv), rounds=5, warmup_rounds=1)
    assert out.shape == (N,)

    site = index.site
    xs, ys, ls = x[:SUBSAMPLE], y[:SUBSAMPLE], lv[:SUBSAMPLE]
    level_of = np.array([index.level_index(r.level) for r in site.rooms])

    def naive() -> np.ndarray:
        res = np.full(SUBSAMPLE, -1)
        for j in reversed(range(len(site.rooms))):
            m = ls == level_of[j]
            hit = shapely.contains_xy(site.rooms[j].polygon, xs[m], ys[m])
            res[np.flatnonzero(m)[hit]] = j
        return res

    baseline_s = _best_of(naive) * (N / SUBSAMPLE)
    mean = benchmark.stats.stats.mean
    benchmark.extra_info["points_per_s"] = round(N / mean)
    benchmark.extra_info["naive_shapely_s_scaled"] = round(baseline_s, 3)
    benchmark.extra_info["speedup_vs_naive"] = round(baseline_s / mean, 1)
    print(f"\nroom_at: {N / mean / 1e6:.1f} M points/s; naive shapely loop "
          f"{baseline_s:.2f} s per 1M -> {baseline_s / mean:.0f}x")


def test_wall_loss_1m_segments(benchmark: Any, index: SiteIndex) -> None:
    """Gateway-to-tag style segments: random start on level A1, end up to 30 m away."""
    rng = np.random.default_rng(2)
    b = index.site.level("A1").outline.bounds
    x0, y0 = rng.uniform(b[0], b[2], N), rng.uniform(b[1], b[3], N)
    ang, d = rng.uniform(0, 2 * np.pi, N), rng.uniform(0, 30, N)
    x1, y1 = x0 + d * np.cos(ang), y0 + d * np.sin(ang)
    index.wall_loss_db("A1", x0[:10], y0[:10], x1[:10], y1[:10])
    out = benchmark.pedantic(index.wall_loss_db, args=("A1", x0, y0, x1, y1), rounds=3,
                             warmup_rounds=1)
    assert out.shape == (N,)

    walls = index.site.walls_on("A1")
    s = slice(0, SUBSAMPLE)
    segs = shapely.linestrings(np.stack([np.stack([x0[s], y0[s]], 1),
                                         np.stack([x1[s], y1[s]], 1)], 1))

    def naive() -> np.ndarray:
        loss = np.zeros(SUBSAMPLE)
        for w in walls:
            loss += shapely.intersects(w.line, segs) * w.attenuation_db
        return loss

    np.testing.assert_allclose(naive(), out[s])
    baseline_s = _best_of(naive, 2) * (N / SUBSAMPLE)
    mean = benchmark.stats.stats.mean
    benchmark.extra_info["segments_per_s"] = round(N / mean)
    benchmark.extra_info["naive_shapely_s_scaled"] = round(baseline_s, 3)
    benchmark.extra_info["speedup_vs_naive"] = round(baseline_s / mean, 1)
    print(f"\nwall_loss_db: {N / mean / 1e6:.2f} M segments/s; naive shapely loop "
          f"{baseline_s:.2f} s per 1M -> {baseline_s / mean:.0f}x")
