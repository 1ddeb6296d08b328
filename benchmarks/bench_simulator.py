"""Simulator throughput at health-trust scale: 15,000 tags at 1 Hz on a 6-building hospital.

Reports readings generated per second of wall time (``extra_info["readings_per_s"]``) and the
real-time factor (simulated seconds per wall second). The baseline a user would write first
recomputes every link budget (distance, walls, slabs, shadowing) every step instead of caching
the static part for parked tags; both run in the same session and the speed-up is recorded.
"""

from __future__ import annotations

from typing import Any

import numpy as np
import pytest

from floorplans.sample import generate_hospital
from simulator.config import Scenario, TagModel
from simulator.engine import Simulation

TAGS = 15_000


@pytest.fixture(scope="module")
def site() -> Any:
    return generate_hospital(buildings=6, levels_per_building=5, wards_per_level=3)


def _sim(site: Any) -> Simulation:
    sim = Simulation(site, Scenario(assets=TAGS, seed=3, duration_s=1e9,
                                    tag_models=(TagModel("m", interval_s=1.0),)))
    sim.step()  # warm-up: JIT compilation
    return sim


def test_simulator_throughput(benchmark: Any, site: Any) -> None:
    sim = _sim(site)
    counts: list[int] = []

    def run() -> None:
        counts.append(len(sim.step(10.0)))

    benchmark.pedantic(run, rounds=10, iterations=1)
    per_step = float(np.mean(counts))
    sec = benchmark.stats.stats.mean
    benchmark.extra_info["readings_per_step"] = per_step
    benchmark.extra_info["readings_per_s"] = per_step / sec
    benchmark.extra_info["realtime_factor"] = 1.0 / sec
    base = _sim(site)
    import time

    t0 = time.perf_counter()
    for _ in range(3):
        base._refresh(np.arange(TAGS, dtype=np.int64))
        base.step(10.0)
    base_sec = (time.perf_counter() - t0) / 3
    benchmark.extra_info["baseline_full_refresh_s_per_step"] = base_sec
    benchmark.extra_info["speedup_vs_baseline"] = base_sec / sec
    print(f"\n{per_step / sec:,.0f} readings/s, {1 / sec:.1f}x real time "
          f"(baseline {base_sec:.3f} s/step, speed-up {base_sec / sec:.1f}x)")
