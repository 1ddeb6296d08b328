"""How well does the engine's self-calibration learn the simulator's hidden receiver offsets?

Simulates the room-level sample hospital (``hospital-day`` scenario), runs the streaming engine
over it and compares the receive offsets :mod:`positioning.autocal` learned with the offsets the
simulator gave its gateways (``RadioConfig.rx_offset_sd_db``, never shown to the engine).
Prints, for the gateways with at least ``--min-samples`` effective samples: their number, the
correlation of learned and true offsets, the spread of the true offsets and the spread left
after subtracting the learned ones (smaller is better). Deterministic for a seed. Usage::

    python scripts/autocal_offsets.py --assets 120 --minutes 15 --seed 4
    python scripts/autocal_offsets.py --assets 120 --minutes 15 --seed 4 --radio-exponent 2.6
"""

from __future__ import annotations

import argparse
from dataclasses import replace

import numpy as np

from floorplans.sample import generate_hospital
from gateway.canonical import iter_readings_jsonl
from positioning.engine import EngineConfig, StreamingEngine
from positioning.radiomap import RadioMapParams
from simulator.config import load_scenario
from simulator.engine import Simulation
from simulator.output import readings_lines


def main() -> None:
    """Simulate, run the engine, print the comparison."""
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--assets", type=int, default=120)
    ap.add_argument("--minutes", type=float, default=15.0)
    ap.add_argument("--seed", type=int, default=4)
    ap.add_argument("--radio-exponent", type=float, default=RadioMapParams().path_loss_exponent)
    ap.add_argument("--min-samples", type=float, default=0.5)
    args = ap.parse_args()
    site = generate_hospital(patient_room_gateways=True)
    scenario = replace(load_scenario("hospital-day")[0], assets=args.assets,
                       duration_s=args.minutes * 60.0, seed=args.seed)
    sim = Simulation(site, scenario)
    lines = [x for tick in sim.ticks() for x in readings_lines(tick, sim).splitlines()]
    readings = sorted(iter_readings_jsonl(lines), key=lambda r: r.ts)
    engine = StreamingEngine(site, EngineConfig(
        radio_map_params=RadioMapParams(path_loss_exponent=args.radio_exponent)))
    for _ in engine.run(readings):
        pass
    cal = engine.calibration
    assert cal is not None
    seen = cal.gateway_samples >= args.min_samples
    truth, got = sim._rx_offset[seen], cal.gateway_offset[seen]
    print(f"{args.assets} assets, {args.minutes:g} min, seed {args.seed}, radio-map exponent "
          f"{args.radio_exponent:g}: {int(seen.sum())} of {len(site.gateways)} gateways with "
          f">= {args.min_samples:g} samples; correlation {np.corrcoef(got, truth)[0, 1]:.2f}; "
          f"true spread {truth.std():.2f} dB, left after subtracting the learned offsets "
          f"{(truth - got).std():.2f} dB")


if __name__ == "__main__":
    main()
