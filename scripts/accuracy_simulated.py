"""Accuracy of the streaming engine on the simulated sample hospital (docs/accuracy.md).

Simulates the sample hospital (``--assets``, ``--minutes``, ``--seed``), runs the streaming engine
with the plan-aware radio map and with plain multilateration on the same readings, and scores
both against the simulator's ground truth:

- position error (median, p75, p95) and level accuracy over all truth lines;
- room accuracy for parked and for moving assets (parked: the truth position did not change
  since the asset's previous truth line), split by whether the room has its own gateway;
- room changes per parked asset-hour (changes of the reported room while the truth is parked).

``--layout corridor`` (the default) is the shipped sample hospital, whose wards have corridor
gateways only; ``--layout room-level`` is the same hospital with a gateway in every patient room
too (:func:`floorplans.sample.generate_hospital` with ``patient_room_gateways=True``).

Prints a Markdown table. Deterministic for a seed. Usage::

    python scripts/accuracy_simulated.py --assets 200 --minutes 30 --seed 1
    python scripts/accuracy_simulated.py --assets 200 --minutes 30 --seed 1 --layout room-level
"""

from __future__ import annotations

import argparse
import time
from dataclasses import replace
from typing import Any

import numpy as np
import orjson

from floorplans.model import Site
from floorplans.sample import generate_hospital, load_sample_site
from gateway.canonical import iter_readings_jsonl
from positioning.engine import EngineConfig, StreamingEngine
from positioning.radiomap import RadioMapParams
from simulator.config import load_scenario
from simulator.engine import Simulation
from simulator.output import readings_lines, truth_lines


def simulate(assets: int, minutes: float, seed: int, site: Site | None = None,
             scenario_name: str = "hospital-day"
             ) -> tuple[list[Any], list[dict[str, Any]]]:
    site = site or load_sample_site()
    scenario = replace(load_scenario(scenario_name)[0], assets=assets,
                       duration_s=minutes * 60.0, seed=seed)
    sim = Simulation(site, scenario)
    lines: list[bytes] = []
    truth: list[dict[str, Any]] = []
    for tick in sim.ticks():
        lines.extend(readings_lines(tick, sim).splitlines())
        truth.extend(orjson.loads(x) for x in truth_lines(tick, sim).splitlines())
    return sorted(iter_readings_jsonl(lines), key=lambda r: r.ts), truth


