"""``sporing simulate``, ``sporing record`` and ``sporing replay``."""

from __future__ import annotations

import argparse
import dataclasses
import re
import sys
from pathlib import Path
from typing import Any

__all__ = ["parse_duration", "register"]

_UNITS = {"s": 1.0, "m": 60.0, "h": 3600.0, "d": 86400.0}


def parse_duration(text: str) -> float:
    """``90``, ``90s``, ``15m``, ``1h``, ``1.5d`` → seconds.

    Raises:
        argparse.ArgumentTypeError: not a positive duration.
    """
    m = re.fullmatch(r"\s*([0-9]*\.?[0-9]+)\s*([smhd]?)\s*", text)
    if not m or float(m.group(1)) <= 0:
        raise argparse.ArgumentTypeError(f"invalid duration {text!r} (e.g. 90s, 15m, 1h, 2d)")
    return float(m.group(1)) * _UNITS[m.group(2) or "s"]


def register(sub: Any) -> None:
    """Add the simulator's subcommands to the ``sporing`` parser."""
    from simulator.formats.registry import FORMATS

    p = sub.add_parser("simulate", help="simulate hospital tag traffic with ground truth")
    p.add_argument("--scenario", help="named scenario or TOML file")
    p.add_argument("--floorplan", help="floor plan (GeoJSON); default: the sample hospital")
    p.add_argument("--assets", type=int, help="number of assets")
    p.add_argument("--duration", type=parse_duration, help="simulated time (e.g. 1h)")
    p.add_argument("--seed", type=int, help="random seed")
    p.add_argument("--format", choices=FORMATS, help="gateway payload format (MQTT)")
    p.add_argument("--mqtt", help="broker URL (mqtt://host:1883); publishes instead of --out")
    p.add_argument("--qos", type=int, choices=(0, 1, 2), default=0)
    p.add_argument("--prefix", default="", help="topic prefix for MQTT")
    p.add_argument("--out", type=Path, help="canonical readings JSON lines ('-' = stdout)")
    p.add_argument("--truth", type=Path, help="ground truth JSON lines")
    p.add_argument("--truth-every", type=float, default=10.0,
                   help="seconds between full ground-truth snapshots (moving assets: every step)")
    p.add_argument("--speed", type=float, default=0.0,
                   help="1 = real time, 60 = one minute per second, 0 = as fast as possible")
    p.set_defaults(handler=_simulate)

    r = sub.add_parser("record", help="record MQTT traffic into a capture file")
    r.add_argument("--mqtt", required=True, help="broker URL")
    r.add_argument("--topic", default="#")
    r.add_argument("-o", "--out", type=Path, required=True)
    r.add_argument("--duration", type=parse_duration)
    r.add_argument("--count", type=int)
    r.set_defaults(handler=_record)

    q = sub.add_parser("replay", help="publish a capture file to a broker")
    q.add_argument("capture", type=Path)
    q.add_argument("--mqtt", required=True, help="broker URL")
    q.add_argument("--speed", type=float, default=1.0, help="0 = as fast as possible")
    q.add_argument("--qos", type=int, choices=(0, 1, 2), default=0)
    q.add_argument("--prefix", default="", help="prepended to every topic (e.g. 'site-a/')")
    q.set_defaults(handler=_replay)


def _err(msg: str) -> int:
    print(f"sporing: error: {msg}", file=sys.stderr)
    return 2


def _simulate(args: argparse.Namespace) -> int:
    from floorplans.geojson import load_site
    from floorplans.problems import FloorplanError
    from floorplans.sample import load_sample_site
    from simulator.config import ConfigError, Scenario, load_scenario

    try:
        scen, src = load_scenario(args.scenario) if args.scenario else (Scenario(), None)
    except ConfigError as exc:
        return _err(str(exc))
    changes: dict[str, Any] = {}
    for arg, key in (("assets", "assets"), ("duration", "duration_s"), ("seed", "seed"),
                     ("format", "format")):
        if getattr(args, arg) is not None:
            changes[key] = getattr(args, arg)
    scen = dataclasses.replace(scen, **changes)
    if args.speed < 0:
        return _err("--speed must be >= 0")
    plan = args.floorplan or scen.floorplan
    try:
        if plan:
            path = Path(plan)
            if not path.is_absolute() and src is not None and not args.floorplan:
                path = src.parent / path
            site, _problems = load_site(path)
        else:
            site = load_sample_site()
    except (OSError, ValueError, FloorplanError) as exc:
        return _err(f"cannot load floor plan {plan!r}: {exc}")
    from simulator.engine import Simulation
    from simulator.run import run_to_files, run_to_mqtt

    try:
        sim = Simulation(site, scen)
    except ValueError as exc:
        return _err(str(exc))
    if args.mqtt:
        try:
            n = run_to_mqtt(sim, args.mqtt, fmt=scen.format, speed=args.speed, qos=args.qos,
                            prefix=args.prefix, truth=args.truth, truth_every_s=args.truth_every)
        except (ConnectionError, ValueError) as exc:
            return _err(str(exc))
        print(f"published {n} messages", file=sys.stderr)
        return 0
    if args.out is None:
        return _err("give --out FILE (or '-') or --mqtt URL")
    n = run_to_files(sim, args.out, args.truth, speed=args.speed,
                     truth_every_s=args.truth_every)
    print(f"wrote {n} readings", file=sys.stderr)
    return 0


def _record(args: argparse.Namespace) -> int:
    from simulator.mqtt import record

    if args.duration is None and args.count is None:
        return _err("give --duration or --count")
    try:
        n = record(args.mqtt, args.topic, args.out, duration_s=args.duration, count=args.count)
    except (ConnectionError, ValueError) as exc:
        return _err(str(exc))
    print(f"recorded {n} messages to {args.out}", file=sys.stderr)
    return 0


def _replay(args: argparse.Namespace) -> int:
    from gateway.errors import PayloadError
    from simulator.mqtt import connect, pace, publish_all, replay_groups

    if not args.capture.exists():
        return _err(f"capture file {str(args.capture)!r} does not exist")
    try:
        client = connect(args.mqtt)
    except (ConnectionError, ValueError) as exc:
        return _err(str(exc))
    try:
        n = publish_all(client, pace(replay_groups(args.capture, prefix=args.prefix), args.speed),
                        qos=args.qos)
    except PayloadError as exc:
        return _err(str(exc))
    finally:
        client.loop_stop()
        client.disconnect()
    print(f"replayed {n} messages", file=sys.stderr)
    return 0
