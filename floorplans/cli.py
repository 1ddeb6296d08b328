"""``sporing floorplan``: check, render, summarise and import floor plans.

Subcommands::

    sporing floorplan check FILE [--format native|imdf|osm]
    sporing floorplan render FILE --level L -o plan.svg
    sporing floorplan info FILE
    sporing floorplan import SRC -o site.geojson [--format imdf|osm] [--origin LAT,LON]

``FILE`` is a native ``.geojson``, an IMDF directory or ``.zip``, or an OSM Simple Indoor
Tagging GeoJSON; the format is detected unless ``--format`` says it.
"""

from __future__ import annotations

import argparse
import sys
from collections import Counter
from pathlib import Path
from typing import TYPE_CHECKING, Any, Literal

if TYPE_CHECKING:
    from floorplans.model import Georeference, Level, Site
    from floorplans.problems import Problem

__all__ = ["Format", "detect_format", "find_level", "load_any", "register"]

Format = Literal["native", "imdf", "osm"]
_FORMATS = ("native", "imdf", "osm")


def register(sub: argparse._SubParsersAction[argparse.ArgumentParser]) -> None:
    """Add the ``floorplan`` command and its subcommands to the ``sporing`` CLI."""
    fp = sub.add_parser("floorplan", help="check, render, inspect and import floor plans")
    fsub = fp.add_subparsers(dest="floorplan_command", metavar="SUBCOMMAND")
    fp.set_defaults(handler=lambda args: _usage(fp))

    check = fsub.add_parser("check", help="validate a floor plan; exit 1 on errors")
    check.add_argument("file", help="native .geojson, IMDF directory/.zip, or OSM GeoJSON")
    check.add_argument("--format", choices=_FORMATS, help="input format (default: detect)")
    check.set_defaults(handler=_check)

    render = fsub.add_parser("render", help="draw one level as SVG")
    render.add_argument("file")
    render.add_argument("--format", choices=_FORMATS)
    render.add_argument("--level", required=True, help="level id, ordinal or name")
    render.add_argument("-o", "--output", required=True, help="SVG file to write")
    render.add_argument("--width", type=int, default=1200, help="plan width in pixels")
    render.set_defaults(handler=_render)

    info = fsub.add_parser("info", help="count rooms, walls, doors, gateways per level")
    info.add_argument("file")
    info.add_argument("--format", choices=_FORMATS)
    info.set_defaults(handler=_info)

    imp = fsub.add_parser("import", help="convert IMDF or OSM to the native format")
    imp.add_argument("source")
    imp.add_argument("--format", choices=("imdf", "osm"))
    imp.add_argument("-o", "--output", required=True, help="native .geojson to write")
    imp.add_argument("--origin", help="local origin as LAT,LON (default: centre of the plan)")
    imp.add_argument("--rotation", type=float, default=0.0,
                     help="degrees clockwise from north to local +y (with --origin)")
    imp.set_defaults(handler=_import)


def _usage(parser: argparse.ArgumentParser) -> int:
    parser.print_help()
    return 2


def detect_format(path: str | Path) -> Format:
    """Guess the format of a floor-plan file or directory.

    Directories and ``.zip`` files are IMDF. A GeoJSON with ``sporing_format`` or native
    ``feature_type`` properties is native; one with IMDF ``feature_type`` members is IMDF
    (a single-file IMDF export is not supported: use the archive); otherwise OSM.
    """
    p = Path(path)
    if p.is_dir() or p.suffix.lower() == ".zip":
        return "imdf"
    import orjson

    try:
        obj = orjson.loads(p.read_bytes())
    except (OSError, orjson.JSONDecodeError):
        return "native"  # let the native loader report the precise error
    if not isinstance(obj, dict):
        return "native"
    if "sporing_format" in obj:
        return "native"
    feats = obj.get("features")
    for f in feats[:50] if isinstance(feats, list) else []:
        if isinstance(f, dict) and "feature_type" in (f.get("properties") or {}):
            return "native"
    return "osm"


def load_any(
    path: str | Path, fmt: Format | None = None, *, origin: Georeference | None = None
) -> tuple[Site, list[Problem]]:
    """Read a floor plan in any supported format.

    Args:
        path: The file or IMDF directory.
        fmt: The format, or None to detect it.
        origin: Georeference for IMDF/OSM imports (ignored for native files).

    Returns:
        The site and the problems met while reading or importing.

    Raises:
        FloorplanError: The input cannot be read at all.
    """
    kind = fmt or detect_format(path)
    if kind == "imdf":
        from floorplans.imdf import load_imdf

        return load_imdf(path, origin=origin)
    if kind == "osm":
        from floorplans.osm import load_osm

        return load_osm(path, origin=origin)
    from floorplans.geojson import load_site

    return load_site(path)


def _load(args: argparse.Namespace, path: str, origin: Georeference | None = None) -> Any:
    from floorplans.problems import FloorplanError

    try:
        return load_any(path, args.format, origin=origin)
    except FloorplanError as exc:
        print(f"error: {exc}", file=sys.stderr)
        for p in exc.problems:
            print(p, file=sys.stderr)
        return None


