"""Streaming engine throughput: readings/s through StreamingEngine on simulated hospital traffic.

Scale with SPORING_BENCH_TAGS (default 2,000 tags) and SPORING_BENCH_SECONDS (default 60 s of
traffic). Numba compilation is excluded (a warm-up run first) and reported separately.
"""

from __future__ import annotations

import os
import time
from dataclasses import replace

import numpy as np
import pytest

from floorplans.sample import load_sample_site
from gateway.canonical import ReadingBatch
from positioning.autocal import AutoCalParams
from positioning.engine import EngineConfig, StreamingEngine
from simulator.config import load_scenario
from simulator.engine import Simulation

TAGS = int(os.environ.get("SPORING_BENCH_TAGS", "2000"))
SECONDS = float(os.environ.get("SPORING_BENCH_SECONDS", "60"))


@pytest.fixture(scope="module")
def traffic() -> list[tuple[float, ReadingBatch]]:
    site = load_sample_site()
    scenario = replace(load_scenario("hospital-day")[0], assets=TAGS, duration_s=SECONDS, seed=3)
    sim = Simulation(site, scenario)
    gw_ids = sim.gateway_ids
    tags = tuple(str(t) for t in sim.fleet.tags)
    out = []
    for tick in sim.ticks():
        batch = ReadingBatch(tick.ts.astype(np.float64), tick.gateway.astype(np.int32),
                             tick.tag.astype(np.int32), tick.rssi.astype(np.float64),
                             tick.range_m.astype(np.float64), np.full(len(tick.ts), np.nan),
                             gw_ids, tags)
        out.append((tick.t1, batch))
    return out


def _run(config: EngineConfig, traffic: list[tuple[float, ReadingBatch]]) -> int:
    engine = StreamingEngine(load_sample_site(), config)
    fixes = 0
    for t1, batch in traffic:
        engine.add_batch(batch)
        fixes += len(engine.tick(float(np.ceil(t1))))
    return fixes


_DEFAULT = EngineConfig()
#: The engine at its defaults and with one thing changed at a time, all in one run.
CONFIGS = {
    "radio map": _DEFAULT,
    "radio map, every tag every tick": replace(
        _DEFAULT, cadence=replace(_DEFAULT.cadence, parked_every_s=0.0)),
    "radio map, every cell scored": replace(
        _DEFAULT, radio_map_params=replace(_DEFAULT.radio_map_params, refine_nats=None)),
    "radio map, no self-calibration": replace(_DEFAULT, autocal=AutoCalParams(enabled=False)),
    "multilateration": replace(_DEFAULT, radio_map=False),
}


@pytest.mark.parametrize("name", list(CONFIGS),
                         ids=lambda n: n.replace(", ", "-").replace(" ", "-"))
def test_engine_readings_per_second(benchmark, traffic, name: str) -> None:
    config = CONFIGS[name]
    t0 = time.perf_counter()
    _run(config, traffic[:3])  # compile (or load cached) kernels
    compile_s = time.perf_counter() - t0
    n_readings = sum(len(b) for _, b in traffic)
    fixes = benchmark.pedantic(_run, args=(config, traffic), rounds=1, iterations=1)
    mean = benchmark.stats.stats.mean
    benchmark.extra_info.update({
        "tags": TAGS, "seconds_of_traffic": SECONDS, "readings": n_readings, "fixes": fixes,
        "readings_per_s": round(n_readings / mean), "fixes_per_s": round(fixes / mean),
        "real_time_factor": round(SECONDS / mean, 2), "warmup_s": round(compile_s, 2),
    })
    print(f"\n{name}: {n_readings} readings, "
          f"{fixes} fixes in {mean:.2f} s = {n_readings / mean:,.0f} readings/s, "
          f"{SECONDS / mean:.1f}x real time ({TAGS} tags); warm-up {compile_s:.1f} s")