def score(fixes: list[dict[str, Any]], truth: list[dict[str, Any]], gw_rooms: set[str]
          ) -> dict[str, float]:
    by_tag: dict[str, list[dict[str, Any]]] = {}
    for f in fixes:
        by_tag.setdefault(f["tag"], []).append(f)
    times = {t: np.array([f["ts"] for f in v]) for t, v in by_tag.items()}
    prev: dict[str, tuple[float, float]] = {}
    last_room: dict[str, str | None] = {}
    err, lvl = [], []
    room: dict[str, list[bool]] = {k: [] for k in
                                   ("parked", "moving", "parked_gw", "parked_nogw")}
    changes = 0
    parked_s = 0.0
    last_ts: dict[str, float] = {}
    for t in truth:
        if t.get("x") is None:
            continue
        tag = t["tag"]
        p = prev.get(tag)
        parked = p is not None and abs(p[0] - t["x"]) + abs(p[1] - t["y"]) < 1e-6
        prev[tag] = (t["x"], t["y"])
        if tag not in times:
            continue
        i = int(np.searchsorted(times[tag], t["ts"], side="right")) - 1
        if i < 0:
            continue
        f = by_tag[tag][i]
        err.append(float(np.hypot(f["x"] - t["x"], f["y"] - t["y"])))
        lvl.append(f["level"] == t["level"])
        if t.get("room") is not None:
            ok = f["room"] == t["room"]
            room["parked" if parked else "moving"].append(ok)
            if parked:
                room["parked_gw" if t["room"] in gw_rooms else "parked_nogw"].append(ok)
        if parked:
            if tag in last_room and last_room[tag] != f["room"]:
                changes += 1
            parked_s += t["ts"] - last_ts.get(tag, t["ts"])
        last_room[tag] = f["room"]
        last_ts[tag] = t["ts"]
    e = np.asarray(err)
    return {
        "median_m": float(np.median(e)), "p75_m": float(np.percentile(e, 75)),
        "p95_m": float(np.percentile(e, 95)), "level": float(np.mean(lvl)),
        **{f"room_{k}": float(np.mean(v)) if v else float("nan") for k, v in room.items()},
        "changes_per_parked_h": changes / max(parked_s / 3600.0, 1e-9),
    }


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--assets", type=int, default=200)
    ap.add_argument("--minutes", type=float, default=30.0)
    ap.add_argument("--seed", type=int, default=1)
    ap.add_argument("--scenario", default="hospital-day",
                    help="simulator scenario (e.g. small-ward, the one tests/test_engine.py runs)")
    ap.add_argument("--layout", choices=("corridor", "room-level"), default="corridor",
                    help="gateway deployment: the shipped plan, or a gateway in every patient "
                         "room too")
    ap.add_argument("--radio-exponent", type=float, default=RadioMapParams().path_loss_exponent,
                    help="path-loss exponent of the radio map (default: the engine's)")
    ap.add_argument("--score-from-minutes", type=float, default=0.0,
                    help="score only truth lines this long after the start (the self-"
                         "calibration's warm-up still runs)")
    ap.add_argument("--window", type=float, default=None,
                    help="the engine's reading window, seconds (default: the engine's)")
    ap.add_argument("--exhaustive", action="store_true",
                    help="add a row with the radio map scoring every candidate cell (no "
                         "coarse-to-fine search)")
    ap.add_argument("--parked-every", type=float, action="append", default=[],
                    help="add a row with parked tags located every this many seconds (0: every "
                         "tick); repeatable")
    ap.add_argument("--no-multilateration", action="store_true",
                    help="skip the multilateration-only baseline (saves a third of the time)")
    args = ap.parse_args()
    site = (load_sample_site() if args.layout == "corridor"
            else generate_hospital(patient_room_gateways=True))
    gw_rooms = {g.room for g in site.gateways if g.room}
    t0 = time.time()
    readings, truth = simulate(args.assets, args.minutes, args.seed, site, args.scenario)
    print(f"simulated {len(readings)} readings, {len(truth)} truth lines "
          f"in {time.time() - t0:.0f} s")
    rows = []
    radio = EngineConfig(radio_map_params=RadioMapParams(path_loss_exponent=args.radio_exponent))
    if args.window is not None:
        radio = replace(radio, window_s=args.window)
    default_n = RadioMapParams().path_loss_exponent
    label = "radio map" + (" (default)" if args.radio_exponent == default_n
                           else f", exponent {args.radio_exponent:g}")
    engines = [(label, radio),
               (label + ", no self-calibration",
                replace(radio, autocal=replace(radio.autocal, enabled=False)))]
    if args.exhaustive:
        engines.insert(1, (label + ", every cell scored", replace(
            radio, radio_map_params=replace(radio.radio_map_params, refine_nats=None))))
    for k, every in enumerate(args.parked_every):
        engines.insert(1 + k, (label + (f", parked tags located every {every:g} s" if every
                                        else ", every tag located every tick"), replace(
            radio, cadence=replace(radio.cadence, parked_every_s=every))))
    if not args.no_multilateration:
        engines.append(("multilateration only", EngineConfig(radio_map=False)))
    start = min((t["ts"] for t in truth), default=0.0) + args.score_from_minutes * 60.0
    scored = [t for t in truth if t["ts"] >= start]
    for name, cfg in engines:
        engine = StreamingEngine(site, cfg)
        t0 = time.time()
        fixes = [d for frame in engine.run(readings) for d in frame.to_dicts()]
        s = score(fixes, scored, gw_rooms)
        rows.append((name, s, time.time() - t0))
    since = (f", scored from minute {args.score_from_minutes:g}" if args.score_from_minutes
             else "")
    print(f"\n{args.scenario}: {args.assets} assets, {args.minutes:g} simulated minutes, "
          f"seed {args.seed}, "
          f"{args.layout} layout ({len(site.gateways)} gateways){since}\n")
    print("| engine | median | p75 | p95 | level | room, parked | parked, room has gateway "
          "| parked, no gateway | room, moving | room changes / parked asset-hour |")
    print("|---|---|---|---|---|---|---|---|---|---|")
    for name, s, _dt in rows:
        print(f"| {name} | {s['median_m']:.2f} m | {s['p75_m']:.2f} m | {s['p95_m']:.2f} m "
              f"| {s['level']:.2%} | {s['room_parked']:.1%} | {s['room_parked_gw']:.1%} "
              f"| {s['room_parked_nogw']:.1%} | {s['room_moving']:.1%} "
              f"| {s['changes_per_parked_h']:.2f} |")


if __name__ == "__main__":
    main()