def _check(args: argparse.Namespace) -> int:
    from floorplans.validate import validate_site

    loaded = _load(args, args.file)
    if loaded is None:
        return 1
    site, problems = loaded
    problems = list(problems) + validate_site(site)
    for p in problems:
        print(p)
    n_err = sum(p.severity == "error" for p in problems)
    n_warn = len(problems) - n_err
    print(f"{args.file}: {len(site.levels)} levels, {len(site.rooms)} rooms, "
          f"{len(site.gateways)} gateways; {n_err} errors, {n_warn} warnings")
    return 1 if n_err else 0


def find_level(site: Site, key: str) -> Level:
    """The level named by id, by name (case-insensitive) or by ordinal.

    Raises:
        KeyError: No such level, or an ordinal shared by several buildings.
    """
    if site.has_level(key):
        return site.level(key)
    by_name = [lv for lv in site.levels if lv.name.casefold() == key.casefold()]
    if len(by_name) == 1:
        return by_name[0]
    try:
        ordinal = int(key)
    except ValueError:
        ordinal = None
    if ordinal is not None:
        matches = [lv for lv in site.levels if lv.ordinal == ordinal]
        if len(matches) == 1:
            return matches[0]
        if matches:
            ids = ", ".join(lv.id for lv in matches)
            raise KeyError(f"ordinal {ordinal} is ambiguous (levels {ids}); give a level id")
    known = ", ".join(f"{lv.id} ({lv.name}, ordinal {lv.ordinal})" for lv in site.levels)
    raise KeyError(f"no level {key!r}; levels: {known}")


def _render(args: argparse.Namespace) -> int:
    from floorplans.render import render_level_svg

    loaded = _load(args, args.file)
    if loaded is None:
        return 1
    site, _ = loaded
    try:
        level = find_level(site, args.level)
    except KeyError as exc:
        print(f"error: {exc.args[0]}", file=sys.stderr)
        return 1
    Path(args.output).write_text(render_level_svg(site, level.id, width_px=args.width),
                                 encoding="utf-8")
    print(f"wrote {args.output} (level {level.id}, {level.name})")
    return 0


def _info(args: argparse.Namespace) -> int:
    loaded = _load(args, args.file)
    if loaded is None:
        return 1
    site, _ = loaded
    print(f"site {site.id} ({site.name}): {len(site.buildings)} buildings, "
          f"{len(site.levels)} levels, {len(site.rooms)} rooms, {len(site.connectors)} connectors")
    if site.georeference is not None:
        g = site.georeference
        print(f"  georeference: origin {g.origin_lat:.7f}, {g.origin_lon:.7f}; "
              f"rotation {g.rotation_deg:g}°")
    for b in site.buildings:
        print(f"building {b.id} ({b.name})")
        for lv in site.levels_of(b.id):
            rooms = site.rooms_on(lv.id)
            doors = sum(1 for o in site.openings if o.level == lv.id)
            area = sum(r.polygon.area for r in rooms)
            print(f"  level {lv.id} ({lv.name}, ordinal {lv.ordinal}): {len(rooms)} rooms "
                  f"{area:,.0f} m², {len(site.walls_on(lv.id))} walls, {doors} doors, "
                  f"{len(site.gateways_on(lv.id))} gateways; outline {lv.outline.area:,.0f} m²")
            cats = Counter(r.category for r in rooms)
            if cats:
                print("    " + ", ".join(f"{c} {n}" for c, n in sorted(cats.items())))
    return 0


def _parse_origin(text: str, rotation: float) -> Georeference:
    from floorplans.model import Georeference

    parts = text.split(",")
    if len(parts) != 2:
        raise ValueError(f"--origin must be LAT,LON, got {text!r}")
    lat, lon = float(parts[0]), float(parts[1])
    if not (-90 <= lat <= 90 and -180 <= lon <= 180):
        raise ValueError(f"--origin {text!r} is not a valid latitude,longitude")
    return Georeference(origin_lat=lat, origin_lon=lon, rotation_deg=rotation)


def _import(args: argparse.Namespace) -> int:
    from floorplans.geojson import dump_site

    origin = None
    if args.origin:
        try:
            origin = _parse_origin(args.origin, args.rotation)
        except ValueError as exc:
            print(f"error: {exc}", file=sys.stderr)
            return 2
    if args.format is None and detect_format(args.source) == "native":
        print(f"error: {args.source} is already in the native format", file=sys.stderr)
        return 2
    loaded = _load(args, args.source, origin)
    if loaded is None:
        return 1
    site, problems = loaded
    for p in problems:
        print(p)
    dump_site(site, args.output)
    print(f"wrote {args.output}: {len(site.levels)} levels, {len(site.rooms)} rooms, "
          f"{len(site.walls)} walls, {len(site.openings)} openings, "
          f"{len(site.connectors)} connectors")
    return 0
