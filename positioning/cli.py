"""``sporing locate``, ``sporing evaluate`` and ``sporing calibrate``."""

from __future__ import annotations

import argparse
import sys
from typing import Any

__all__ = ["register"]


def register(sub: Any) -> None:
    """Add the positioning subcommands to the ``sporing`` parser."""
    p = sub.add_parser("locate", help="run the streaming engine over a readings file")
    p.add_argument("readings", help="canonical readings, JSON lines")
    p.add_argument("--floorplan", required=True, help="site floor plan (native GeoJSON)")
    p.add_argument("-o", "--output", help="fixes as JSON lines (default: standard output)")
    p.add_argument("--tick", type=float, default=1.0, help="seconds between fixes (default 1)")
    p.set_defaults(handler=_locate)

    e = sub.add_parser("evaluate", help="score positions against ground truth")
    e.add_argument("--floorplan", required=True, help="site floor plan (native GeoJSON)")
    e.add_argument("--readings", required=True, help="canonical readings, JSON lines")
    e.add_argument("--truth", required=True, help="ground truth {ts, tag, x, y[, level, room]}")
    e.add_argument("--json", action="store_true", help="print one JSON object")
    e.add_argument("--fixes", help="also write the fixes computed here as JSON lines")
    e.set_defaults(handler=_evaluate)

    c = sub.add_parser("calibrate", help="fit per-gateway path loss from reference readings")
    c.add_argument("readings", help="canonical readings of reference tags, JSON lines")
    c.add_argument("--floorplan", required=True, help="site floor plan (native GeoJSON)")
    c.add_argument("--references", required=True,
                   help="JSON lines {tag, x, y, level} of the reference tags' known spots")
    c.add_argument("-o", "--output", help="write the calibrated floor plan here")
    c.add_argument("--min-samples", type=int, default=20)
    c.set_defaults(handler=_calibrate)


def _fail(msg: str) -> int:
    print(f"sporing: {msg}", file=sys.stderr)
    return 1


def _run_engine(floorplan: str, readings: str, tick: float) -> tuple[list[dict[str, Any]], Any]:
    from dataclasses import replace

    from floorplans.geojson import load_site
    from gateway.canonical import open_readings
    from positioning.engine import EngineConfig, StreamingEngine

    site, _problems = load_site(floorplan)
    engine = StreamingEngine(site, replace(EngineConfig(), tick_s=tick))
    errors: list[str] = []
    fixes: list[dict[str, Any]] = []
    for frame in engine.run(open_readings(readings, errors=errors)):
        fixes.extend(frame.to_dicts())
    for msg in errors[:20]:
        print(f"skipped: {msg}", file=sys.stderr)
    if len(errors) > 20:
        print(f"skipped: ... and {len(errors) - 20} more bad lines", file=sys.stderr)
    if engine.stats.unknown_gateway:
        print(f"skipped: {engine.stats.unknown_gateway} readings from gateways not in the "
              "floor plan", file=sys.stderr)
    return fixes, engine


def _locate(args: argparse.Namespace) -> int:
    import orjson

    from floorplans.problems import FloorplanError

    try:
        fixes, engine = _run_engine(args.floorplan, args.readings, args.tick)
    except (FloorplanError, OSError, ValueError) as exc:
        return _fail(str(exc))
    out = open(args.output, "wb") if args.output else sys.stdout.buffer  # noqa: SIM115
    try:
        for f in fixes:
            out.write(orjson.dumps(f) + b"\n")
    finally:
        if args.output:
            out.close()
    print(f"{len(fixes)} fixes of {len({f['tag'] for f in fixes})} tags from "
          f"{engine.stats.readings} readings", file=sys.stderr)
    return 0


def _evaluate(args: argparse.Namespace) -> int:
    import orjson

    from floorplans.problems import FloorplanError
    from positioning.evaluate import load_jsonl, score_fixes

    try:
        truth = load_jsonl(args.truth, ("ts", "tag", "x", "y"))
        fixes, engine = _run_engine(args.floorplan, args.readings, 1.0)
    except (FloorplanError, OSError, ValueError) as exc:
        return _fail(str(exc))
    if args.fixes:
        with open(args.fixes, "wb") as fh:
            for f in fixes:
                fh.write(orjson.dumps(f) + b"\n")
    score = score_fixes(fixes, truth, engine.index)
    if args.json:
        print(orjson.dumps(score.as_dict()).decode())
        return 0
    d = score.as_dict()
    width = max(len(k) for k in d)
    for k, v in d.items():
        print(f"{k:<{width}}  {v:.4g}" if isinstance(v, float) else f"{k:<{width}}  {v}")
    return 0


def _calibrate(args: argparse.Namespace) -> int:
    from positioning.selfcal import calibrate_command

    return int(calibrate_command(args))
